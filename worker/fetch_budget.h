// Bounds the bytes of inputs fetched from other workers that this worker's
// running tasks hold at once. Each task keeps what it fetched until it
// ends: without a bound, a fan-out of tasks each reading a large result of
// another worker (or a few tasks reading many) could fetch past the
// memory the worker may use, and the kernel kills it, with every task it
// runs and every result it holds.
#ifndef DAGD_WORKER_FETCH_BUDGET_H_
#define DAGD_WORKER_FETCH_BUDGET_H_

#include <cstdint>
#include <set>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "worker/cancellation.h"

namespace dagd {

// Thread-safe.
class FetchBudget {
 public:
  // 0: no bound.
  explicit FetchBudget(uint64_t limit) : limit_(limit) {}
  FetchBudget(const FetchBudget&) = delete;
  FetchBudget& operator=(const FetchBudget&) = delete;

  // Takes `bytes`, waiting until they fit beside what other tasks hold, or
  // until no task holds any (a task whose inputs alone are over the limit
  // runs, by itself). Tasks take their turns in the order they came: a
  // stream of small ones does not keep a large one waiting for good. False,
  // with nothing taken, when `token` (may be null) is cancelled first.
  bool Acquire(uint64_t bytes, CancellationToken* token);
  void Release(uint64_t bytes);

  // What one task took, given back when it is destroyed (the task is done
  // with its inputs). Movable.
  class Lease {
   public:
    Lease() = default;
    Lease(FetchBudget* budget, uint64_t bytes)
        : give_back_([budget, bytes] { budget->Release(bytes); }) {}
    // Gives back by calling `give_back` (what bytes shared by tasks need).
    explicit Lease(absl::AnyInvocable<void()> give_back)
        : give_back_(std::move(give_back)) {}
    Lease(Lease&& other) noexcept
        : give_back_(std::exchange(other.give_back_, nullptr)) {}
    Lease& operator=(Lease&& other) noexcept {
      if (this != &other) {
        if (give_back_) give_back_();
        give_back_ = std::exchange(other.give_back_, nullptr);
      }
      return *this;
    }
    ~Lease() {
      if (give_back_) give_back_();
    }

   private:
    absl::AnyInvocable<void()> give_back_;
  };

  uint64_t limit() const { return limit_; }
  uint64_t taken() const;
  // Tasks that had to wait, since the start.
  uint64_t waits() const;

 private:
  const uint64_t limit_;
  mutable absl::Mutex mu_;
  uint64_t taken_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t waits_ ABSL_GUARDED_BY(mu_) = 0;
  // The tickets of the calls waiting, oldest first.
  uint64_t next_ticket_ ABSL_GUARDED_BY(mu_) = 0;
  std::set<uint64_t> waiting_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dagd

#endif  // DAGD_WORKER_FETCH_BUDGET_H_
