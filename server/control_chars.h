// Control characters (bytes below 0x20, and DEL) in text dagd shows: in a
// log line or on a terminal they forge lines and move the cursor.
#ifndef DAGD_SERVER_CONTROL_CHARS_H_
#define DAGD_SERVER_CONTROL_CHARS_H_

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"

namespace dagd {

inline bool HasControl(absl::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

// `s` as it is when it has none, else C-escaped ('a\n2026...').
inline std::string EscapedIfControl(absl::string_view s) {
  return HasControl(s) ? absl::CHexEscape(s) : std::string(s);
}

}  // namespace dagd

#endif  // DAGD_SERVER_CONTROL_CHARS_H_
