// Listen addresses as dagd's flags give them: "host:port", the host a name,
// an IPv4 address, a bracketed IPv6 one, or empty (every address).
#ifndef DAGD_STORAGE_BASE_HOST_PORT_H_
#define DAGD_STORAGE_BASE_HOST_PORT_H_

#include <algorithm>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"

namespace dagd {

// The port of `listen` when it is host:port with a port from 0 to 65535
// (digits only: a larger number is not taken modulo 65536, as gRPC would).
inline std::optional<int> ListenPort(absl::string_view listen) {
  const size_t colon = listen.rfind(':');
  if (colon == absl::string_view::npos) return std::nullopt;
  const absl::string_view digits = listen.substr(colon + 1);
  int port = 0;
  if (digits.empty() || digits.size() > 5 ||
      !std::all_of(digits.begin(), digits.end(), absl::ascii_isdigit) ||
      !absl::SimpleAtoi(digits, &port) || port > 65535) {
    return std::nullopt;
  }
  return port;
}

}  // namespace dagd

#endif  // DAGD_STORAGE_BASE_HOST_PORT_H_
