#include "worker/worker_session.h"

#include <atomic>
#include <memory>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace dagd {
namespace {

// How long a session waits for the cancelled attempts of a coordinator's
// old data directory to end: it sends nothing meanwhile, and dagd takes a
// worker silent for --worker_timeout (30 s by default) as lost.
constexpr absl::Duration kOldAttemptsGrace = absl::Seconds(10);

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

}  // namespace

WorkerSession::WorkerSession(const v1::Register* hello,
                             const WorkerOptions* options,
                             TaskExecutor* executor, Outbox* outbox,
                             WorkerStatus* status, const LogFn* log,
                             DataPlane* data)
    : hello_(hello),
      options_(options),
      executor_(executor),
      outbox_(outbox),
      status_(status),
      log_(log),
      data_(data) {}

WorkerSession::Outcome WorkerSession::Run(
    v1::WorkerService::StubInterface* stub, grpc::ClientContext* context) {
  Outcome outcome;
  std::unique_ptr<WorkerStream> stream = stub->Connect(context);
  v1::WorkerMessage hello;
  v1::Register* reg = hello.mutable_register_();
  *reg = *hello_;
  reg->set_counts_reads(true);  // WriteLoop's heartbeats say messages_read
  // Draining on a new stream (the last one broke): nothing new for it.
  reg->set_draining(status_->state().draining);
  // What outlived the last stream (or the coordinator): attempts still
  // held, and results never acknowledged. dagd takes them over before it
  // hands out anything, instead of running them again. Held attempts are
  // listed first: one that finishes in between is then in both lists, not
  // in neither. Followers waiting for a predecessor are dropped, not
  // listed (see TaskExecutor::AttemptsForRegister).
  reg->set_store_id(store_id_);
  for (v1::TaskRef& ref : executor_->AttemptsForRegister()) {
    *reg->add_running() = std::move(ref);
  }
  if (data_ != nullptr) {
    for (std::string& key : data_->HeldKeys()) reg->add_held(std::move(key));
  }
  v1::WorkerBatch kept;
  reg->set_kept_complete(outbox_->TakeKept(&kept));
  reg->mutable_results()->Swap(kept.mutable_results());
  const bool wrote = stream->Write(hello);
  // Back into the outbox's hands once the stream is known to be up.
  kept.mutable_results()->Swap(reg->mutable_results());
  v1::CoordinatorMessage message;
  if (!wrote || !stream->Read(&message)) {
    outbox_->Requeue(std::move(kept));
    outcome.status = FromGrpc(stream->Finish());
    if (outcome.status.ok()) {
      outcome.status =
          absl::UnavailableError("stream closed before Registered");
    }
    return outcome;
  }
  if (!message.has_registered()) {
    outbox_->Requeue(std::move(kept));
    context->TryCancel();
    stream->Finish();
    outcome.status = absl::FailedPreconditionError(
        "the coordinator did not answer Register with Registered");
    return outcome;
  }
  outcome.registered = true;
  outcome.worker_id = message.registered().worker_id();
  // Before the log line, so whoever reads "registered" sees the status.
  status_->SetRegistered(true);
  (*log_)(Info(absl::StrCat("connected to ", options_->coordinator)));
  (*log_)(Info(absl::StrCat("registered as worker ", outcome.worker_id,
                            " with ", hello_->slots(), " slots and ",
                            hello_->functions_size(), " functions")));
  const std::string& store_id = message.registered().store_id();
  if (!store_id_.empty() && store_id != store_id_) {
    // Another data directory: its job ids name other jobs. dagd ignored
    // what was listed; the attempts still running are of no use.
    (*log_)(Warning(absl::StrCat(
        "the coordinator serves another data directory than before; "
        "cancelling ",
        hello.register_().running_size(), " tasks and dropping ",
        kept.results_size(), " results of the old one")));
    executor_->CancelAll(CancelReason::kCoordinator);
    // Their (job, task, attempt) numbers are the new store's too: its
    // assignments would be taken for theirs, and their ends for the new
    // attempts'. Wait for them to end, then forget what they reported.
    if (!executor_->WaitUntilIdle(kOldAttemptsGrace)) {
      (*log_)(Warning(
          absl::StrCat("tasks of the old data directory still run after ",
                       absl::FormatDuration(kOldAttemptsGrace))));
    }
    outbox_->Forget();
    kept.Clear();
    if (data_ != nullptr) data_->ReleaseAll();
  } else {
    if (kept.results_size() > 0) {
      (*log_)(Info(absl::StrCat("sent ", kept.results_size(),
                                " results not yet acknowledged by dagd")));
    }
    if (hello.register_().running_size() > 0) {
      (*log_)(
          Info(absl::StrCat("still running ", hello.register_().running_size(),
                            " tasks from before; dagd takes them over")));
    }
  }
  store_id_ = store_id;
  if (data_ != nullptr) {
    data_->SetLimits({message.registered().inline_max_bytes(),
                      message.registered().max_result_bytes()});
    data_->SetSecret(message.registered().data_secret());
  }
  if (absl::Status s =
          executor_->UseObjectStore(message.registered().object_store());
      !s.ok()) {
    (*log_)(Warning(std::string(s.message())));
  }

  outbox_->Open();
  // Kept until acknowledged (dagd acknowledges the results of another
  // store too, as of no use).
  outbox_->Sent(std::move(kept));
  absl::Duration interval = HeartbeatInterval(message.registered());
  // Registered is read: dagd drops a worker whose heartbeats say it leaves
  // messages unread (its read loop stuck), though they keep it alive.
  std::atomic<uint64_t> read{1};
  bool half_closed = false;
  std::thread writer(
      [&] { half_closed = WriteLoop(stream.get(), context, interval, read); });
  while (stream->Read(&message)) {
    read.fetch_add(1, std::memory_order_relaxed);
    if (!message.has_batch()) continue;
    if (message.batch().acked_up_to() > 0) {
      outbox_->Ack(message.batch().acked_up_to());
    }
    if (data_ != nullptr) data_->Release(message.batch().release());
    if (size_t dropped = executor_->Handle(std::move(*message.mutable_batch()));
        dropped > 0) {
      (*log_)(Info(absl::StrCat("draining: not starting ", dropped,
                                " new assignments; dagd runs them elsewhere")));
    }
  }
  status_->SetRegistered(false);
  outbox_->Close();
  writer.join();
  outcome.status = FromGrpc(stream->Finish());
  outcome.drained = half_closed && outcome.status.ok();
  if (outcome.status.ok()) {
    outcome.status =
        absl::UnavailableError("the coordinator closed the stream");
  }
  return outcome;
}

