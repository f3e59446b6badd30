// dagd::Client: the C++ client of the JobService API.
//
// Written against JobService::StubInterface so tests inject the generated
// MockJobServiceStub; Connect() builds the real stub. Every call returns the
// server's status converted to absl (same code, same message): the server's
// INVALID_ARGUMENT names the task and the problem, UNAVAILABLE means it could
// not be reached and is worth retrying.
//
// Riding through a restart of dagd (kill -9, upgrade, a rescheduled pod):
// - Unary calls wait for a coordinator that cannot be reached yet, up to
//   their deadline (gRPC wait-for-ready), instead of failing at once.
// - A submission with a request_id is sent again, with the same id, when
//   the connection breaks before the answer: dagd returns the job the first
//   try created, if it got that far, so the job exists once.
// - Watch, Wait and SubmitAndWait reconnect when the coordinator is lost,
//   for up to reconnect_timeout per outage, and go on from the job's
//   current state; each loss and return is reported to an optional
//   ConnectionCallback (client/reconnect.h).
//
// Thread-safe: the stub and the channel are, and the Client holds no other
// mutable state.
#ifndef DAGD_CLIENT_CLIENT_H_
#define DAGD_CLIENT_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/reconnect.h"
#include "dagd/v1/job_service.grpc.pb.h"

namespace dagd {

struct ClientOptions {
  // Deadline of each unary call; InfiniteDuration() for none.
  absl::Duration call_timeout = absl::Seconds(30);
  // Deadline of a whole Watch()/Wait(). None by default: jobs may run for
  // days, and the stream is idle while a long task runs.
  absl::Duration watch_timeout = absl::InfiniteDuration();
  // How long Watch, Wait and SubmitAndWait keep trying to reach a
  // coordinator they lost (or could not reach at first), per outage, before
  // they give up with UNAVAILABLE. Zero: give up at once.
  absl::Duration reconnect_timeout = absl::Seconds(60);
  // Unary calls wait for an unreachable coordinator until their deadline
  // (gRPC wait-for-ready). False: they fail at once with UNAVAILABLE.
  bool wait_for_ready = true;
  // A bearer token for dagd's --tokens_file, sent with every call; empty:
  // none.
  std::string token;
  // Connect() over TLS, checking dagd's certificate against these PEM root
  // certificates (dagd's --tls_cert's CA; empty: the system's roots).
  bool tls = false;
  std::string tls_root_certs;
  // With tls: a PEM client certificate (and its key) to present, for a
  // dagd whose --tokens_file names it (`cert:COMMON-NAME ...`) and whose
  // --worker_ca signed it; empty: none (a token says who calls).
  std::string tls_cert_chain;
  std::string tls_private_key;
  // The clock that reconnection deadlines are measured on, and the pause
  // between attempts; tests replace both. Called from every thread that
  // uses the Client, so they must be thread-safe (the defaults are).
  std::function<absl::Time()> now = [] { return absl::Now(); };
  std::function<void(absl::Duration)> sleep = [](absl::Duration d) {
    absl::SleepFor(d);
  };
};

// OK when `token` can be sent in a header (printable ASCII); else
// INVALID_ARGUMENT saying why (a line break read with it, say). Every call
// of a Client whose ClientOptions::token is not fails so.
absl::Status CheckToken(absl::string_view token);

class Client {
 public:
  using EventCallback = std::function<void(const v1::JobEvent&)>;

  // `channel`, when given, is the one `stub` uses: with it, a unary call
  // that timed out while the channel never connected says the coordinator
  // was unreachable (UNAVAILABLE) rather than slow (DEADLINE_EXCEEDED).
  explicit Client(std::unique_ptr<v1::JobService::StubInterface> stub,
                  ClientOptions options = {},
                  std::shared_ptr<grpc::ChannelInterface> channel = nullptr);

  // A channel to `address` ("host:port"), over TLS when options.tls, else
  // in plain text. Connects lazily, and
  // again after a lost connection, retrying from kInitialRetryPause up to
  // every kMaxRetryPause. Receives messages up to 256 MiB, so large
  // results fit; sends any size, the dagd's --max_job_bytes deciding.
  static std::unique_ptr<Client> Connect(const std::string& address,
                                         ClientOptions options = {});

  // Submits `job` and returns its id. A non-empty `request_id` makes a retry
  // safe: the server returns the job the first submission created. With
  // one, a call whose connection breaks is sent again with the same id
  // until call_timeout has passed; without one it is not (it could make a
  // second job), and UNAVAILABLE leaves it unknown whether the job exists.
  absl::StatusOr<std::string> Submit(const v1::JobSpec& job,
                                     const std::string& request_id = "");
  // As Submit, with the whole response (it says whether the job existed:
  // after a retry, `existing` may be the lost try's own job).
  absl::StatusOr<v1::SubmitJobResponse> SubmitJob(
      const v1::SubmitJobRequest& request,
      const ConnectionCallback& on_connection = nullptr);
  // Submits `job` and returns once it has finished: the response carries
  // its final status. One call instead of Submit and Wait, and one fsync on
  // the server instead of two; bounded by watch_timeout, like Wait. With a
  // `request_id`, a lost coordinator is waited for (reconnect_timeout):
  // the submission is sent again with that id, then the job is waited for.
  absl::StatusOr<v1::SubmitJobResponse> SubmitAndWait(
      const v1::JobSpec& job, const std::string& request_id = "",
      const ConnectionCallback& on_connection = nullptr);

