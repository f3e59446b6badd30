#include "server/grpc_services.h"

#include <memory>
#include <string>
#include <utility>

#include "server/stream_writer.h"

namespace dagd {
namespace {

// Streams one job's events to a WatchJob caller.
class WatchReactor : public grpc::ServerWriteReactor<v1::JobEvent> {
 public:
  // `observer` may be null.
  WatchReactor(Coordinator* coordinator, RpcObserver* observer,
               const v1::WatchJobRequest& request)
      : coordinator_(coordinator),
        observer_(observer),
        sink_(std::make_shared<Sink>(this)) {
    coordinator_->Watch(request.job_id(), request.end_only(), sink_);
  }

  void OnWriteDone(bool ok) override { sink_->writer.WriteDone(ok); }
  void OnCancel() override {
    sink_->writer.FinishAfterWrites(
        grpc::Status(grpc::StatusCode::CANCELLED, "watch cancelled"));
  }
  void OnDone() override {
    if (observer_ != nullptr) {
      observer_->OnRpcDone("WatchJob", sink_->writer.finish_code());
    }
    sink_->writer.Detach();
    coordinator_->Unwatch(sink_);
    delete this;
  }

 private:
  struct Sink : WatchSink {
    explicit Sink(WatchReactor* reactor) : writer(reactor) {}
    void Send(v1::JobEvent event) override {
      const bool last = event.has_finished();
      writer.Push(std::move(event));
      if (last) writer.FinishAfterWrites(grpc::Status::OK);
    }
    void Fail(absl::Status status) override {
      writer.FinishAfterWrites(ToGrpcStatus(status));
    }
    StreamWriter<WatchReactor, v1::JobEvent> writer;
  };

  Coordinator* const coordinator_;
  RpcObserver* const observer_;
  const std::shared_ptr<Sink> sink_;
};

// One worker's stream: the first message must be Register; every later one
// is posted to the coordinator as it arrives.
class WorkerReactor : public grpc::ServerBidiReactor<v1::WorkerMessage,
                                                     v1::CoordinatorMessage> {
 public:
  WorkerReactor(Coordinator* coordinator, std::string peer)
      : coordinator_(coordinator),
        peer_(std::move(peer)),
        sink_(std::make_shared<Sink>(this)) {
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      if (id_ != 0) coordinator_->WorkerDisconnected(id_);
      sink_->writer.FinishAfterWrites(grpc::Status::OK);
      return;
    }
    if (id_ == 0) {
      if (!in_.has_register_()) {
        sink_->writer.FinishAfterWrites(
            grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                         "the first message on a worker stream must be "
                         "Register"));
        return;
      }
      if (in_.register_().pool() == kLambdaPool) {
        sink_->writer.FinishAfterWrites(grpc::Status(
            grpc::StatusCode::INVALID_ARGUMENT,
            "pool 'lambda' is dagd's own, for tasks it sends to AWS Lambda; "
            "start the worker with another --pool"));
        return;
      }
      id_ = coordinator_->NewWorkerId();
      coordinator_->WorkerConnected(id_, sink_,
                                    std::move(*in_.mutable_register_()), peer_);
    } else {
      coordinator_->WorkerMessage(id_, std::move(in_));
    }
    in_.Clear();
    StartRead(&in_);
  }

  void OnWriteDone(bool ok) override { sink_->writer.WriteDone(ok); }

  void OnDone() override {
    sink_->writer.Detach();
    if (id_ != 0) coordinator_->WorkerDisconnected(id_);
    delete this;
  }

 private:
  struct Sink : WorkerSink {
    explicit Sink(WorkerReactor* reactor) : writer(reactor) {}
    void Send(v1::CoordinatorMessage message) override {
      writer.Push(std::move(message));
    }
    void Close(absl::Status reason) override {
      writer.FinishAfterWrites(ToGrpcStatus(reason));
    }
    StreamWriter<WorkerReactor, v1::CoordinatorMessage> writer;
  };

  Coordinator* const coordinator_;
  const std::string peer_;
  const std::shared_ptr<Sink> sink_;
  v1::WorkerMessage in_;
  WorkerId id_ = 0;  // 0 until Register arrives
};

}  // namespace

