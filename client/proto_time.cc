#include "client/proto_time.h"

#include <cstdint>

namespace dagd {
namespace {
// google/protobuf/duration.proto: seconds must lie within +-10,000 years.
constexpr int64_t kMaxDurationSeconds = 315'576'000'000;
}  // namespace

google::protobuf::Duration ToProtoDuration(absl::Duration d) {
  google::protobuf::Duration out;
  if (d == absl::InfiniteDuration() || d == -absl::InfiniteDuration()) {
    const int sign = d < absl::ZeroDuration() ? -1 : 1;
    out.set_seconds(sign * kMaxDurationSeconds);
    return out;
  }
  absl::Duration rem;
  const int64_t seconds = absl::IDivDuration(d, absl::Seconds(1), &rem);
  out.set_seconds(seconds);
  // IDivDuration truncates toward zero, so nanos carries the seconds' sign,
  // as the Duration contract requires.
  out.set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(rem)));
  return out;
}

absl::Duration FromProtoDuration(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

absl::Time FromProtoTimestamp(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

bool HasTimestamp(const google::protobuf::Timestamp& t) {
  return t.seconds() != 0 || t.nanos() != 0;
}

}  // namespace dagd
