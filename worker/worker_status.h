// What operators and platforms see of a worker's state: whether it is
// registered with a coordinator right now, whether it is draining, and how
// often it had to reconnect. The runtime reports; the health endpoints and
// metrics listen.
#ifndef DAGD_WORKER_WORKER_STATUS_H_
#define DAGD_WORKER_WORKER_STATUS_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace dagd {

struct WorkerState {
  bool registered = false;  // a stream is open and the coordinator answered
  bool draining = false;    // stopping: takes no new work; never undone
  // Registrations after a registered stream was lost.
  int64_t reconnects = 0;

  // What health checks report: ready for new work.
  bool serving() const { return registered && !draining; }
};

// Thread-safe.
class WorkerStatus {
 public:
  using Listener = std::function<void(const WorkerState& state)>;

  // Calls `listener` with the current state now and after every change, in
  // order. Listeners run under this object's lock: they must be quick and
  // must not call back into it, and they must outlive this object (or the
  // last change).
  void AddListener(Listener listener);

  void SetRegistered(bool registered);
  void SetDraining();

  WorkerState state() const;

 private:
  void NotifyLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  WorkerState state_ ABSL_GUARDED_BY(mu_);
  bool ever_registered_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<Listener> listeners_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dagd

#endif  // DAGD_WORKER_WORKER_STATUS_H_