bool WorkerSession::WriteLoop(WorkerStream* stream,
                              grpc::ClientContext* context,
                              absl::Duration interval,
                              const std::atomic<uint64_t>& read) {
  absl::Time next_heartbeat = absl::Now() + interval;
  while (true) {
    v1::WorkerMessage message;
    Outbox::TakeResult taken =
        outbox_->Take(next_heartbeat, message.mutable_batch());
    if (taken == Outbox::TakeResult::kClosed) return false;
    if (taken == Outbox::TakeResult::kSealed) {
      // Draining and everything is sent: half-close; the coordinator
      // records what it read, then ends the stream, which ends the reader.
      stream->WritesDone();
      return true;
    }
    if (taken == Outbox::TakeResult::kAskAck ||
        taken == Outbox::TakeResult::kHeartbeat) {
      // Draining: dagd acknowledges on a heartbeat, and learns of the
      // drain from one, so send one now rather than wait out the interval.
      next_heartbeat = absl::Now();
    }
    if (taken == Outbox::TakeResult::kBatch) {
      if (!stream->Write(message)) {
        // Keep the reports for the next stream, and end this one so the
        // reader notices too.
        outbox_->Requeue(std::move(*message.mutable_batch()));
        context->TryCancel();
        return false;
      }
      // Kept until acknowledged.
      outbox_->Sent(std::move(*message.mutable_batch()));
    }
    if (absl::Now() < next_heartbeat) continue;
    v1::WorkerMessage heartbeat;
    heartbeat.mutable_heartbeat()->set_busy_slots(executor_->busy_slots());
    if (data_ != nullptr) data_->FillHeartbeat(heartbeat.mutable_heartbeat());
    heartbeat.mutable_heartbeat()->set_messages_read(
        read.load(std::memory_order_relaxed));
    heartbeat.mutable_heartbeat()->set_draining(status_->state().draining);
    if (!stream->Write(heartbeat)) {
      context->TryCancel();
      return false;
    }
    next_heartbeat = absl::Now() + interval;
  }
}

absl::Duration WorkerSession::HeartbeatInterval(
    const v1::Registered& registered) const {
  if (registered.heartbeat_interval_ms() == 0) {
    return options_->default_heartbeat;
  }
  return absl::Milliseconds(registered.heartbeat_interval_ms());
}

}  // namespace dagd
