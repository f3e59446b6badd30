#ifndef DAGD_SERVER_GRPC_SERVICES_H_
#define DAGD_SERVER_GRPC_SERVICES_H_

#include <atomic>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "dagd/v1/job_service.grpc.pb.h"
#include "dagd/v1/worker_service.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "server/auth/authenticator.h"
#include "server/auth/standing_caller.h"
#include "server/coordinator.h"

namespace dagd {

grpc::Status ToGrpcStatus(const absl::Status& status);

// Told of every finished JobService call, for metrics. Called from gRPC
// threads; must be thread-safe and must not block.
class RpcObserver {
 public:
  virtual ~RpcObserver() = default;
  virtual void OnRpcDone(absl::string_view method, grpc::StatusCode code) = 0;
};

// JobService as an adapter: each call becomes a Coordinator event and is
// answered from the loop thread; nothing here blocks or touches scheduler
// state. While draining, submissions get UNAVAILABLE.
//
// Every call is authenticated first (UNAUTHENTICATED) and needs a role
// (PERMISSION_DENIED): read for the queries, submit for SubmitJob,
// CancelJob and DeleteJob. A job of another tenant is answered as if it did
// not exist (NOT_FOUND), except to admins; submissions, cancels and
// deletions are written to the log with the caller's name ("audit:").
//
// SubmitJob takes its request encoded and reads it task by task
// (ReadSubmission) instead of having gRPC parse it whole.
class JobServiceImpl : public v1::JobService::WithRawCallbackMethod_SubmitJob<
                           v1::JobService::CallbackService> {
 public:
  // `observer` may be null.
  JobServiceImpl(Coordinator* coordinator, const Authenticator* authenticator,
                 RpcObserver* observer)
      : coordinator_(coordinator),
        authenticator_(authenticator),
        observer_(observer) {}

  // GetResult calls answered at once; more get RESOURCE_EXHAUSTED.
  static constexpr int kMaxGetResults = 8;

  // Refuse new submissions (the process is stopping).
  void StopAccepting() { accepting_ = false; }

  grpc::ServerUnaryReactor* SubmitJob(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetJob(grpc::CallbackServerContext* context,
                                   const v1::GetJobRequest* request,
                                   v1::JobStatus* response) override;
  grpc::ServerUnaryReactor* ListJobs(grpc::CallbackServerContext* context,
                                     const v1::ListJobsRequest* request,
                                     v1::ListJobsResponse* response) override;
  grpc::ServerWriteReactor<v1::JobEvent>* WatchJob(
      grpc::CallbackServerContext* context,
      const v1::WatchJobRequest* request) override;
  grpc::ServerUnaryReactor* CancelJob(grpc::CallbackServerContext* context,
                                      const v1::CancelJobRequest* request,
                                      v1::CancelJobResponse* response) override;
  grpc::ServerUnaryReactor* GetTask(grpc::CallbackServerContext* context,
                                    const v1::GetTaskRequest* request,
                                    v1::TaskStatus* response) override;
  grpc::ServerUnaryReactor* ListTasks(grpc::CallbackServerContext* context,
                                      const v1::ListTasksRequest* request,
                                      v1::ListTasksResponse* response) override;
  grpc::ServerUnaryReactor* GetResult(grpc::CallbackServerContext* context,
                                      const v1::GetResultRequest* request,
                                      v1::GetResultResponse* response) override;
  grpc::ServerWriteReactor<v1::ResultChunk>* ReadResult(
      grpc::CallbackServerContext* context,
      const v1::GetResultRequest* request) override;
  grpc::ServerUnaryReactor* ListWorkers(
      grpc::CallbackServerContext* context,
      const v1::ListWorkersRequest* request,
      v1::ListWorkersResponse* response) override;
  grpc::ServerUnaryReactor* DeleteJob(grpc::CallbackServerContext* context,
                                      const v1::DeleteJobRequest* request,
                                      v1::DeleteJobResponse* response) override;

 private:
  template <typename Response>
  Coordinator::Reply<Response> Answer(const char* method,
                                      grpc::ServerUnaryReactor* reactor,
                                      Response* response);
  // Answer, for a response sent encoded.
  Coordinator::Reply<v1::SubmitJobResponse> AnswerEncoded(
      const char* method, grpc::ServerUnaryReactor* reactor,
      grpc::ByteBuffer* response);
  // Answers a call with `call(caller, done)` once the caller is known to
  // have the role `needed`; with the refusal otherwise (logged as action
  // `audit` on job `job_id` when given, for a caller known but refused).
  template <typename Response, typename Call>
  grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* context,
                                  const char* method, Role needed,
                                  Response* response, Call call,
                                  const char* audit = nullptr,
                                  absl::string_view job_id = "");
  // Unary, and only when the caller may also see job `job_id` (which must
  // outlive the call: a field of the request). With `audit`, the outcome
  // is logged as that action by the caller, refusals included.
  template <typename Response, typename Call>
  grpc::ServerUnaryReactor* OnJob(grpc::CallbackServerContext* context,
                                  const char* method, Role needed,
                                  const std::string& job_id, Response* response,
                                  Call call, const char* audit = nullptr);
  // Who is calling, if they may do what `needed` allows. With `audit`, a
  // caller known but refused for its role is logged as that action.
  absl::StatusOr<Principal> Caller(grpc::CallbackServerContext* context,
                                   const char* method, Role needed,
                                   const char* audit = nullptr,
                                   absl::string_view job_id = "") const;
  // Caller, for a stream: checked again as the tokens file changes.
  absl::StatusOr<StandingCaller> StreamCaller(
      grpc::CallbackServerContext* context, const char* method,
      Role needed) const;
  // Calls `then` with OK if `caller` may see job `job_id`, else with its
  // NOT_FOUND (or the error of looking the job up).
  void IfVisible(const Principal& caller, const std::string& job_id,
                 absl::AnyInvocable<void(absl::Status)> then);

  Coordinator* const coordinator_;
  const Authenticator* const authenticator_;
  RpcObserver* const observer_;
  std::atomic<bool> accepting_{true};
  std::atomic<int> get_results_{0};  // GetResult calls in flight
};

struct WorkerServiceOptions {
  // dagd's --worker_ca: a stream whose peer presented no verified client
  // certificate is refused with UNAUTHENTICATED; the certificate's common
  // name is the worker's name, and one worker at a time may use it.
  bool require_certificates = false;
  // A worker whose stream has not taken the message in flight for this
  // long when it sends a heartbeat is dropped, and its tasks run elsewhere
  // (it heartbeats but does not read its assignments).
  absl::Duration max_stall = absl::Seconds(30);
  // Messages queued for one worker beyond this end its stream.
  uint64_t max_queued_bytes = uint64_t{256} << 20;
  // What one worker's stream has posted to the scheduler's thread and is
  // not yet handled: beyond this its next read waits (ReadGate).
  uint64_t max_posted_bytes = uint64_t{64} << 20;
  // The tokens file: a certificate one of its `cert:` lines names is a
  // client's, refused as a worker. Null: none (not owned).
  const Authenticator* clients = nullptr;
};

// WorkerService: one reactor per worker stream (see WorkerReactor in the
// .cc file).
class WorkerServiceImpl : public v1::WorkerService::CallbackService {
 public:
  WorkerServiceImpl(Coordinator* coordinator, WorkerServiceOptions options)
      : coordinator_(coordinator), options_(options) {}

  grpc::ServerBidiReactor<v1::WorkerMessage, v1::CoordinatorMessage>* Connect(
      grpc::CallbackServerContext* context) override;

  // A stream registering worker process `instance` under certificate name
  // `name`: false when another process holds the name on a stream still
  // open. The same process may hold it on several (it reconnected while
  // dagd still has its older stream, half open; the newer replaces it).
  bool ClaimIdentity(const std::string& name, const std::string& instance);
  // Called by a reactor that claimed identity `name` when it ends.
  void ReleaseIdentity(const std::string& name);

 private:
  struct Claim {
    std::string instance;
    int streams = 0;
  };
  Coordinator* const coordinator_;
  const WorkerServiceOptions options_;
  absl::Mutex mu_;
  // By certificate name: the worker process connected now under it.
  absl::flat_hash_map<std::string, Claim> identities_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dagd

#endif  // DAGD_SERVER_GRPC_SERVICES_H_
