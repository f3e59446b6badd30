#ifndef DAGD_TESTS_TESTUTIL_FAKE_CLOCK_H_
#define DAGD_TESTS_TESTUTIL_FAKE_CLOCK_H_

#include "absl/time/time.h"
#include "server/clock.h"

namespace dagd::testing {

// A clock that only moves when the test says so.
class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1'700'000'000))
      : now_(start) {}
  absl::Time Now() override { return now_; }
  void Advance(absl::Duration d) { now_ += d; }

 private:
  absl::Time now_;
};

}  // namespace dagd::testing

#endif  // DAGD_TESTS_TESTUTIL_FAKE_CLOCK_H_
