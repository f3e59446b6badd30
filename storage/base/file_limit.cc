#include "storage/base/file_limit.h"

#include <sys/resource.h>

namespace dagd {

std::optional<std::pair<uint64_t, uint64_t>> RaiseOpenFilesLimit() {
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 ||
      limit.rlim_cur >= limit.rlim_max) {
    return std::nullopt;
  }
  const uint64_t before = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) return std::nullopt;
  return std::make_pair(before, static_cast<uint64_t>(limit.rlim_cur));
}

}  // namespace dagd
