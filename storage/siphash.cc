#include "storage/siphash.h"

#include <cstring>

namespace dagd {
namespace {

inline uint64_t Rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

inline uint64_t LoadLittleEndian64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) {
    v = (v << 8) | static_cast<unsigned char>(p[i]);
  }
  return v;
}

struct State {
  uint64_t v0, v1, v2, v3;
  void Round() {
    v0 += v1;
    v1 = Rotl(v1, 13);
    v1 ^= v0;
    v0 = Rotl(v0, 32);
    v2 += v3;
    v3 = Rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = Rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = Rotl(v1, 17);
    v1 ^= v2;
    v2 = Rotl(v2, 32);
  }
  void Compress(uint64_t m) {
    v3 ^= m;
    Round();
    Round();
    v0 ^= m;
  }
};

}  // namespace

uint64_t SipHash24(const SipKey& key, absl::string_view data) {
  State s{key[0] ^ 0x736f6d6570736575ull, key[1] ^ 0x646f72616e646f6dull,
          key[0] ^ 0x6c7967656e657261ull, key[1] ^ 0x7465646279746573ull};
  const size_t n = data.size();
  const char* p = data.data();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) s.Compress(LoadLittleEndian64(p + i));
  // The last block: the remaining bytes, and the length in the top byte.
  uint64_t last = static_cast<uint64_t>(n & 0xff) << 56;
  for (size_t j = 0; i + j < n; ++j) {
    last |= static_cast<uint64_t>(static_cast<unsigned char>(p[i + j]))
            << (8 * j);
  }
  s.Compress(last);
  s.v2 ^= 0xff;
  for (int r = 0; r < 4; ++r) s.Round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

SipKey SipKeyFromBytes(absl::string_view bytes) {
  char padded[16] = {};
  std::memcpy(padded, bytes.data(), bytes.size() < 16 ? bytes.size() : 16);
  return {LoadLittleEndian64(padded), LoadLittleEndian64(padded + 8)};
}

}  // namespace dagd
