#ifndef DAGD_SERVER_WORKER_ID_H_
#define DAGD_SERVER_WORKER_ID_H_

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace dagd {

// A worker stream's id: the coordinator's incarnation (how many times it
// has started on its data directory) in the high 32 bits, a counter in the
// low ones. Unique across restarts, so reports made to an earlier
// incarnation never match an attempt of this one.
using WorkerId = uint64_t;

// A worker process as its name and process instance (Register.instance)
// say, length-prefixed so that no choice of names makes two processes'
// keys equal: the key of its held results (Scheduler's holders) and, under
// a certificate, of its place on the roster.
inline std::string ProcessKey(absl::string_view name,
                              absl::string_view instance) {
  return absl::StrCat(name.size(), ":", name, "/", instance);
}

}  // namespace dagd

#endif  // DAGD_SERVER_WORKER_ID_H_
