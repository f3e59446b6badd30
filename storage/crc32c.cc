#include "storage/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace dagd::crc32c {
namespace {

constexpr uint32_t kPolynomial = 0x82f63b78;  // Castagnoli, bit-reversed

// tables[k][b]: the CRC of byte b followed by k zero bytes.
using Tables = std::array<std::array<uint32_t, 256>, 8>;

constexpr Tables MakeTables() {
  Tables tables{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t crc = b;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc >> 1) ^ ((crc & 1) ? kPolynomial : 0);
    }
    tables[0][b] = crc;
  }
  for (uint32_t b = 0; b < 256; ++b) {
    for (int k = 1; k < 8; ++k) {
      uint32_t prev = tables[k - 1][b];
      tables[k][b] = (prev >> 8) ^ tables[0][prev & 0xff];
    }
  }
  return tables;
}

constexpr Tables kTables = MakeTables();

uint64_t LoadLittleEndian64(const unsigned char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  return v;
}

#if defined(__x86_64__)
// The crc32 instruction takes three cycles and can start one every cycle:
// one stream of it runs at a third of the speed the CPU has. So a long
// buffer goes in rounds of three stripes, each stripe its own stream, and
// the three are joined: with f(s, D) the CRC state after D from state s,
// f(s, A B C) = Z(Z(f(s, A)) ^ f(0, B)) ^ f(0, C), Z being kStripe zero
// bytes (a linear map of the state, applied by table).
constexpr size_t kStripe = 4096;

// shift[k][b]: Z of the state whose byte k is b and others are zero.
using ShiftTables = std::array<std::array<uint32_t, 256>, 4>;

ShiftTables MakeShiftTables() {
  // Z of each single-bit state, by feeding it kStripe zero bytes.
  std::array<uint32_t, 32> bit{};
  for (int i = 0; i < 32; ++i) {
    uint32_t state = uint32_t{1} << i;
    for (size_t n = 0; n < kStripe; ++n) {
      state = (state >> 8) ^ kTables[0][state & 0xff];
    }
    bit[i] = state;
  }
  ShiftTables shift{};
  for (int k = 0; k < 4; ++k) {
    for (uint32_t b = 0; b < 256; ++b) {
      uint32_t z = 0;
      for (int i = 0; i < 8; ++i) {
        if (b & (1u << i)) z ^= bit[8 * k + i];
      }
      shift[k][b] = z;
    }
  }
  return shift;
}

uint32_t ShiftStripe(const ShiftTables& shift, uint32_t state) {
  return shift[0][state & 0xff] ^ shift[1][(state >> 8) & 0xff] ^
         shift[2][(state >> 16) & 0xff] ^ shift[3][state >> 24];
}

__attribute__((target("sse4.2"))) uint32_t ExtendSse42(uint32_t crc,
                                                       const char* data,
                                                       size_t n) {
  const auto* p = reinterpret_cast<const unsigned char*>(data);
  uint64_t c = ~crc;
  if (n >= 3 * kStripe) {
    static const ShiftTables shift = MakeShiftTables();
    for (; n >= 3 * kStripe; n -= 3 * kStripe, p += 3 * kStripe) {
      uint64_t c1 = 0;
      uint64_t c2 = 0;
      for (size_t i = 0; i < kStripe; i += 8) {
        uint64_t v0, v1, v2;
        std::memcpy(&v0, p + i, sizeof(v0));
        std::memcpy(&v1, p + kStripe + i, sizeof(v1));
        std::memcpy(&v2, p + 2 * kStripe + i, sizeof(v2));
        c = _mm_crc32_u64(c, v0);
        c1 = _mm_crc32_u64(c1, v1);
        c2 = _mm_crc32_u64(c2, v2);
      }
      const uint32_t ab = ShiftStripe(shift, static_cast<uint32_t>(c)) ^
                          static_cast<uint32_t>(c1);
      c = ShiftStripe(shift, ab) ^ static_cast<uint32_t>(c2);
    }
  }
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t v;
    std::memcpy(&v, p, sizeof(v));
    c = _mm_crc32_u64(c, v);
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  for (; n > 0; --n, ++p) c32 = _mm_crc32_u8(c32, *p);
  return ~c32;
}

bool HasSse42() {
  static const bool has = __builtin_cpu_supports("sse4.2");
  return has;
}
#endif

}  // namespace

uint32_t ExtendPortable(uint32_t crc, const char* data, size_t n) {
  const auto* p = reinterpret_cast<const unsigned char*>(data);
  uint32_t c = ~crc;
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t v = LoadLittleEndian64(p) ^ c;
    c = kTables[7][v & 0xff] ^ kTables[6][(v >> 8) & 0xff] ^
        kTables[5][(v >> 16) & 0xff] ^ kTables[4][(v >> 24) & 0xff] ^
        kTables[3][(v >> 32) & 0xff] ^ kTables[2][(v >> 40) & 0xff] ^
        kTables[1][(v >> 48) & 0xff] ^ kTables[0][v >> 56];
  }
  for (; n > 0; --n, ++p) c = (c >> 8) ^ kTables[0][(c ^ *p) & 0xff];
  return ~c;
}

uint32_t Extend(uint32_t crc, const char* data, size_t n) {
#if defined(__x86_64__)
  if (HasSse42()) return ExtendSse42(crc, data, n);
#endif
  return ExtendPortable(crc, data, n);
}

}  // namespace dagd::crc32c
