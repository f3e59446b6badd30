// The one source of wall-clock time for dagd and dagd-worker, injected
// wherever time is read, so tests drive it (tests/testutil/fake_clock.h).
#ifndef DAGD_STORAGE_BASE_CLOCK_H_
#define DAGD_STORAGE_BASE_CLOCK_H_

#include <cstdint>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace dagd {

// Implementations are thread-safe: Now() may be called from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() = 0;
};

// The system's wall clock (absl::Now()); what the binaries use.
class SystemClock : public Clock {
 public:
  absl::Time Now() override { return absl::Now(); }
};

// Milliseconds since the Unix epoch, as the API's *_unix_ms fields hold.
inline int64_t UnixMillis(absl::Time time) { return absl::ToUnixMillis(time); }

}  // namespace dagd

#endif  // DAGD_STORAGE_BASE_CLOCK_H_
