#include "server/attempt_seal.h"

#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"

namespace dagd {

uint64_t AttemptSeal(const SipKey& key, uint64_t seq, uint32_t task,
                     uint32_t attempt, absl::string_view worker) {
  // seq, task and attempt in fixed places, then the name: no two attempts'
  // inputs are the same bytes. On the stack, since every assignment is
  // sealed; names longer than the buffer take an allocation.
  char fixed[16];
  std::memcpy(fixed, &seq, 8);
  std::memcpy(fixed + 8, &task, 4);
  std::memcpy(fixed + 12, &attempt, 4);
  char buffer[256];
  if (worker.size() <= sizeof(buffer) - sizeof(fixed)) {
    std::memcpy(buffer, fixed, sizeof(fixed));
    std::memcpy(buffer + sizeof(fixed), worker.data(), worker.size());
    return SipHash24(key,
                     absl::string_view(buffer, sizeof(fixed) + worker.size()));
  }
  return SipHash24(
      key, absl::StrCat(absl::string_view(fixed, sizeof(fixed)), worker));
}

}  // namespace dagd
