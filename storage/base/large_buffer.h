// Buffers for large payloads (results of hundreds of megabytes). The
// kernel backs fresh memory one 4 KiB page at a time, a page fault each;
// on a virtual machine a fault can cost microseconds, so filling 1 GiB
// took seconds where the copy itself takes a tenth of one. Asking for
// transparent huge pages before the first touch makes that 512 times
// fewer faults. Cheaper still is memory already touched: under jemalloc,
// large buffers come from an arena of their own that keeps freed ones for
// reuse a while (see LargeBufferArena).
#ifndef DAGD_STORAGE_BASE_LARGE_BUFFER_H_
#define DAGD_STORAGE_BASE_LARGE_BUFFER_H_

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>

namespace dagd {

// How long the large-buffer arena keeps freed memory before it returns it
// to the kernel (jemalloc's decay: gradually, over this time).
inline constexpr int kLargeBufferDecayMs = 30000;

// An empty string with room for `capacity` bytes. From 4 MiB up, every
// 2 MiB page its buffer touches is advised as a huge page (MADV_HUGEPAGE;
// a no-op where the kernel does not offer them), those it covers only in
// part too, and the buffer comes from LargeBufferArena().
std::string LargeString(size_t capacity);

// The memory this process may use, in bytes: the machine's physical
// memory, or its container's cgroup limit when lower. What no buffer can
// be larger than and still be filled (a size from elsewhere is checked
// against it before any allocation is tried: past a cgroup's limit the
// kernel kills the process instead of failing the allocation).
uint64_t MemoryLimitBytes();
// Its rule: `physical`, or the lowest limit the cgroup files at
// `limit_files` hold (a number of bytes; "max" or no file: no limit).
uint64_t LowestMemoryLimit(uint64_t physical,
                           std::initializer_list<const char*> limit_files);

// The jemalloc arena that large buffers come from, made on first use, or
// nullopt when the process does not run on jemalloc. Every thread's large
// buffers come from this one arena, so one freed on one thread is reused
// by the next made on any (jemalloc gives each thread one of several
// arenas, and a freed buffer is reused only by its own arena's threads);
// it keeps freed memory for kLargeBufferDecayMs, where jemalloc's own
// arena for large allocations returns it to the kernel at once. Moving a
// 1 GiB result between two workers took 2.4 s with fresh memory each time
// and 1.2 s with memory reused (dagbench --shape=bytes, on a virtual
// machine whose fresh pages cost about 1 s per GiB to touch). Making the
// arena starts a thread that stays associated with it for the life of the
// process (see KeepAssociated in large_buffer.cc): jemalloc returns an
// arena's free memory whole when the last thread associated with it
// leaves.
std::optional<unsigned> LargeBufferArena();

}  // namespace dagd

#endif  // DAGD_STORAGE_BASE_LARGE_BUFFER_H_
