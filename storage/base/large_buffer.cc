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
  // Every 2 MiB page the buffer touches, its first and last too: the
  // allocator's address is rarely 2 MiB aligned, and the parts of the
  // buffer outside its whole pages would fault 4 KiB at a time (an 8 MiB
  // buffer: up to 4 MiB of them, most of the cost of filling it). The
  // advice lets the kernel back the memory around the buffer with huge
  // pages too; that memory is the allocator's, and works the same.
  const uintptr_t start = reinterpret_cast<uintptr_t>(buffer.data());
  const uintptr_t begin = start & ~(kHugePage - 1);
  const uintptr_t end = (start + capacity + kHugePage - 1) & ~(kHugePage - 1);
  // Advice only (it fails for parts of the range that are not mapped):
  // without huge pages the buffer works the same, slower.
  madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
  return buffer;
}

}  // namespace dagd
