// A one-shot cancellation signal shared by the thread running an attempt and
// the threads that may cancel it (the coordinator's reader, the timeout
// timer, shutdown).
#ifndef DAGD_WORKER_CANCELLATION_H_
#define DAGD_WORKER_CANCELLATION_H_

#include <functional>
#include <map>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace dagd {

// Why an attempt was cancelled; the first reason wins.
enum class CancelReason { kNone, kCoordinator, kTimeout, kShutdown };

// Thread-safe. Cancel may be called any number of times from any thread;
// only the first call has an effect.
class CancellationToken {
 public:
  CancellationToken() = default;
  CancellationToken(const CancellationToken&) = delete;
  CancellationToken& operator=(const CancellationToken&) = delete;

  // Cancels and runs the registered callbacks on this thread. Returns false
  // if the token was already cancelled.
  bool Cancel(CancelReason reason);

  bool cancelled() const;
  CancelReason reason() const;

  // Returns true after `duration`, false as soon as the token is cancelled.
  bool WaitFor(absl::Duration duration);

  // See TaskContext::AddCancelCallback.
  int AddCallback(std::function<void()> callback);
  void RemoveCallback(int handle);

 private:
  mutable absl::Mutex mu_;
  CancelReason reason_ ABSL_GUARDED_BY(mu_) = CancelReason::kNone;
  int next_handle_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<int, std::function<void()>> callbacks_ ABSL_GUARDED_BY(mu_);
  // Set while Cancel runs callbacks outside the lock, so RemoveCallback can
  // wait for them to finish (unless it is called from a callback itself).
  bool running_callbacks_ ABSL_GUARDED_BY(mu_) = false;
  std::thread::id cancelling_thread_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dagd

#endif  // DAGD_WORKER_CANCELLATION_H_
