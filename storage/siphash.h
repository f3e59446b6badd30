// SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed hash built to
// authenticate short messages. dagd seals each attempt it hands a worker
// with it (Scheduler), so that a result can prove it comes from the attempt
// and the worker it was given to, even after a restart of dagd, without
// storing anything per assignment: a few rounds of adds, rotates and
// xors over an attempt's few bytes, where HMAC-SHA-256 would run four
// SHA-256 blocks (not measured here).
#ifndef DAGD_STORAGE_SIPHASH_H_
#define DAGD_STORAGE_SIPHASH_H_

#include <array>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace dagd {

using SipKey = std::array<uint64_t, 2>;

// The 64-bit SipHash-2-4 of `data` under `key`. The key's two words are
// k0 and k1 as the paper reads them from 16 little-endian bytes.
uint64_t SipHash24(const SipKey& key, absl::string_view data);

// A key from 16 bytes (little-endian words); others are zero-padded or cut.
SipKey SipKeyFromBytes(absl::string_view bytes);

}  // namespace dagd

#endif  // DAGD_STORAGE_SIPHASH_H_
