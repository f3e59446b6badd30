// The worker process's main loop: keeps one session with the coordinator
// alive (reconnecting with jittered exponential backoff and registering
// again), while a TaskExecutor runs assignments and an Outbox keeps their
// reports until a stream takes them. Drain stops it gracefully.
#ifndef DAGD_WORKER_WORKER_RUNTIME_H_
#define DAGD_WORKER_WORKER_RUNTIME_H_

#include <functional>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "dagd/v1/worker_service.grpc.pb.h"
#include "storage/base/clock.h"
#include "storage/base/logging.h"
#include "worker/attempt_observer.h"
#include "worker/data_plane.h"
#include "worker/outbox.h"
#include "worker/task_executor.h"
#include "worker/task_objects.h"
#include "worker/task_runtime.h"
#include "worker/worker_options.h"
#include "worker/worker_status.h"

namespace dagd {

class WorkerRuntime {
 public:
  // Makes a stub on a new channel to the coordinator. A channel that failed
  // to connect keeps failing for seconds by gRPC's own backoff, even once
  // the coordinator is back; a fresh one per attempt connects at once.
  using StubFactory =
      std::function<std::unique_ptr<v1::WorkerService::StubInterface>()>;

  // `runtimes`, `clock`, `status` and `observer` are not owned and
  // must outlive the runtime; `observer` may be null. `uniform` returns
  // random numbers in [0, 1) for backoff jitter. `log` receives one entry
  // per notable event. The runtime keeps `status` up to date.
  // `make_store` makes the client of the object store dagd names at
  // registration; null: none (tasks whose inputs are there fail).
  // `data` (not owned, may be null: none) is the data plane: results this
  // worker holds and inputs held by others (worker/data_plane.h).
  WorkerRuntime(WorkerOptions options, StubFactory connect,
                const TaskRuntimes* runtimes, Clock* clock,
                std::function<double()> uniform, LogFn log,
                WorkerStatus* status, AttemptObserver* observer,
                TaskObjectStore::Factory make_store = nullptr,
                DataPlane* data = nullptr);
  ~WorkerRuntime();
  WorkerRuntime(const WorkerRuntime&) = delete;
  WorkerRuntime& operator=(const WorkerRuntime&) = delete;

  // Connects, registers and serves until Shutdown or the end of a Drain;
  // then cancels the attempts still running. Call once, on a thread of the
  // caller's choice.
  void Run();

  // Makes Run return soon. Thread-safe; may be called before Run.
  void Shutdown();

  // Stops gracefully, blocking the calling thread (not Run's) until Run is
  // about to return: the status turns draining (health NOT_SERVING) and new
  // assignments are dropped; attempts already accepted get up to
  // options.drain_timeout to finish, their results are sent and the stream
  // is half-closed, so the coordinator runs whatever this worker did not
  // report elsewhere. Attempts still running at the timeout are cancelled
  // and not reported. When no stream is open there is nobody to report to,
  // and the worker stops at once; a stream that breaks during the drain (a
  // restart of dagd) is opened again, and the drain goes on there.
  // Thread-safe; only the first call drains.
  void Drain();

 private:
  v1::Register MakeRegister() const;
  // Waits up to `timeout` for Shutdown; true if it happened.
  bool WaitForShutdown(absl::Duration timeout);
  // Waits up to `timeout` for Run to finish.
  bool WaitForFinished(absl::Duration timeout);
  // Publishes the current stream's context so Shutdown can cancel it;
  // returns false (and publishes nothing) when shutting down.
  bool SetContext(grpc::ClientContext* context);

  const WorkerOptions options_;
  const StubFactory connect_;
  const TaskRuntimes* const runtimes_;
  const std::function<double()> uniform_;
  const LogFn log_;
  WorkerStatus* const status_;
  DataPlane* const data_;
  Outbox outbox_;
  TaskObjectStore objects_;
  TaskExecutor executor_;  // after outbox_, which it reports into

  mutable absl::Mutex mu_;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;  // Run is about to return
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace dagd

#endif  // DAGD_WORKER_WORKER_RUNTIME_H_
