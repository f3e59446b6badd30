// The wall clock, injected so tests can pin the timestamps a worker reports.
#ifndef DAGD_WORKER_CLOCK_H_
#define DAGD_WORKER_CLOCK_H_

#include <cstdint>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace dagd {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() = 0;
};

class RealClock : public Clock {
 public:
  absl::Time Now() override { return absl::Now(); }
};

inline int64_t UnixMillis(absl::Time time) { return absl::ToUnixMillis(time); }

}  // namespace dagd

#endif  // DAGD_WORKER_CLOCK_H_
