#include "server/grpc_services.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/stream_writer.h"
#include "storage/crc32c.h"

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

// Streams one result to a ReadResult caller, a chunk at a time: one step
// (the lookup, a range read, a write) is in flight at any moment, and each
// one's completion starts the next, so the reactor lives until the last
// step calls Finish.
class ResultReactor : public grpc::ServerWriteReactor<v1::ResultChunk> {
 public:
  static constexpr uint64_t kChunkBytes = 1 << 20;

  // `observer` may be null.
  ResultReactor(Coordinator* coordinator, RpcObserver* observer,
                const v1::GetResultRequest& request)
      : objects_(coordinator->result_objects()), observer_(observer) {
    coordinator->OpenResult(request.job_id(), request.task_id(),
                            [this](absl::StatusOr<StoredResult> result) {
                              Opened(std::move(result));
                            });
  }

  void OnWriteDone(bool ok) override {
    if (!ok) return End(grpc::Status(grpc::StatusCode::CANCELLED, "gone"));
    Next();
  }
  void OnCancel() override { cancelled_ = true; }
  void OnDone() override {
    if (observer_ != nullptr) observer_->OnRpcDone("ReadResult", code_);
    delete this;
  }

 private:
  void Opened(absl::StatusOr<StoredResult> result) {
    if (!result.ok()) return End(ToGrpcStatus(result.status()));
    result_ = *std::move(result);
    size_ = result_.ref != nullptr ? result_.ref->size() : result_.data.size();
    Next();
  }

  void Next() {
    if (cancelled_) {
      return End(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
    }
    if (started_ && sent_ >= size_) return End(Verified());
    const uint64_t length = std::min<uint64_t>(kChunkBytes, size_ - sent_);
    if (result_.ref == nullptr) {
      return Write(result_.data.substr(sent_, length));
    }
    objects_->ReadRange(
        *result_.ref, sent_, length,
        [this, length](absl::StatusOr<std::string> bytes) {
          if (!bytes.ok()) return End(ToGrpcStatus(bytes.status()));
          if (bytes->size() != length) {
            return End(ToGrpcStatus(absl::DataLossError(absl::StrCat(
                "object '", result_.ref->key(), "' is shorter than the ", size_,
                " bytes recorded when it was written"))));
          }
          Write(*std::move(bytes));
        });
  }

  void Write(std::string bytes) {
    crc_ = crc32c::Extend(crc_, bytes.data(), bytes.size());
    chunk_.Clear();
    if (!started_) {
      chunk_.set_content_type(result_.content_type);
      chunk_.set_size_bytes(size_);
      started_ = true;
    }
    sent_ += bytes.size();
    chunk_.set_data(std::move(bytes));
    StartWrite(&chunk_);
  }

  // What the bytes sent from the object store were checked against.
  grpc::Status Verified() const {
    if (result_.ref == nullptr || result_.ref->crc32c() == 0 ||
        crc_ == result_.ref->crc32c()) {
      return grpc::Status::OK;
    }
    return ToGrpcStatus(absl::DataLossError(absl::StrCat(
        "object '", result_.ref->key(), "' does not match its CRC-32C (",
        "recorded ", result_.ref->crc32c(), ", read ", crc_,
        "): discard what was received")));
  }

  void End(grpc::Status status) {
    code_ = status.error_code();
    Finish(std::move(status));
  }

  ResultObjects* const objects_;
  RpcObserver* const observer_;
  std::atomic<bool> cancelled_{false};
  StoredResult result_;
  uint64_t size_ = 0;
  uint64_t sent_ = 0;
  bool started_ = false;
  uint32_t crc_ = 0;
  v1::ResultChunk chunk_;
  grpc::StatusCode code_ = grpc::StatusCode::OK;
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
  // The worker's Dispatcher: what the coordinator hands it goes out on
  // this stream.
  struct Sink : Dispatcher {
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

grpc::ServerWriteReactor<v1::ResultChunk>* JobServiceImpl::ReadResult(
    grpc::CallbackServerContext* context, const v1::GetResultRequest* request) {
  return new ResultReactor(coordinator_, observer_, *request);
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
