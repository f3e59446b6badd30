// The worker process's main loop: keeps one session with the coordinator
// alive (reconnecting with jittered exponential backoff and registering
// again), while a TaskExecutor runs assignments and an Outbox keeps their
// reports until a stream takes them.
#ifndef DAGD_WORKER_WORKER_RUNTIME_H_
#define DAGD_WORKER_WORKER_RUNTIME_H_

#include <functional>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "dagd/v1/worker_service.grpc.pb.h"
#include "worker/clock.h"
#include "worker/function_registry.h"
#include "worker/outbox.h"
#include "worker/task_executor.h"
#include "worker/worker_options.h"

namespace dagd {

class WorkerRuntime {
 public:
  // `stub`, `registry` and `clock` are not owned and must outlive the
  // runtime. `uniform` returns random numbers in [0, 1) for backoff jitter.
  // `log` receives one line per notable event.
  WorkerRuntime(WorkerOptions options, v1::WorkerService::StubInterface* stub,
                const FunctionRegistry* registry, Clock* clock,
                std::function<double()> uniform, LogFn log);
  ~WorkerRuntime();
  WorkerRuntime(const WorkerRuntime&) = delete;
  WorkerRuntime& operator=(const WorkerRuntime&) = delete;

  // Connects, registers and serves until Shutdown; then cancels the
  // attempts still running. Call once, on a thread of the caller's choice.
  void Run();

  // Makes Run return soon. Thread-safe; may be called before Run.
  void Shutdown();

 private:
  v1::Register MakeRegister() const;
  bool WaitForShutdown(absl::Duration timeout);
  // Publishes the current stream's context so Shutdown can cancel it;
  // returns false (and publishes nothing) when already shutting down.
  bool SetContext(grpc::ClientContext* context);

  const WorkerOptions options_;
  v1::WorkerService::StubInterface* const stub_;
  const FunctionRegistry* const registry_;
  const std::function<double()> uniform_;
  const LogFn log_;
  Outbox outbox_;
  TaskExecutor executor_;  // after outbox_, which it reports into

  absl::Mutex mu_;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace dagd

#endif  // DAGD_WORKER_WORKER_RUNTIME_H_
