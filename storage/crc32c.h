// CRC-32C (Castagnoli), the checksum dagd records for results kept in an
// object store, and the one S3 accepts as x-amz-checksum-crc32c.
//
// Uses the SSE4.2 crc32 instruction when the CPU has it, else a
// slicing-by-8 table; both give the same values. Thread-safe (no state).
#ifndef DAGD_STORAGE_CRC32C_H_
#define DAGD_STORAGE_CRC32C_H_

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace dagd::crc32c {

// The CRC-32C of `data` appended to a string whose CRC-32C is `crc`:
// Extend(Value(a), b) == Value(a + b).
uint32_t Extend(uint32_t crc, const char* data, size_t n);

inline uint32_t Value(absl::string_view data) {
  return Extend(0, data.data(), data.size());
}

// The table implementation alone, whatever the CPU (for tests).
uint32_t ExtendPortable(uint32_t crc, const char* data, size_t n);

}  // namespace dagd::crc32c

#endif  // DAGD_STORAGE_CRC32C_H_