// Answers a unary call from the coordinator's reply.
template <typename Response>
Coordinator::Reply<Response> JobServiceImpl::Answer(
    const char* method, grpc::ServerUnaryReactor* reactor, Response* response) {
  return [this, method, reactor, response](absl::StatusOr<Response> result) {
    grpc::Status status = ToGrpcStatus(result.status());
    if (result.ok()) *response = *std::move(result);
    if (observer_ != nullptr) observer_->OnRpcDone(method, status.error_code());
    reactor->Finish(status);
  };
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl and gRPC share the canonical code numbers.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

grpc::ServerUnaryReactor* JobServiceImpl::SubmitJob(
    grpc::CallbackServerContext* context, const v1::SubmitJobRequest* request,
    v1::SubmitJobResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!accepting_) {
    Answer<v1::SubmitJobResponse>("SubmitJob", reactor,
                                  response)(absl::UnavailableError(
        "dagd is shutting down; submit again after it restarts"));
    return reactor;
  }
  // Take the request's contents instead of copying them: a job can be
  // hundreds of megabytes, and gRPC only destroys the request after this.
  v1::SubmitJobRequest owned;
  owned.Swap(const_cast<v1::SubmitJobRequest*>(request));
  coordinator_->Submit(std::move(owned),
                       Answer("SubmitJob", reactor, response));
  return reactor;
}

grpc::ServerUnaryReactor* JobServiceImpl::GetJob(
    grpc::CallbackServerContext* context, const v1::GetJobRequest* request,
    v1::JobStatus* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  coordinator_->GetJob(request->job_id(), Answer("GetJob", reactor, response));
  return reactor;
}

grpc::ServerUnaryReactor* JobServiceImpl::ListJobs(
    grpc::CallbackServerContext* context, const v1::ListJobsRequest* request,
    v1::ListJobsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  coordinator_->ListJobs(*request, Answer("ListJobs", reactor, response));
  return reactor;
}

grpc::ServerWriteReactor<v1::JobEvent>* JobServiceImpl::WatchJob(
    grpc::CallbackServerContext* context, const v1::WatchJobRequest* request) {
  return new WatchReactor(coordinator_, observer_, *request);
}

grpc::ServerUnaryReactor* JobServiceImpl::CancelJob(
    grpc::CallbackServerContext* context, const v1::CancelJobRequest* request,
    v1::CancelJobResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  coordinator_->Cancel(request->job_id(),
                       Answer("CancelJob", reactor, response));
  return reactor;
}

grpc::ServerUnaryReactor* JobServiceImpl::GetTask(
    grpc::CallbackServerContext* context, const v1::GetTaskRequest* request,
    v1::TaskStatus* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  coordinator_->GetTask(request->job_id(), request->task_id(),
                        Answer("GetTask", reactor, response));
  return reactor;
}

grpc::ServerUnaryReactor* JobServiceImpl::ListTasks(
    grpc::CallbackServerContext* context, const v1::ListTasksRequest* request,
    v1::ListTasksResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  coordinator_->ListTasks(request->job_id(),
                          Answer("ListTasks", reactor, response));
  return reactor;
}

grpc::ServerUnaryReactor* JobServiceImpl::GetResult(
    grpc::CallbackServerContext* context, const v1::GetResultRequest* request,
    v1::GetResultResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  coordinator_->GetResult(request->job_id(), request->task_id(),
                          Answer("GetResult", reactor, response));
  return reactor;
}

grpc::ServerUnaryReactor* JobServiceImpl::ListWorkers(
    grpc::CallbackServerContext* context, const v1::ListWorkersRequest* request,
    v1::ListWorkersResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  coordinator_->ListWorkers(Answer("ListWorkers", reactor, response));
  return reactor;
}

grpc::ServerUnaryReactor* JobServiceImpl::DeleteJob(
    grpc::CallbackServerContext* context, const v1::DeleteJobRequest* request,
    v1::DeleteJobResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  coordinator_->DeleteJob(request->job_id(),
                          Answer("DeleteJob", reactor, response));
  return reactor;
}

grpc::ServerBidiReactor<v1::WorkerMessage, v1::CoordinatorMessage>*
WorkerServiceImpl::Connect(grpc::CallbackServerContext* context) {
  return new WorkerReactor(coordinator_, context->peer());
}

}  // namespace dagd
