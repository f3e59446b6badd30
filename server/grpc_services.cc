#include "server/grpc_services.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "server/audit.h"
#include "server/log.h"
#include "server/result_reactor.h"
#include "server/stream_writer.h"
#include "server/submission_reader.h"
#include "server/unread_watch.h"
#include "storage/tls.h"

namespace dagd {
namespace {

// What one WatchJob stream may have queued unread before it is closed: a
// watcher that stops reading costs dagd at most this.
constexpr uint64_t kMaxWatchQueueBytes = 8 << 20;

// Streams one job's events to a WatchJob caller.
class WatchReactor : public grpc::ServerWriteReactor<v1::JobEvent> {
 public:
  // `observer` may be null. The watch ends with NOT_FOUND when the job is
  // not one `caller` may see, UNAUTHENTICATED once the caller is no longer
  // in the tokens file.
  WatchReactor(Coordinator* coordinator, RpcObserver* observer,
               StandingCaller caller, const v1::WatchJobRequest& request)
      : coordinator_(coordinator),
        observer_(observer),
        sink_(
            std::make_shared<Sink>(this, std::move(caller), request.job_id())) {
    coordinator_->Watch(request.job_id(), request.end_only(), sink_);
  }

  // Ends the call before it started watching.
  static WatchReactor* Refuse(grpc::Status status) {
    auto* reactor = new WatchReactor();
    reactor->sink_->writer.FinishAfterWrites(std::move(status));
    return reactor;
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
    if (coordinator_ != nullptr) coordinator_->Unwatch(sink_);
    delete this;
  }

 private:
  struct Sink : WatchSink {
    Sink(WatchReactor* reactor, StandingCaller caller, std::string job_id)
        : writer(reactor, kMaxWatchQueueBytes),
          caller(std::move(caller)),
          job_id(std::move(job_id)) {}
    void Send(v1::JobEvent event) override {
      if (hidden) return;
      if (absl::Status standing = caller.Check(); !standing.ok()) {
        hidden = true;
        return Fail(standing);
      }
      // The first event is the snapshot, which names the job's tenant.
      if (event.has_snapshot() &&
          !caller.principal().Sees(event.snapshot().tenant())) {
        hidden = true;
        return Fail(NoJobError(job_id));
      }
      const bool last = event.has_finished();
      writer.Push(std::move(event));
      if (last) writer.FinishAfterWrites(grpc::Status::OK);
    }
    void Fail(absl::Status status) override {
      writer.FinishAfterWrites(ToGrpcStatus(status));
    }
    StreamWriter<WatchReactor, v1::JobEvent> writer;
    StandingCaller caller;  // checked where Send runs, one call at a time
    const std::string job_id;
    bool hidden = false;  // set and read on the coordinator's loop only
  };

  WatchReactor()
      : coordinator_(nullptr),
        observer_(nullptr),
        sink_(std::make_shared<Sink>(this, StandingCaller(), "")) {}

