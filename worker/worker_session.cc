#include "worker/worker_session.h"

#include <memory>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace dagd {
namespace {

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

}  // namespace

WorkerSession::WorkerSession(const v1::Register* hello,
                             const WorkerOptions* options,
                             TaskExecutor* executor, Outbox* outbox,
                             WorkerStatus* status, const LogFn* log)
    : hello_(hello),
      options_(options),
      executor_(executor),
      outbox_(outbox),
      status_(status),
      log_(log) {}

WorkerSession::Outcome WorkerSession::Run(
    v1::WorkerService::StubInterface* stub, grpc::ClientContext* context) {
  Outcome outcome;
  std::unique_ptr<WorkerStream> stream = stub->Connect(context);
  v1::WorkerMessage hello;
  *hello.mutable_register_() = *hello_;
  // Attempts that outlived the last stream (or the coordinator), finished
  // ones first: dagd takes them over instead of running them again, before
  // it hands out anything, and their results follow on the stream.
  for (std::vector<v1::TaskRef> refs :
       {outbox_->PendingRefs(), executor_->HeldAttempts()}) {
    for (v1::TaskRef& ref : refs) {
      *hello.mutable_register_()->add_running() = std::move(ref);
    }
  }
  v1::CoordinatorMessage message;
  if (!stream->Write(hello) || !stream->Read(&message)) {
    outcome.status = FromGrpc(stream->Finish());
    if (outcome.status.ok()) {
      outcome.status =
          absl::UnavailableError("stream closed before Registered");
    }
    return outcome;
  }
  if (!message.has_registered()) {
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
  if (size_t kept = outbox_->pending_results(); kept > 0) {
    (*log_)(Info(absl::StrCat("sending ", kept,
                              " results not yet acknowledged by dagd")));
  }
  if (hello.register_().running_size() > 0) {
    (*log_)(
        Info(absl::StrCat("still running ", hello.register_().running_size(),
                          " tasks from before; dagd takes them over")));
  }

  outbox_->Open();
  absl::Duration interval = HeartbeatInterval(message.registered());
  std::thread writer([&] { WriteLoop(stream.get(), context, interval); });
  while (stream->Read(&message)) {
    if (!message.has_batch()) continue;
    if (message.batch().acked_size() > 0) outbox_->Ack(message.batch().acked());
    if (size_t dropped = executor_->Handle(message.batch()); dropped > 0) {
      (*log_)(Info(absl::StrCat(
          "draining: not starting ", dropped,
          " new assignments; dagd runs them elsewhere once this worker's "
          "stream closes")));
    }
  }
  status_->SetRegistered(false);
  outbox_->Close();
  writer.join();
  outcome.status = FromGrpc(stream->Finish());
  if (outcome.status.ok()) {
    outcome.status =
        absl::UnavailableError("the coordinator closed the stream");
  }
  return outcome;
}

void WorkerSession::WriteLoop(WorkerStream* stream,
                              grpc::ClientContext* context,
                              absl::Duration interval) {
  absl::Time next_heartbeat = absl::Now() + interval;
  while (true) {
    v1::WorkerMessage message;
    Outbox::TakeResult taken =
        outbox_->Take(next_heartbeat, message.mutable_batch());
    if (taken == Outbox::TakeResult::kClosed) return;
    if (taken == Outbox::TakeResult::kSealed) {
      // Draining and everything is sent: half-close; the coordinator
      // records what it read, then ends the stream, which ends the reader.
      stream->WritesDone();
      return;
    }
    if (taken == Outbox::TakeResult::kBatch) {
      if (!stream->Write(message)) {
        // Keep the reports for the next stream, and end this one so the
        // reader notices too.
        outbox_->Requeue(std::move(*message.mutable_batch()));
        context->TryCancel();
        return;
      }
      // Kept until acknowledged.
      outbox_->Sent(std::move(*message.mutable_batch()));
    }
    if (absl::Now() < next_heartbeat) continue;
    v1::WorkerMessage heartbeat;
    heartbeat.mutable_heartbeat()->set_busy_slots(executor_->busy_slots());
    if (!stream->Write(heartbeat)) {
      context->TryCancel();
      return;
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
