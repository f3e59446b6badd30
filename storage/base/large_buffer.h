// Buffers for large payloads (results of hundreds of megabytes). The
// kernel backs fresh memory one 4 KiB page at a time, a page fault each;
// on a virtual machine a fault can cost microseconds, so filling 1 GiB
// took seconds where the copy itself takes a tenth of one. Asking for
// transparent huge pages before the first touch makes that 512 times
// fewer faults.
#ifndef DAGD_STORAGE_BASE_LARGE_BUFFER_H_
#define DAGD_STORAGE_BASE_LARGE_BUFFER_H_

#include <cstddef>
#include <string>

namespace dagd {

// An empty string with room for `capacity` bytes. From 4 MiB up, every
// 2 MiB page its buffer touches is advised as a huge page (MADV_HUGEPAGE;
// a no-op where the kernel does not offer them), those it covers only in
// part too.
std::string LargeString(size_t capacity);

}  // namespace dagd

#endif  // DAGD_STORAGE_BASE_LARGE_BUFFER_H_
