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

namespace {

// The first number in `path`, or 0 when it is missing or says "max".
uint64_t NumberInFile(const char* path) {
  std::ifstream file(path);
  std::string text;
  uint64_t number = 0;
  if (file >> text && absl::SimpleAtoi(text, &number)) return number;
  return 0;
}

}  // namespace

uint64_t DefaultObjectMemory() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGESIZE);
  uint64_t memory = pages > 0 && page_size > 0
                        ? static_cast<uint64_t>(pages) * page_size
                        : uint64_t{4} << 30;
  for (const char* limit_file :
       {"/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    const uint64_t limit = NumberInFile(limit_file);
    if (limit > 0 && limit < memory) memory = limit;
  }
  return memory / 4;
}

}  // namespace dagd
