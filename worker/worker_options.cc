#include "worker/worker_options.h"

#include <unistd.h>

#include <cmath>
#include <fstream>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "storage/base/large_buffer.h"

namespace dagd {

absl::StatusOr<std::map<std::string, std::string>> ParseLabels(
    absl::string_view text) {
  std::map<std::string, std::string> out;
  for (absl::string_view entry : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(entry, absl::MaxSplits('=', 1));
    absl::string_view key = absl::StripAsciiWhitespace(kv.first);
    if (entry.find('=') == absl::string_view::npos || key.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", entry, "' is not key=value (expected e.g. zone=a,gpu=yes)"));
    }
    if (!out.emplace(key, absl::StripAsciiWhitespace(kv.second)).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("key '", key, "' is given twice"));
    }
  }
  return out;
}

absl::StatusOr<std::map<std::string, double>> ParseResources(
    absl::string_view text) {
  auto pairs = ParseLabels(text);
  if (!pairs.ok()) return pairs.status();
  std::map<std::string, double> out;
  for (const auto& [key, value] : *pairs) {
    double amount;
    if (!absl::SimpleAtod(value, &amount) || !std::isfinite(amount) ||
        amount < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "resource '", key, "' needs a non-negative number, got '", value,
          "' (expected e.g. memory_mb=8192,gpu=1)"));
    }
    out[key] = amount;
  }
  return out;
}

std::string DefaultWorkerName() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return absl::StrCat(host[0] != '\0' ? host : "localhost", ":", getpid());
}

uint64_t DefaultObjectMemory() { return MemoryLimitBytes() / 4; }

}  // namespace dagd
