#include "storage/base/byte_size.h"

#include <limits>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace dagd {

absl::StatusOr<uint64_t> ParseByteSize(absl::string_view text) {
  absl::string_view rest = absl::StripAsciiWhitespace(text);
  size_t digits = 0;
  while (digits < rest.size() && absl::ascii_isdigit(rest[digits])) ++digits;
  uint64_t number = 0;
  if (digits == 0 || !absl::SimpleAtoi(rest.substr(0, digits), &number)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", text, "' is not a size (expected bytes, or e.g. 512M, 4G)"));
  }
  rest.remove_prefix(digits);
  int shift = 0;
  if (!rest.empty()) {
    switch (absl::ascii_toupper(rest[0])) {
      case 'K':
        shift = 10;
        break;
      case 'M':
        shift = 20;
        break;
      case 'G':
        shift = 30;
        break;
      case 'T':
        shift = 40;
        break;
      default:
        shift = -1;
    }
    rest.remove_prefix(1);
    if (shift < 0 || (!rest.empty() && rest != "iB" && rest != "ib")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", text, "' has an unknown unit (expected K, M, G or T)"));
    }
  }
  if (number > (std::numeric_limits<uint64_t>::max() >> shift)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is too large"));
  }
  return number << shift;
}

}  // namespace dagd
