// Sizes in bytes as operators write them in flags and files.
#ifndef DAGD_STORAGE_BASE_BYTE_SIZE_H_
#define DAGD_STORAGE_BASE_BYTE_SIZE_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dagd {

// A number of bytes: whole digits, optionally followed by K, M, G or T
// (powers of 1024; KiB, MiB, GiB and TiB say the same), e.g. "512M".
// INVALID_ARGUMENT names what is wrong.
absl::StatusOr<uint64_t> ParseByteSize(absl::string_view text);

}  // namespace dagd

#endif  // DAGD_STORAGE_BASE_BYTE_SIZE_H_
