#include "storage/base/large_buffer.h"

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdint>
#include <fstream>
#include <future>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

// jemalloc's control interface; null unless the process runs on jemalloc
// (weak: the C library's malloc has none).
extern "C" int mallctl(const char* name, void* old_value, size_t* old_size,
                       void* new_value, size_t new_size) __attribute__((weak));

// jemalloc's options for every dagd program that makes large buffers,
// read by jemalloc at its start (the C library's malloc ignores the
// symbol); MALLOC_CONF overrides them.
//
// oversize_threshold:0 — by default jemalloc returns every freed
// allocation of 8 MiB and more to the kernel at once, whatever its arena's
// decay time, so each large buffer was fresh memory, which the kernel
// zeroes page by page as it is touched (17% of the workers' CPU on a graph
// of 32 MB blocks; half the time of moving 1 GiB between workers). With
// the threshold off, freed memory is kept for its arena's decay time.
//
// background_thread:true — jemalloc returns memory past its decay time
// from a thread of its own; without it, only when the arena next
// allocates, so an idle worker would keep the buffers of its last burst.
extern "C" {
// NOLINTNEXTLINE: jemalloc looks the symbol up by this name.
const char* malloc_conf = "oversize_threshold:0,background_thread:true";
}

namespace dagd {
namespace {

constexpr size_t kWorthIt = size_t{4} << 20;

// Starts a thread that stays associated with `arena` for the life of the
// process, and returns once it is. jemalloc purges an arena whole when
// the last thread associated with it leaves it (arena_migrate): each
// LargeString joins the arena and leaves it again, so without this thread
// every buffer freed before then went back to the kernel, and the next
// ones were fresh memory to fault in and zero (on a compressed SVD of 32
// MB blocks, the kernel zeroing pages was 22.9% of the workers' samples,
// 0.4% with it). The same rule still empties the arena a LargeString's
// thread leaves to join this one, when that thread was its only one: that
// arena's small freed pages, not large buffers.
//
// Best effort: without the thread, buffers still come from the arena.
// A child process forked from a dagd program would have the arena and
// not the thread; every dagd program that forks runs exec at once.
void KeepAssociated(unsigned arena) {
  std::promise<void> joined;
  std::future<void> done = joined.get_future();
  // Signals go to the program's own threads, never to this one: blocked
  // here before it starts, so there is no moment when it could take one.
  sigset_t all;
  sigset_t previous;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &previous);
  bool started = true;
  try {
    std::thread([arena, joined = std::move(joined)]() mutable {
      // Should it fail, the arena works as it would without this thread.
      unsigned joining = arena;
      mallctl("thread.arena", nullptr, nullptr, &joining, sizeof(joining));
      joined.set_value();
      // Waits forever: nothing ever notifies it.
      std::mutex mu;
      std::condition_variable never;
      std::unique_lock<std::mutex> lock(mu);
      never.wait(lock, [] { return false; });
    }).detach();
  } catch (const std::system_error&) {
    // No thread to be had: the arena works, purged more often.
    started = false;
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  if (started) done.wait();
}

std::optional<unsigned> MakeArena() {
  if (mallctl == nullptr) return std::nullopt;
  unsigned arena = 0;
  size_t size = sizeof(arena);
  if (mallctl("arenas.create", &arena, &size, nullptr, 0) != 0) {
    return std::nullopt;
  }
  ssize_t decay = kLargeBufferDecayMs;
  for (const char* kind : {"dirty_decay_ms", "muzzy_decay_ms"}) {
    const std::string name = absl::StrCat("arena.", arena, ".", kind);
    // Best effort: with jemalloc's default decay the arena works the same.
    mallctl(name.c_str(), nullptr, nullptr, &decay, sizeof(decay));
  }
  KeepAssociated(arena);
  return arena;
}

// Makes the calling thread allocate from `arena` until destroyed, then
// from the arena it had.
class ArenaScope {
 public:
  explicit ArenaScope(unsigned arena) {
    size_t size = sizeof(previous_);
    bound_ =
        mallctl("thread.arena", &previous_, &size, &arena, sizeof(arena)) == 0;
  }
  ~ArenaScope() {
    if (bound_) {
      mallctl("thread.arena", nullptr, nullptr, &previous_, sizeof(previous_));
    }
  }
  ArenaScope(const ArenaScope&) = delete;
  ArenaScope& operator=(const ArenaScope&) = delete;

 private:
  unsigned previous_ = 0;
  bool bound_ = false;
};

}  // namespace

std::optional<unsigned> LargeBufferArena() {
  static const std::optional<unsigned> arena = MakeArena();
  return arena;
}

std::string LargeString(size_t capacity) {
  constexpr uintptr_t kHugePage = uintptr_t{2} << 20;
  std::string buffer;
  if (capacity < kWorthIt) {
    buffer.reserve(capacity);
    return buffer;
  }
  if (std::optional<unsigned> arena = LargeBufferArena(); arena.has_value()) {
    ArenaScope scope(*arena);
    buffer.reserve(capacity);
  } else {
    buffer.reserve(capacity);
  }
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

uint64_t LowestMemoryLimit(uint64_t physical,
                           std::initializer_list<const char*> limit_files) {
  uint64_t memory = physical;
  for (const char* limit_file : limit_files) {
    const uint64_t limit = NumberInFile(limit_file);
    if (limit > 0 && limit < memory) memory = limit;
  }
  return memory;
}

uint64_t MemoryLimitBytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGESIZE);
  // cgroup v2, then v1.
  return LowestMemoryLimit(pages > 0 && page_size > 0
                               ? static_cast<uint64_t>(pages) * page_size
                               : uint64_t{4} << 30,
                           {"/sys/fs/cgroup/memory.max",
                            "/sys/fs/cgroup/memory/memory.limit_in_bytes"});
}

}  // namespace dagd
