#ifndef DAGD_SERVER_WORKER_ID_H_
#define DAGD_SERVER_WORKER_ID_H_

#include <cstdint>

namespace dagd {

// A worker stream's id: the coordinator's incarnation (how many times it
// has started on its data directory) in the high 32 bits, a counter in the
// low ones. Unique across restarts, so reports made to an earlier
// incarnation never match an attempt of this one.
using WorkerId = uint64_t;

}  // namespace dagd

#endif  // DAGD_SERVER_WORKER_ID_H_