  absl::StatusOr<v1::JobStatus> Get(const std::string& job_id);
  // page_size 0: the server's default. Pass the previous response's
  // next_page_token to continue.
  absl::StatusOr<v1::ListJobsResponse> ListJobs(
      uint32_t page_size = 0, const std::string& page_token = "");

  // Streams the job's events to `on_event` (called on this thread: the
  // snapshot first, then task events, the `finished` event last) and
  // returns the final status. When the coordinator is lost (the stream
  // breaks or ends before `finished`, or it cannot be reached), Watch
  // reports it to `on_connection`, waits for the coordinator to answer
  // again (up to reconnect_timeout) and watches on: `on_event` then gets a
  // new snapshot, the job's state now, and the events after it; so too when
  // dagd closed the stream (RESOURCE_EXHAUSTED) because `on_event` fell 8
  // MiB behind. Past reconnect_timeout it returns UNAVAILABLE; past
  // watch_timeout in all, DEADLINE_EXCEEDED.
  absl::StatusOr<v1::JobStatus> Watch(
      const std::string& job_id, const EventCallback& on_event,
      const ConnectionCallback& on_connection = nullptr);
  // Blocks until the job ends; returns its final status. Rides through a
  // lost coordinator as Watch does.
  absl::StatusOr<v1::JobStatus> Wait(
      const std::string& job_id,
      const ConnectionCallback& on_connection = nullptr);

  // `cancelled` is false when the job had already finished (in `state`).
  absl::StatusOr<v1::CancelJobResponse> Cancel(const std::string& job_id);
  // Deletes a finished job and everything stored about it; returns once
  // the deletion is durable. FAILED_PRECONDITION if the job has not
  // finished (cancel it first), NOT_FOUND if there is no such job.
  absl::Status DeleteJob(const std::string& job_id);
  absl::StatusOr<v1::TaskStatus> Task(const std::string& job_id,
                                      const std::string& task_id);
  // Every task, in job order, read a page (kTasksPageSize) at a time: of a
  // running job, later pages are read later than earlier ones.
  absl::StatusOr<v1::ListTasksResponse> ListTasks(const std::string& job_id);
  static constexpr uint32_t kTasksPageSize = 10'000;
  absl::StatusOr<v1::GetResultResponse> Result(const std::string& job_id,
                                               const std::string& task_id);
  // Streams a result of any size: `on_chunk` gets each chunk in order (the
  // first carries the content type and total size); an error it returns
  // ends the stream. After an error (DATA_LOSS: the object did not match
  // its CRC-32C, or the stream's bytes did not add up to the size the first
  // chunk announced) discard what was received.
  using ChunkCallback = std::function<absl::Status(const v1::ResultChunk&)>;
  absl::Status ReadResult(const std::string& job_id, const std::string& task_id,
                          const ChunkCallback& on_chunk);
  absl::StatusOr<v1::ListWorkersResponse> ListWorkers();

 private:
  template <typename Request, typename Response>
  using UnaryMethod = grpc::Status (v1::JobService::StubInterface::*)(
      grpc::ClientContext*, const Request&, Response*);

  // Sets `context`'s deadline (none for InfiniteFuture) and token; the
  // token's error (CheckToken) instead of sending what gRPC would abort on.
  absl::Status Prepare(grpc::ClientContext& context, absl::Time deadline) const;
  // Runs one unary call with the configured deadline.
  template <typename Request, typename Response>
  absl::StatusOr<Response> Call(UnaryMethod<Request, Response> method,
                                const Request& request);
  // Runs one unary call that must end by `deadline`, waiting for the
  // channel if options_.wait_for_ready.
  template <typename Request, typename Response>
  absl::StatusOr<Response> CallUntil(UnaryMethod<Request, Response> method,
                                     const Request& request,
                                     absl::Time deadline);
  // Sends `request` (with a request_id) until it is answered, again after
  // each connection loss, pausing as `outage` says.
  absl::StatusOr<v1::SubmitJobResponse> SubmitRetrying(
      const v1::SubmitJobRequest& request, absl::Time deadline, Outage& outage);
  // Watch and Wait: streams until `finished`, reconnecting.
  absl::StatusOr<v1::JobStatus> Follow(const std::string& job_id,
                                       const EventCallback& on_event,
                                       const ConnectionCallback& on_connection,
                                       absl::Time deadline);
  // One WatchJob stream, fail-fast: a coordinator that cannot be reached
  // is UNAVAILABLE at once, so Follow's own bounded wait takes over.
  absl::StatusOr<v1::JobStatus> WatchOnce(const std::string& job_id,
                                          bool end_only,
                                          const EventCallback& on_event,
                                          absl::Time deadline);
  // After a loss: asks for the job (wait-for-ready) until the coordinator
  // answers, pausing between failed tries. OK once it answered.
  absl::Status AwaitCoordinator(const std::string& job_id, absl::Time deadline,
                                Outage& outage);
  // Before a stream whose deadline is far off: waits up to call_timeout for
  // the channel to connect, as a unary call would (no-op without a channel
  // or with wait_for_ready off). UNAVAILABLE if it did not.
  absl::Status AwaitChannel();
  Outage NewOutage(absl::Duration budget, absl::Time deadline,
                   const ConnectionCallback& on_connection) const;
  absl::Time DeadlineAfter(absl::Duration timeout) const;

  // Constant after construction.
  const std::unique_ptr<v1::JobService::StubInterface> stub_;
  const ClientOptions options_;
  const std::shared_ptr<grpc::ChannelInterface> channel_;  // may be null
};

}  // namespace dagd

#endif  // DAGD_CLIENT_CLIENT_H_
