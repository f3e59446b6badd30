#include "worker/worker_runtime.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "storage/base/backoff.h"
#include "worker/worker_session.h"

namespace dagd {

WorkerRuntime::WorkerRuntime(WorkerOptions options, StubFactory connect,
                             const TaskRuntimes* runtimes, Clock* clock,
                             std::function<double()> uniform, LogFn log,
                             WorkerStatus* status, AttemptObserver* observer,
                             TaskObjectStore::Factory make_store,
                             DataPlane* data)
    : options_(std::move(options)),
      connect_(std::move(connect)),
      runtimes_(runtimes),
      uniform_(std::move(uniform)),
      log_(std::move(log)),
      status_(status),
      data_(data),
      outbox_(options_.report_start_after),
      objects_(std::move(make_store)),
      executor_(static_cast<int>(options_.slots), runtimes, clock, &outbox_,
                observer, &objects_, data) {}

WorkerRuntime::~WorkerRuntime() { Shutdown(); }

void WorkerRuntime::Run() {
  const v1::Register hello = MakeRegister();
  WorkerSession session(&hello, &options_, &executor_, &outbox_, status_, &log_,
                        data_);
  Backoff backoff(options_.initial_backoff, options_.max_backoff, uniform_);
  log_(Info(absl::StrCat("connecting to ", options_.coordinator, " as ",
                         hello.name())));
  while (true) {
    grpc::ClientContext context;
    if (!SetContext(&context)) break;
    const std::unique_ptr<v1::WorkerService::StubInterface> stub = connect_();
    WorkerSession::Outcome outcome = session.Run(stub.get(), &context);
    SetContext(nullptr);
    if (WaitForShutdown(absl::ZeroDuration())) break;
    if (outcome.drained) {
      log_(Info(absl::StrCat("drained: the stream to ", options_.coordinator,
                             " ended (", outcome.status.message(), ")")));
      break;
    }
    // Broken while draining too (dagd restarted, say, even after the
    // half-close, while it copied what this worker holds): the drain goes
    // on on the next stream, where what is still running reports and the
    // sealed outbox half-closes again, until it is done or --drain_timeout
    // ends it (Drain).
    if (outcome.registered) {
      backoff.Reset();
      log_(Warning(absl::StrCat("lost connection to ", options_.coordinator,
                                ": ", outcome.status.ToString())));
    }
    absl::Duration delay = backoff.Next();
    log_(Warning(absl::StrCat(
        "reconnecting to ", options_.coordinator, " in ",
        absl::ToInt64Milliseconds(delay), " ms (",
        outcome.registered ? "stream ended" : outcome.status.ToString(), ")")));
    if (WaitForShutdown(delay)) break;
  }
  executor_.CancelAll(CancelReason::kShutdown);
  log_(Info("stopped"));
  absl::MutexLock lock(&mu_);
  finished_ = true;
}

void WorkerRuntime::Shutdown() {
  absl::MutexLock lock(&mu_);
  shutting_down_ = true;
  if (context_ != nullptr) context_->TryCancel();
}

void WorkerRuntime::Drain() {
  {
    absl::MutexLock lock(&mu_);
    if (draining_ || shutting_down_) return;
    draining_ = true;
  }
  // Tell dagd first (a heartbeat, ahead of anything the outbox holds),
  // which places nothing more here once it hears; then refuse work, before
  // the log says so. What comes meanwhile is reported not started, after
  // that heartbeat.
  status_->SetDraining();
  outbox_.WantHeartbeat();
  executor_.StopAccepting();
  if (!status_->state().registered) {
    log_(
        Info("draining while not connected to the coordinator: stopping "
             "now (dagd runs this worker's tasks again elsewhere)"));
    Shutdown();
    return;
  }
  // Real time, as the waits below.
  const absl::Time started = absl::Now();
  const std::string timeout = absl::FormatDuration(options_.drain_timeout);
  log_(Info(absl::StrCat("draining: taking no new tasks; waiting up to ",
                         timeout, " for ", executor_.attempts(),
                         " accepted tasks to finish")));
  if (!executor_.WaitUntilIdle(options_.drain_timeout)) {
    log_(Warning(absl::StrCat(
        "drain: ", executor_.attempts(), " tasks still running after ", timeout,
        " (--drain_timeout); cancelling them unreported, dagd runs "
        "them again elsewhere")));
    // Cancel the stream before the attempts, so their failures never go out.
    Shutdown();
    return;
  }
  // Everything accepted has reported: send it and half-close the stream.
  // dagd ends it once it copied the outputs this process holds (they
  // would go with it): what is left of --drain_timeout is theirs too.
  outbox_.Seal();
  const absl::Duration grace =
      std::max(options_.drain_close_grace,
               options_.drain_timeout - (absl::Now() - started));
  if (!WaitForFinished(grace)) {
    log_(Warning(absl::StrCat(
        "drain: the coordinator did not close the stream within ",
        absl::FormatDuration(grace), " of the last result; closing it")));
    Shutdown();
  }
}

v1::Register WorkerRuntime::MakeRegister() const {
  v1::Register hello;
  hello.set_name(options_.name.empty() ? DefaultWorkerName() : options_.name);
  hello.set_slots(options_.slots);
  hello.set_pool(options_.pool);
  hello.mutable_labels()->insert(options_.labels.begin(),
                                 options_.labels.end());
  hello.mutable_resources()->insert(options_.resources.begin(),
                                    options_.resources.end());
  for (std::string& name : runtimes_->Functions()) {
    hello.add_functions(std::move(name));
  }
  for (std::string& name : runtimes_->Names()) {
    hello.add_runtimes(std::move(name));
  }
  hello.set_accepts_grants(true);     // TaskExecutor runs Assignment.after
  hello.set_reads_object_refs(true);  // TaskRunner reads input_refs
  if (data_ != nullptr) {
    hello.set_instance(data_->instance());
    hello.set_data_address(data_->address());
  }
  return hello;
}

bool WorkerRuntime::WaitForShutdown(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&shutting_down_), timeout);
}

bool WorkerRuntime::WaitForFinished(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&finished_), timeout);
}

bool WorkerRuntime::SetContext(grpc::ClientContext* context) {
  absl::MutexLock lock(&mu_);
  if (context != nullptr && shutting_down_) return false;
  context_ = context;
  return true;
}

}  // namespace dagd
