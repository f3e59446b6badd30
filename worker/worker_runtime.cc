#include "worker/worker_runtime.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "worker/backoff.h"
#include "worker/worker_session.h"

namespace dagd {

WorkerRuntime::WorkerRuntime(WorkerOptions options,
                             v1::WorkerService::StubInterface* stub,
                             const FunctionRegistry* registry, Clock* clock,
                             std::function<double()> uniform, LogFn log)
    : options_(std::move(options)),
      stub_(stub),
      registry_(registry),
      uniform_(std::move(uniform)),
      log_(std::move(log)),
      executor_(static_cast<int>(options_.slots), registry, clock, &outbox_) {}

WorkerRuntime::~WorkerRuntime() { Shutdown(); }

void WorkerRuntime::Run() {
  const v1::Register hello = MakeRegister();
  WorkerSession session(stub_, &hello, &options_, &executor_, &outbox_, &log_);
  Backoff backoff(options_.initial_backoff, options_.max_backoff, uniform_);
  log_(absl::StrCat("connecting to ", options_.coordinator, " as ",
                    hello.name()));
  while (true) {
    grpc::ClientContext context;
    if (!SetContext(&context)) break;
    WorkerSession::Outcome outcome = session.Run(&context);
    SetContext(nullptr);
    if (WaitForShutdown(absl::ZeroDuration())) break;
    if (outcome.registered) {
      backoff.Reset();
      log_(absl::StrCat("lost connection to ", options_.coordinator, ": ",
                        outcome.status.ToString()));
    }
    absl::Duration delay = backoff.Next();
    log_(absl::StrCat(
        "reconnecting to ", options_.coordinator, " in ",
        absl::ToInt64Milliseconds(delay), " ms (",
        outcome.registered ? "stream ended" : outcome.status.ToString(), ")"));
    if (WaitForShutdown(delay)) break;
  }
  executor_.CancelAll(CancelReason::kShutdown);
  log_("stopped");
}

void WorkerRuntime::Shutdown() {
  absl::MutexLock lock(&mu_);
  shutting_down_ = true;
  if (context_ != nullptr) context_->TryCancel();
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
  for (const std::string& name : registry_->Names()) {
    hello.add_functions(name);
  }
  return hello;
}

bool WorkerRuntime::WaitForShutdown(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&shutting_down_), timeout);
}

bool WorkerRuntime::SetContext(grpc::ClientContext* context) {
  absl::MutexLock lock(&mu_);
  if (context != nullptr && shutting_down_) return false;
  context_ = context;
  return true;
}

}  // namespace dagd