  Coordinator* const coordinator_;
  RpcObserver* const observer_;
  const std::shared_ptr<Sink> sink_;
};

// One worker's stream: the first message must be Register; every later one
// is posted to the coordinator as it arrives.
class WorkerReactor : public grpc::ServerBidiReactor<v1::WorkerMessage,
                                                     v1::CoordinatorMessage> {
 public:
  // `identity`: the common name of the worker's verified certificate, its
  // name, which `service` holds for its process (claimed at Register)
  // until it ends; nullopt without certificates.
  WorkerReactor(Coordinator* coordinator, WorkerServiceImpl* service,
                grpc::CallbackServerContext* context,
                const WorkerServiceOptions& options, std::string peer,
                std::optional<std::string> identity)
      : coordinator_(coordinator),
        service_(service),
        context_(context),
        max_stall_(absl::ToChronoNanoseconds(options.max_stall)),
        peer_(std::move(peer)),
        identity_(std::move(identity)),
        sink_(std::make_shared<Sink>(this, options.max_queued_bytes)),
        gate_(std::make_shared<ReadGate>(options.max_posted_bytes, [this] {
          // Heartbeats waited unread meanwhile: their counts are old.
          reads_paused_ = true;
          StartRead(&in_);
        })) {
    StartRead(&in_);
  }

  // Ends the stream before reading anything.
  explicit WorkerReactor(grpc::Status refusal)
      : coordinator_(nullptr),
        service_(nullptr),
        context_(nullptr),
        sink_(std::make_shared<Sink>(this, 0)) {
    sink_->writer.FinishAfterWrites(std::move(refusal));
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // Nothing more comes: the name is free for the worker's next stream,
      // though this one may wait for copies from its process.
      ReleaseIdentity();
      const int before = ended_.fetch_or(kReadsEnded);
      if (id_ == 0 || (before & kCancelled) != 0) {
        // Broken, not half-closed: nothing to wait for.
        if (id_ != 0) coordinator_->WorkerDisconnected(id_);
        sink_->writer.FinishAfterWrites(grpc::Status::OK);
        return;
      }
      // Half-closed (it drained): the coordinator ends the stream (through
      // the sink) once what it copies from the process is copied.
      coordinator_->WorkerReadsEnded(id_);
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
      if (identity_) {
        if (!service_->ClaimIdentity(*identity_, in_.register_().instance())) {
          sink_->writer.FinishAfterWrites(grpc::Status(
              grpc::StatusCode::ALREADY_EXISTS,
              absl::StrCat("a worker with certificate name '", *identity_,
                           "' is connected already; give each worker its own "
                           "certificate")));
          return;
        }
        identity_claimed_ = true;
        in_.mutable_register_()->set_name(*identity_);
      }
      if (in_.register_().counts_reads()) unread_.emplace(max_stall_);
      id_ = coordinator_->NewWorkerId();
      coordinator_->WorkerConnected(id_, sink_,
                                    std::move(*in_.mutable_register_()), peer_,
                                    identity_.has_value());
    } else if (in_.has_heartbeat() && NotReading(in_.heartbeat())) {
      // Alive but not reading: what it was given runs nowhere.
      LOG(WARNING) << "worker " << WorkerIdName(id_)
                   << " has not read its stream for "
                   << absl::FormatDuration(absl::FromChrono(max_stall_))
                   << "; dropping it";
      coordinator_->WorkerDisconnected(id_);
      // Not after the write it does not read: that could wait for TCP.
      sink_->writer.Abandon(grpc::Status(
          grpc::StatusCode::RESOURCE_EXHAUSTED,
          "the worker did not read what dagd sent it for too long"));
      return;
    } else {
      // in_ is free before the gate can resume a read into it (from the
      // scheduler's thread, once this message is handled).
      const uint64_t bytes = in_.ByteSizeLong();
      v1::WorkerMessage message = std::move(in_);
      in_.Clear();
      const bool read_on = gate_->Posted(bytes);
      coordinator_->WorkerMessage(id_, std::move(message), gate_, bytes);
      if (read_on) StartRead(&in_);
      return;
    }
    in_.Clear();
    StartRead(&in_);
  }

  void OnWriteDone(bool ok) override { sink_->writer.WriteDone(ok); }

  // The stream's writer finishes it through this: not while the read gate
  // starts a read on another thread (ReadGate::Finishing), which then
  // finishes it itself.
  void Finish(grpc::Status status) {
    using Base =
        grpc::ServerBidiReactor<v1::WorkerMessage, v1::CoordinatorMessage>;
    if (gate_ == nullptr) return Base::Finish(std::move(status));
    auto finish = [this, status] { Base::Finish(status); };
    if (gate_->Finishing(finish)) finish();
  }

  // Whether the worker, though it heartbeats, has left what dagd sent it
  // unread for max_stall_: a write to it has waited that long, or (for a
  // worker that counts its reads) a message written has.
  bool NotReading(const v1::Heartbeat& heartbeat) {
    if (sink_->writer.Stalled() > max_stall_) return true;
    if (unread_ && reads_paused_.exchange(false)) unread_->Reset();
    return unread_ &&
           unread_->Deaf(heartbeat.messages_read(), sink_->writer.written(),
                         UnreadWatch::Clock::now());
  }

  // From StreamWriter::Abandon, with a write in flight: gRPC ends that
  // write (not ok), and the stream finishes then.
  void CancelCall() {
    if (context_ != nullptr) context_->TryCancel();
  }

  // The call broke (the connection, or dagd cancelled it): a stream waiting
  // for copies from its process after its reads ended waits no more.
  void OnCancel() override {
    const int before = ended_.fetch_or(kCancelled);
    if ((before & kReadsEnded) == 0 || id_ == 0) return;
    coordinator_->WorkerDisconnected(id_);
    sink_->writer.FinishAfterWrites(grpc::Status::OK);
  }

