// The fake Clock of every test: it moves only when the test says so.
#ifndef DAGD_TESTS_TESTUTIL_FAKE_CLOCK_H_
#define DAGD_TESTS_TESTUTIL_FAKE_CLOCK_H_

#include <atomic>
#include <cstdint>

#include "absl/time/time.h"
#include "storage/base/clock.h"

namespace dagd {

// Thread-safe: the test thread may Advance while the code under test reads
// Now() on threads of its own. Starts at 2023-11-14T22:13:20Z.
class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1'700'000'000))
      : now_ns_(absl::ToUnixNanos(start)) {}
  absl::Time Now() override {
    return absl::FromUnixNanos(now_ns_.load(std::memory_order_relaxed));
  }
  void Advance(absl::Duration d) {
    now_ns_.fetch_add(absl::ToInt64Nanoseconds(d), std::memory_order_relaxed);
  }

 private:
  // Nanoseconds since the Unix epoch: one atomic word, so that reading the
  // time costs a scheduler benchmark nothing.
  std::atomic<int64_t> now_ns_;
};

}  // namespace dagd

#endif  // DAGD_TESTS_TESTUTIL_FAKE_CLOCK_H_
