// dagd::Client: the C++ client of the JobService API.
//
// Written against JobService::StubInterface so tests inject the generated
// MockJobServiceStub; Connect() builds the real stub. Every call returns the
// server's status converted to absl (same code, same message): the server's
// INVALID_ARGUMENT names the task and the problem, UNAVAILABLE means it could
// not be reached and is worth retrying.
//
// Thread-safe: the stub is, and the Client holds no other mutable state.
#ifndef DAGD_CLIENT_CLIENT_H_
#define DAGD_CLIENT_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "dagd/v1/job_service.grpc.pb.h"

namespace dagd {

struct ClientOptions {
  // Deadline of each unary call; InfiniteDuration() for none.
  absl::Duration call_timeout = absl::Seconds(30);
  // Deadline of a whole Watch()/Wait(). None by default: jobs may run for
  // days, and the stream is idle while a long task runs.
  absl::Duration watch_timeout = absl::InfiniteDuration();
};

class Client {
 public:
  using EventCallback = std::function<void(const v1::JobEvent&)>;

  explicit Client(std::unique_ptr<v1::JobService::StubInterface> stub,
                  ClientOptions options = {});

  // An insecure channel to `address` ("host:port"). Connects lazily: an
  // unreachable server shows up as UNAVAILABLE on the first call. Messages
  // up to 256 MiB each way, so large jobs and results fit.
  static std::unique_ptr<Client> Connect(const std::string& address,
                                         ClientOptions options = {});

  // Submits `job` and returns its id. A non-empty `request_id` makes a retry
  // safe: the server returns the job the first submission created.
  absl::StatusOr<std::string> Submit(const v1::JobSpec& job,
                                     const std::string& request_id = "");
  // As Submit, with the whole response (it says whether the job existed).
  absl::StatusOr<v1::SubmitJobResponse> SubmitJob(
      const v1::SubmitJobRequest& request);
  // Submits `job` and returns once it has finished: the response carries
  // its final status. One call instead of Submit and Wait, and one fsync on
  // the server instead of two; bounded by watch_timeout, like Wait.
  absl::StatusOr<v1::SubmitJobResponse> SubmitAndWait(
      const v1::JobSpec& job, const std::string& request_id = "");

  absl::StatusOr<v1::JobStatus> Get(const std::string& job_id);
  // page_size 0: the server's default. Pass the previous response's
  // next_page_token to continue.
  absl::StatusOr<v1::ListJobsResponse> ListJobs(
      uint32_t page_size = 0, const std::string& page_token = "");

  // Streams the job's events to `on_event` (called on this thread: the
  // snapshot first, then task events, the `finished` event last) and
  // returns the final status. A stream that ends before `finished` (the
  // server went away) is UNAVAILABLE.
  absl::StatusOr<v1::JobStatus> Watch(const std::string& job_id,
                                      const EventCallback& on_event);
  // Blocks until the job ends; returns its final status.
  absl::StatusOr<v1::JobStatus> Wait(const std::string& job_id);

  // `cancelled` is false when the job had already finished (in `state`).
  absl::StatusOr<v1::CancelJobResponse> Cancel(const std::string& job_id);
  // Deletes a finished job and everything stored about it; returns once
  // the deletion is durable. FAILED_PRECONDITION if the job has not
  // finished (cancel it first), NOT_FOUND if there is no such job.
  absl::Status DeleteJob(const std::string& job_id);
  absl::StatusOr<v1::TaskStatus> Task(const std::string& job_id,
                                      const std::string& task_id);
  absl::StatusOr<v1::ListTasksResponse> ListTasks(const std::string& job_id);
  absl::StatusOr<v1::GetResultResponse> Result(const std::string& job_id,
                                               const std::string& task_id);
  // Streams a result of any size: `on_chunk` gets each chunk in order (the
  // first carries the content type and total size); an error it returns
  // ends the stream. After an error (DATA_LOSS: the object did not match
  // its CRC-32C) discard what was received.
  using ChunkCallback = std::function<absl::Status(const v1::ResultChunk&)>;
  absl::Status ReadResult(const std::string& job_id, const std::string& task_id,
                          const ChunkCallback& on_chunk);
  absl::StatusOr<v1::ListWorkersResponse> ListWorkers();

 private:
  template <typename Request, typename Response>
  using UnaryMethod = grpc::Status (v1::JobService::StubInterface::*)(
      grpc::ClientContext*, const Request&, Response*);

  // Runs one unary call with the configured deadline.
  template <typename Request, typename Response>
  absl::StatusOr<Response> Call(UnaryMethod<Request, Response> method,
                                const Request& request);

  // Constant after construction.
  const std::unique_ptr<v1::JobService::StubInterface> stub_;
  const ClientOptions options_;
};

}  // namespace dagd

#endif  // DAGD_CLIENT_CLIENT_H_