  void OnDone() override {
    sink_->writer.Detach();
    if (gate_ != nullptr) gate_->Close();
    if (id_ != 0) coordinator_->WorkerDisconnected(id_);
    ReleaseIdentity();
    delete this;
  }

 private:
  // The worker's Dispatcher: what the coordinator hands it goes out on
  // this stream.
  struct Sink : Dispatcher {
    Sink(WorkerReactor* reactor, uint64_t max_queued_bytes)
        : writer(reactor, max_queued_bytes) {}
    void Send(v1::CoordinatorMessage message) override {
      writer.Push(std::move(message));
    }
    void Close(absl::Status reason) override {
      writer.FinishAfterWrites(ToGrpcStatus(reason));
    }
    void Drop(absl::Status reason) override {
      writer.Abandon(ToGrpcStatus(reason));
    }
    StreamWriter<WorkerReactor, v1::CoordinatorMessage> writer;
  };

  Coordinator* const coordinator_;
  WorkerServiceImpl* const service_;
  grpc::CallbackServerContext* const context_;  // null for a refusal
  const std::chrono::nanoseconds max_stall_{0};
  // Set when the worker counts its reads (Register.counts_reads); used on
  // the reading thread only.
  std::optional<UnreadWatch> unread_;
  // dagd held this stream's reads back (ReadGate) since the last heartbeat.
  std::atomic<bool> reads_paused_{false};
  // How the call ends, as OnReadDone and OnCancel (on any threads) see it.
  static constexpr int kReadsEnded = 1;
  static constexpr int kCancelled = 2;
  std::atomic<int> ended_{0};
  // Set on the first read, before any release can look at it.
  std::atomic<bool> identity_claimed_{false};
  std::atomic<bool> identity_released_{false};

