// jemalloc's options for dagd-worker, read by jemalloc at its start (when
// the worker is linked with it; the C library's malloc ignores the symbol).
//
// oversize_threshold:0 — by default jemalloc puts every allocation of 8 MiB
// and more in an arena of its own that returns freed memory to the kernel
// at once. A worker's large buffers (a task's output read from a Python
// interpreter, a result fetched from a peer) are exactly those: each was
// fresh memory, which the kernel zeroes page by page as it is touched.
// Zeroing then took 17% of the workers' CPU on a graph of 32 MB blocks.
// With the threshold off they come from the ordinary arenas and are reused
// while the worker is busy; freed memory still goes back to the kernel
// over jemalloc's dirty_decay_ms (10 s). MALLOC_CONF overrides it.
extern "C" {
// NOLINTNEXTLINE: jemalloc looks the symbol up by this name.
const char* malloc_conf = "oversize_threshold:0";
}
