#ifndef DAGD_SERVER_GRPC_SERVICES_H_
#define DAGD_SERVER_GRPC_SERVICES_H_

#include <atomic>

#include "absl/status/status.h"
#include "dagd/v1/job_service.grpc.pb.h"
#include "dagd/v1/worker_service.grpc.pb.h"
#include "grpcpp/grpcpp.h"
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
class JobServiceImpl : public v1::JobService::CallbackService {
 public:
  // `observer` may be null.
  JobServiceImpl(Coordinator* coordinator, RpcObserver* observer)
      : coordinator_(coordinator), observer_(observer) {}

  // Refuse new submissions (the process is stopping).
  void StopAccepting() { accepting_ = false; }

  grpc::ServerUnaryReactor* SubmitJob(grpc::CallbackServerContext* context,
                                      const v1::SubmitJobRequest* request,
                                      v1::SubmitJobResponse* response) override;
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

  Coordinator* const coordinator_;
  RpcObserver* const observer_;
  std::atomic<bool> accepting_{true};
};

// WorkerService: one reactor per worker stream (see WorkerReactor in the
// .cc file).
class WorkerServiceImpl : public v1::WorkerService::CallbackService {
 public:
  explicit WorkerServiceImpl(Coordinator* coordinator)
      : coordinator_(coordinator) {}

  grpc::ServerBidiReactor<v1::WorkerMessage, v1::CoordinatorMessage>* Connect(
      grpc::CallbackServerContext* context) override;

 private:
  Coordinator* const coordinator_;
};

}  // namespace dagd

#endif  // DAGD_SERVER_GRPC_SERVICES_H_