  void ReleaseIdentity() {
    if (service_ == nullptr || !identity_ || !identity_claimed_ ||
        identity_released_.exchange(true)) {
      return;
    }
    service_->ReleaseIdentity(*identity_);
  }
  const std::string peer_;
  const std::optional<std::string> identity_;
  const std::shared_ptr<Sink> sink_;
  // Holds the next read while what it posted waits (null for a refusal).
  const std::shared_ptr<ReadGate> gate_;
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

Coordinator::Reply<v1::SubmitJobResponse> JobServiceImpl::AnswerEncoded(
    const char* method, grpc::ServerUnaryReactor* reactor,
    grpc::ByteBuffer* response) {
  return [this, method, reactor,
          response](absl::StatusOr<v1::SubmitJobResponse> result) {
    grpc::Status status = ToGrpcStatus(result.status());
    if (result.ok()) {
      bool own_buffer = false;
      status = grpc::SerializationTraits<v1::SubmitJobResponse>::Serialize(
          *result, response, &own_buffer);
    }
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

namespace {

// The "authorization" header a caller sent, if any.
std::optional<std::string> Authorization(
    const grpc::CallbackServerContext& context) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return std::nullopt;
  return std::string(it->second.data(), it->second.size());
}

}  // namespace

absl::StatusOr<StandingCaller> JobServiceImpl::StreamCaller(
    grpc::CallbackServerContext* context, const char* method,
    Role needed) const {
  // Read first: a reread during the lookup is looked at again.
  const uint64_t generation = authenticator_->generation();
  absl::StatusOr<Principal> caller = Caller(context, method, needed);
  if (!caller.ok()) return caller.status();
  return StandingCaller(authenticator_, generation, *std::move(caller),
                        Authorization(*context), PeerCommonName(*context));
}

absl::StatusOr<Principal> JobServiceImpl::Caller(
    grpc::CallbackServerContext* context, const char* method, Role needed,
    const char* audit, absl::string_view job_id) const {
  absl::StatusOr<Principal> caller = authenticator_->Authenticate(
      Authorization(*context), PeerCommonName(*context));
  if (!caller.ok() || caller->May(needed)) return caller;
  absl::Status refused = absl::PermissionDeniedError(absl::StrCat(
      caller->name, " of tenant '", caller->tenant, "' has role ",
      RoleName(caller->role), "; ", method, " needs ", RoleName(needed)));
  if (audit != nullptr) Audit(*caller, audit, job_id, refused);
  return refused;
}

void JobServiceImpl::IfVisible(const Principal& caller,
                               const std::string& job_id,
                               absl::AnyInvocable<void(absl::Status)> then) {
  if (caller.role == Role::kAdmin) return then(absl::OkStatus());
  coordinator_->GetJob(
      job_id, [tenant = caller.tenant, job_id, then = std::move(then)](
                  absl::StatusOr<v1::JobStatus> job) mutable {
        if (!job.ok()) return then(job.status());
        then(job->tenant() == tenant ? absl::OkStatus() : NoJobError(job_id));
      });
}

namespace {

// `done`, after an audit line for `action` on the job `job_id` (or the one
// the response names).
template <typename Response>
Coordinator::Reply<Response> Audited(const Principal& caller,
                                     absl::string_view action,
                                     std::string job_id,
                                     Coordinator::Reply<Response> done) {
  return [caller, action, job_id = std::move(job_id),
          done = std::move(done)](absl::StatusOr<Response> result) mutable {
    if constexpr (std::is_same_v<Response, v1::SubmitJobResponse>) {
      if (result.ok()) job_id = result->job_id();
    }
    Audit(caller, action, job_id, result.status());
    done(std::move(result));
  };
}

}  // namespace

template <typename Response, typename Call>
grpc::ServerUnaryReactor* JobServiceImpl::Unary(
    grpc::CallbackServerContext* context, const char* method, Role needed,
    Response* response, Call call, const char* audit,
    absl::string_view job_id) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Coordinator::Reply<Response> done = Answer(method, reactor, response);
  absl::StatusOr<Principal> caller =
      Caller(context, method, needed, audit, job_id);
  if (!caller.ok()) {
    done(caller.status());
  } else {
    call(*std::move(caller), std::move(done));
  }
  return reactor;
}

template <typename Response, typename Call>
grpc::ServerUnaryReactor* JobServiceImpl::OnJob(
    grpc::CallbackServerContext* context, const char* method, Role needed,
    const std::string& job_id, Response* response, Call call,
    const char* audit) {
  return Unary(
      context, method, needed, response,
      [this, &job_id, audit, call = std::move(call)](
          Principal caller, Coordinator::Reply<Response> done) mutable {
        if (audit != nullptr) {
          done = Audited<Response>(caller, audit, job_id, std::move(done));
        }
        IfVisible(caller, job_id,
                  [caller, call = std::move(call),
                   done = std::move(done)](absl::Status visible) mutable {
                    if (!visible.ok()) return done(visible);
                    call(caller, std::move(done));
                  });
      },
      audit, job_id);
}

namespace {

// A SubmitJob call: its caller's cancel ends a `wait` for the job's end.
class SubmitReactor : public grpc::ServerUnaryReactor {
 public:
  void OnCancel() override { waiter->Cancel(); }
  void OnDone() override { delete this; }

