// Fakes shared by the worker's runtime tests.
#ifndef DAGD_TESTS_WORKER_FAKES_H_
#define DAGD_TESTS_WORKER_FAKES_H_

#include <algorithm>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tests/testutil/fake_clock.h"
#include "worker/attempt_observer.h"
#include "worker/outbox.h"

namespace dagd {

// Records reports; tests wait for a number of results with a deadline.
class RecordingReporter : public TaskReporter {
 public:
  void Started(v1::TaskStarted started) override {
    absl::MutexLock lock(&mu_);
    started_.push_back(std::move(started));
  }
  void Finished(v1::TaskResult result) override {
    absl::MutexLock lock(&mu_);
    results_.push_back(std::move(result));
  }
  // Returns false if fewer than `count` results arrived within `timeout`.
  bool WaitForResults(size_t count, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return results_.size() >= count;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }
  std::vector<v1::TaskStarted> started() {
    absl::MutexLock lock(&mu_);
    return started_;
  }
  std::vector<v1::TaskResult> results() {
    absl::MutexLock lock(&mu_);
    return results_;
  }

 private:
  absl::Mutex mu_;
  std::vector<v1::TaskStarted> started_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::TaskResult> results_ ABSL_GUARDED_BY(mu_);
};

// Records what an AttemptObserver is told.
class RecordingObserver : public AttemptObserver {
 public:
  struct Finished {
    std::string fn;
    bool ok;
    absl::Duration run_time;
  };
  void SlotsTaken(uint32_t slots) override {
    absl::MutexLock lock(&mu_);
    busy_ += slots;
    max_busy_ = std::max(max_busy_, busy_);
  }
  void SlotsFreed(uint32_t slots) override {
    absl::MutexLock lock(&mu_);
    busy_ -= slots;
  }
  void AttemptFinished(const v1::Assignment& assignment,
                       const v1::TaskResult& result,
                       absl::Duration run_time) override {
    absl::MutexLock lock(&mu_);
    finished_.push_back(Finished{assignment.fn(), result.ok(), run_time});
  }
  int64_t busy() {
    absl::MutexLock lock(&mu_);
    return busy_;
  }
  // The most slots ever taken at once.
  int64_t max_busy() {
    absl::MutexLock lock(&mu_);
    return max_busy_;
  }
  std::vector<Finished> finished() {
    absl::MutexLock lock(&mu_);
    return finished_;
  }

 private:
  absl::Mutex mu_;
  int64_t busy_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t max_busy_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<Finished> finished_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dagd

#endif  // DAGD_TESTS_WORKER_FAKES_H_
