#ifndef DAGD_SERVER_CLOCK_H_
#define DAGD_SERVER_CLOCK_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace dagd {

// The only source of time for the scheduler, so tests can drive it.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() = 0;
};

class SystemClock : public Clock {
 public:
  absl::Time Now() override { return absl::Now(); }
};

}  // namespace dagd

#endif  // DAGD_SERVER_CLOCK_H_