  const std::shared_ptr<SubmitWaiter> waiter = std::make_shared<SubmitWaiter>();
};

}  // namespace

grpc::ServerUnaryReactor* JobServiceImpl::SubmitJob(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  auto* reactor = new SubmitReactor();
  Coordinator::Reply<v1::SubmitJobResponse> done =
      AnswerEncoded("SubmitJob", reactor, response);
  if (!accepting_) {
    done(absl::UnavailableError(
        "dagd is shutting down; submit again after it restarts"));
    return reactor;
  }
  absl::StatusOr<Principal> caller =
      Caller(context, "SubmitJob", Role::kSubmit, "submit");
  if (!caller.ok()) {
    done(caller.status());
    return reactor;
  }
  done = Audited<v1::SubmitJobResponse>(*caller, "submit", "", std::move(done));
  // Read and compiled task by task: a job of millions of tasks parsed
  // whole would be gigabytes of messages. The copy shares the slices.
  grpc::ByteBuffer bytes(*request);
  grpc::ProtoBufferReader reader(&bytes);
  // A big job's task records are written as it is read, beside the
  // reading (RecordsAhead); not a resubmission's, which gets the job its
  // first submission made (a client retrying a big job would otherwise
  // have all its tasks written, then removed, at each retry). Asked only
  // once the job is big: a small one pays no lookup.
  RecordsAhead ahead;
  ahead.open = [&]() -> std::unique_ptr<TaskRecordWriter> {
    grpc::ByteBuffer peeked(*request);
    grpc::ProtoBufferReader peek(&peeked);
    const std::string request_id = PeekRequestId(peek);
    if (!request_id.empty() &&
        coordinator_->KnowsRequest(caller->tenant, request_id)) {
      return nullptr;
    }
    return coordinator_->NewTaskRecordWriter();
  };
  absl::StatusOr<Submission> read =
      ReadSubmission(reader, coordinator_->limits(), &ahead);
  if (!read.ok()) {
    done(read.status());
    return reactor;
  }
  coordinator_->Submit(std::move(read->request), std::move(read->job),
                       caller->tenant, std::move(done),
                       std::move(read->records), reactor->waiter);
  return reactor;
}

grpc::ServerUnaryReactor* JobServiceImpl::GetJob(
    grpc::CallbackServerContext* context, const v1::GetJobRequest* request,
    v1::JobStatus* response) {
  return Unary(context, "GetJob", Role::kRead, response,
               [this, request](Principal caller,
                               Coordinator::Reply<v1::JobStatus> done) {
                 coordinator_->GetJob(
                     request->job_id(),
                     [caller = std::move(caller), job_id = request->job_id(),
                      done = std::move(done)](
                         absl::StatusOr<v1::JobStatus> job) mutable {
                       if (job.ok() && !caller.Sees(job->tenant())) {
                         job = NoJobError(job_id);
                       }
                       done(std::move(job));
                     });
               });
}

grpc::ServerUnaryReactor* JobServiceImpl::ListJobs(
    grpc::CallbackServerContext* context, const v1::ListJobsRequest* request,
    v1::ListJobsResponse* response) {
  return Unary(context, "ListJobs", Role::kRead, response,
               [this, request](Principal caller,
                               Coordinator::Reply<v1::ListJobsResponse> done) {
                 v1::ListJobsRequest scoped = *request;
                 if (caller.role != Role::kAdmin) {
                   scoped.set_tenant(caller.tenant);
                 }
                 coordinator_->ListJobs(std::move(scoped), std::move(done));
               });
}

grpc::ServerWriteReactor<v1::JobEvent>* JobServiceImpl::WatchJob(
    grpc::CallbackServerContext* context, const v1::WatchJobRequest* request) {
  absl::StatusOr<StandingCaller> caller =
      StreamCaller(context, "WatchJob", Role::kRead);
  if (!caller.ok()) {
    grpc::Status status = ToGrpcStatus(caller.status());
    if (observer_ != nullptr) {
      observer_->OnRpcDone("WatchJob", status.error_code());
    }
    return WatchReactor::Refuse(std::move(status));
  }
  return new WatchReactor(coordinator_, observer_, *std::move(caller),
                          *request);
}

grpc::ServerWriteReactor<v1::ResultChunk>* JobServiceImpl::ReadResult(
    grpc::CallbackServerContext* context, const v1::GetResultRequest* request) {
  auto* reactor = new ResultReactor(coordinator_, observer_);
  absl::StatusOr<StandingCaller> caller =
      StreamCaller(context, "ReadResult", Role::kRead);
  if (!caller.ok()) {
    reactor->Refuse(caller.status());
    return reactor;
  }
  const Principal principal = caller->principal();
  IfVisible(principal, request->job_id(),
            [reactor, request,
             caller = *std::move(caller)](absl::Status visible) mutable {
              if (!visible.ok()) return reactor->Refuse(visible);
              reactor->Open(std::move(caller), request->job_id(),
                            request->task_id());
            });
  return reactor;
}

grpc::ServerUnaryReactor* JobServiceImpl::CancelJob(
    grpc::CallbackServerContext* context, const v1::CancelJobRequest* request,
    v1::CancelJobResponse* response) {
  return OnJob(
      context, "CancelJob", Role::kSubmit, request->job_id(), response,
      [this, request](const Principal&,
                      Coordinator::Reply<v1::CancelJobResponse> done) {
        coordinator_->Cancel(request->job_id(), std::move(done));
      },
      /*audit=*/"cancel");
}

grpc::ServerUnaryReactor* JobServiceImpl::GetTask(
    grpc::CallbackServerContext* context, const v1::GetTaskRequest* request,
    v1::TaskStatus* response) {
  return OnJob(context, "GetTask", Role::kRead, request->job_id(), response,
               [this, request](const Principal&,
                               Coordinator::Reply<v1::TaskStatus> done) {
                 coordinator_->GetTask(request->job_id(), request->task_id(),
                                       std::move(done));
               });
}

grpc::ServerUnaryReactor* JobServiceImpl::ListTasks(
    grpc::CallbackServerContext* context, const v1::ListTasksRequest* request,
    v1::ListTasksResponse* response) {
  return OnJob(context, "ListTasks", Role::kRead, request->job_id(), response,
               [this, request](const Principal&,
                               Coordinator::Reply<v1::ListTasksResponse> done) {
                 absl::StatusOr<TasksPage> page = ParseTasksPage(*request);
                 if (!page.ok()) return done(page.status());
                 coordinator_->ListTasks(request->job_id(), std::move(done),
                                         *page);
               });
}

grpc::ServerUnaryReactor* JobServiceImpl::GetResult(
    grpc::CallbackServerContext* context, const v1::GetResultRequest* request,
    v1::GetResultResponse* response) {
  return OnJob(
      context, "GetResult", Role::kRead, request->job_id(), response,
      [this, request](const Principal&,
                      Coordinator::Reply<v1::GetResultResponse> done) {
        // Each call holds its whole result in memory until it is sent: a
        // bound on the calls bounds that memory (ReadResult streams a
        // chunk at a time).
        if (get_results_.fetch_add(1) >= kMaxGetResults) {
          get_results_.fetch_sub(1);
          return done(absl::ResourceExhaustedError(absl::StrCat(
              kMaxGetResults,
              " GetResult calls are in flight; try again, or stream the "
              "result with ReadResult (dagctl result does)")));
        }
        coordinator_->GetResult(
            request->job_id(), request->task_id(),
            [this, done = std::move(done)](
                absl::StatusOr<v1::GetResultResponse> result) mutable {
              done(std::move(result));
              get_results_.fetch_sub(1);
            });
      });
}

grpc::ServerUnaryReactor* JobServiceImpl::ListWorkers(
    grpc::CallbackServerContext* context, const v1::ListWorkersRequest*,
    v1::ListWorkersResponse* response) {
  return Unary(context, "ListWorkers", Role::kRead, response,
               [this](const Principal&,
                      Coordinator::Reply<v1::ListWorkersResponse> done) {
                 coordinator_->ListWorkers(std::move(done));
               });
}

grpc::ServerUnaryReactor* JobServiceImpl::DeleteJob(
    grpc::CallbackServerContext* context, const v1::DeleteJobRequest* request,
    v1::DeleteJobResponse* response) {
  return OnJob(
      context, "DeleteJob", Role::kSubmit, request->job_id(), response,
      [this, request](const Principal&,
                      Coordinator::Reply<v1::DeleteJobResponse> done) {
        coordinator_->DeleteJob(request->job_id(), std::move(done));
      },
      /*audit=*/"delete");
}

grpc::ServerBidiReactor<v1::WorkerMessage, v1::CoordinatorMessage>*
WorkerServiceImpl::Connect(grpc::CallbackServerContext* context) {
  std::optional<std::string> identity = PeerCommonName(*context);
  if (options_.require_certificates && !identity) {
    return new WorkerReactor(grpc::Status(
        grpc::StatusCode::UNAUTHENTICATED,
        "a worker must present a client certificate signed by dagd's "
        "--worker_ca (dagd-worker --tls_cert, --tls_key)"));
  }
  if (identity && options_.clients != nullptr &&
      options_.clients->IsClientCertificate(*identity)) {
    return new WorkerReactor(grpc::Status(
        grpc::StatusCode::PERMISSION_DENIED,
        absl::StrCat("certificate '", absl::CHexEscape(*identity),
                     "' is a client's (a cert: line of dagd's --tokens_file "
                     "names it); a worker needs a certificate of its own")));
  }
  // Its name is claimed at Register, which names its process.
  return new WorkerReactor(coordinator_, this, context, options_,
                           context->peer(), std::move(identity));
}

bool WorkerServiceImpl::ClaimIdentity(const std::string& name,
                                      const std::string& instance) {
  absl::MutexLock lock(&mu_);
  Claim& claim = identities_[name];
  if (claim.streams > 0 && (instance.empty() || claim.instance != instance)) {
    return false;
  }
  claim.instance = instance;
  ++claim.streams;
  return true;
}

void WorkerServiceImpl::ReleaseIdentity(const std::string& name) {
  absl::MutexLock lock(&mu_);
  auto claim = identities_.find(name);
  if (claim != identities_.end() && --claim->second.streams == 0) {
    identities_.erase(claim);
  }
}

}  // namespace dagd
