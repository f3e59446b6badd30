#ifndef DAGD_SERVER_PACKED_FIELDS_H_
#define DAGD_SERVER_PACKED_FIELDS_H_

// Field types for records the scheduler keeps once per task or attempt. A
// million-task job keeps a million of each, so their bytes are most of
// dagd's memory; these types hold the same values in less, and convert to
// and from the types the scheduler computes with, so code reads a field as
// before.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace dagd {

// The empty string a packed field reads as when it holds none.
inline const std::string& EmptyString() {
  static const std::string* const kEmpty = new std::string();
  return *kEmpty;
}

// An absl::Time in 8 bytes instead of 16: nanoseconds since the epoch, with
// absl::InfinitePast() (the records' "not yet") as INT64_MIN and
// absl::InfiniteFuture() as INT64_MAX. Other times beyond ±292 years of
// 1970 saturate to those.
class PackedTime {
 public:
  PackedTime() = default;
  PackedTime(absl::Time t)  // NOLINT: converts implicitly, as a field
      : nanos_(t == absl::InfinitePast()     ? INT64_MIN
               : t == absl::InfiniteFuture() ? INT64_MAX
                                             : absl::ToUnixNanos(t)) {}
  operator absl::Time() const {  // NOLINT
    if (nanos_ == INT64_MIN) return absl::InfinitePast();
    if (nanos_ == INT64_MAX) return absl::InfiniteFuture();
    return absl::FromUnixNanos(nanos_);
  }
  absl::Time get() const { return *this; }

 private:
  int64_t nanos_ = INT64_MIN;
};

// A string that is nearly always empty (a task's or an attempt's error): a
// pointer's 8 bytes instead of std::string's 32, with the text allocated
// only when there is one.
class RareString {
 public:
  RareString() = default;
  RareString(const RareString& o) { *this = o.get(); }
  RareString(RareString&&) noexcept = default;
  RareString& operator=(const RareString& o) { return *this = o.get(); }
  RareString& operator=(RareString&&) noexcept = default;
  RareString& operator=(std::string s) {
    if (s.empty()) {
      text_.reset();
    } else {
      text_ = std::make_unique<std::string>(std::move(s));
    }
    return *this;
  }
  RareString& operator=(absl::string_view s) { return *this = std::string(s); }
  RareString& operator=(const char* s) { return *this = std::string(s); }

  const std::string& get() const { return text_ ? *text_ : EmptyString(); }
  operator const std::string&() const { return get(); }  // NOLINT
  bool empty() const { return text_ == nullptr; }

 private:
  std::unique_ptr<std::string> text_;
};

}  // namespace dagd

#endif  // DAGD_SERVER_PACKED_FIELDS_H_
