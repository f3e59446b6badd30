#ifndef DAGD_SERVER_HUGE_PAGE_ALLOCATOR_H_
#define DAGD_SERVER_HUGE_PAGE_ALLOCATOR_H_

#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>

namespace dagd {

// The allocator of a job's per-task arrays (ten million task records are
// 960 MB, their result slots 400 MB). Past 2 MiB it asks the kernel for
// transparent huge pages (madvise, which the default THP mode "madvise"
// honours), so making the array takes one page fault per 2 MiB instead of
// one per 4 KiB: on a virtual machine, where a fault is costly, most of a
// big job's time on the scheduler thread at submission. Smaller arrays are
// allocated as usual.
template <typename T>
class HugePageAllocator {
 public:
  using value_type = T;
  static constexpr size_t kHugePage = size_t{2} << 20;

  HugePageAllocator() = default;
  template <typename U>
  HugePageAllocator(const HugePageAllocator<U>&) {}  // NOLINT: rebinding

  T* allocate(size_t n) {
    if (n * sizeof(T) < kHugePage) return std::allocator<T>().allocate(n);
    const size_t bytes = Rounded(n);
    void* p = std::aligned_alloc(kHugePage, bytes);
    if (p == nullptr) throw std::bad_alloc();
    // Advice only: without THP the pages are ordinary ones.
    madvise(p, bytes, MADV_HUGEPAGE);
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t n) {
    if (n * sizeof(T) < kHugePage) {
      std::allocator<T>().deallocate(p, n);
      return;
    }
    std::free(p);
  }

  template <typename U>
  bool operator==(const HugePageAllocator<U>&) const {
    return true;
  }
  template <typename U>
  bool operator!=(const HugePageAllocator<U>&) const {
    return false;
  }

 private:
  static size_t Rounded(size_t n) {
    return (n * sizeof(T) + kHugePage - 1) / kHugePage * kHugePage;
  }
};

}  // namespace dagd

#endif  // DAGD_SERVER_HUGE_PAGE_ALLOCATOR_H_
