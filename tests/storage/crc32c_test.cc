#include "storage/crc32c.h"

#include <cstdint>
#include <random>
#include <string>

#include "gtest/gtest.h"

namespace dagd::crc32c {
namespace {

std::string Bytes(size_t n, int first, int step) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) {
    s[i] = static_cast<char>(first + step * static_cast<int>(i));
  }
  return s;
}

// RFC 3720 (iSCSI) appendix B.4 and the usual check value.
TEST(Crc32cTest, KnownValues) {
  EXPECT_EQ(Value(""), 0u);
  EXPECT_EQ(Value("123456789"), 0xe3069283u);
  EXPECT_EQ(Value(std::string(32, '\0')), 0x8a9136aau);
  EXPECT_EQ(Value(std::string(32, '\xff')), 0x62a8ab43u);
  EXPECT_EQ(Value(Bytes(32, 0, 1)), 0x46dd794eu);
  EXPECT_EQ(Value(Bytes(32, 31, -1)), 0x113fdb5cu);
}

TEST(Crc32cTest, PortableAgreesWithKnownValues) {
  std::string check = "123456789";
  EXPECT_EQ(ExtendPortable(0, check.data(), check.size()), 0xe3069283u);
  std::string ascending = Bytes(32, 0, 1);
  EXPECT_EQ(ExtendPortable(0, ascending.data(), ascending.size()), 0x46dd794eu);
}

TEST(Crc32cTest, ExtendConcatenatesAndMatchesPortableAtEveryLengthAndOffset) {
  std::mt19937 random(42);
  std::string data(4096 + 16, '\0');
  for (char& c : data) c = static_cast<char>(random());
  for (size_t offset = 0; offset < 8; ++offset) {
    for (size_t n : {0, 1, 7, 8, 9, 15, 16, 63, 64, 65, 1000, 4096}) {
      const char* p = data.data() + offset;
      uint32_t whole = Extend(0, p, n);
      ASSERT_EQ(whole, ExtendPortable(0, p, n)) << offset << " " << n;
      for (size_t split : {size_t{0}, n / 3, n}) {
        EXPECT_EQ(Extend(Extend(0, p, split), p + split, n - split), whole)
            << offset << " " << n << " " << split;
      }
    }
  }
}

// Long buffers go three stripes of 4 KiB at a time, joined by table: every
// length around a round's edge, and many rounds, agree with the table
// implementation, from any starting CRC.
TEST(Crc32cTest, LongBuffersAgreeWithPortableAroundEveryRound) {
  std::mt19937 random(7);
  std::string data((1 << 20) + 64, '\0');
  for (char& c : data) c = static_cast<char>(random());
  constexpr size_t kRound = 3 * 4096;
  for (size_t n :
       {kRound - 1, kRound, kRound + 1, kRound + 8, 2 * kRound - 3, 2 * kRound,
        5 * kRound + 4095, size_t{1} << 20, (size_t{1} << 20) + 61}) {
    for (uint32_t start : {0u, 0xe3069283u, 0xffffffffu}) {
      for (size_t offset : {0, 3}) {
        const char* p = data.data() + offset;
        ASSERT_EQ(Extend(start, p, n), ExtendPortable(start, p, n))
            << n << " " << start << " " << offset;
      }
    }
  }
  // Zeros: a stripe whose state is all ones must shift like any other.
  const std::string zeros(4 * kRound, '\0');
  EXPECT_EQ(Value(zeros), ExtendPortable(0, zeros.data(), zeros.size()));
}

}  // namespace
}  // namespace dagd::crc32c
