// The seal of an attempt dagd hands a worker (TaskRef.seal): a keyed hash
// (SipHash-2-4) of the job, the task, the attempt and the worker's name,
// under a key only dagd holds (MetaStore::AttemptKey). A worker cannot make
// one for an attempt it was not given, nor use another worker's.
#ifndef DAGD_SERVER_ATTEMPT_SEAL_H_
#define DAGD_SERVER_ATTEMPT_SEAL_H_

#include <cstdint>

#include "absl/strings/string_view.h"
#include "storage/siphash.h"

namespace dagd {

uint64_t AttemptSeal(const SipKey& key, uint64_t seq, uint32_t task,
                     uint32_t attempt, absl::string_view worker);

}  // namespace dagd

#endif  // DAGD_SERVER_ATTEMPT_SEAL_H_
