// A fixed set of threads running queued closures in FIFO order: one thread
// per worker slot, so a worker never runs more functions than it offered.
#ifndef DAGD_WORKER_THREAD_POOL_H_
#define DAGD_WORKER_THREAD_POOL_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace dagd {

// Thread-safe. The destructor runs every closure still queued, then joins.
class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void Schedule(std::function<void()> closure);

 private:
  void Loop();

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace dagd

#endif  // DAGD_WORKER_THREAD_POOL_H_
