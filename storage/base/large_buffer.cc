#include "storage/base/large_buffer.h"

#include <sys/mman.h>

#include <cstdint>

namespace dagd {

std::string LargeString(size_t capacity) {
  constexpr uintptr_t kHugePage = uintptr_t{2} << 20;
  constexpr size_t kWorthIt = size_t{4} << 20;
  std::string buffer;
  buffer.reserve(capacity);
  if (capacity < kWorthIt) return buffer;
  const uintptr_t start = reinterpret_cast<uintptr_t>(buffer.data());
  const uintptr_t begin = (start + kHugePage - 1) & ~(kHugePage - 1);
  const uintptr_t end = (start + capacity) & ~(kHugePage - 1);
  if (end > begin) {
    // Advice only: without huge pages the buffer works the same, slower.
    madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
  }
  return buffer;
}

}  // namespace dagd
