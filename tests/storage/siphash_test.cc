#include "storage/siphash.h"

#include <string>

#include "gtest/gtest.h"

namespace dagd {
namespace {

// The key and messages of the reference implementation's test vectors:
// key 00 01 .. 0f, message 00 01 .. (n-1).
std::string Counting(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s.push_back(static_cast<char>(i));
  return s;
}

TEST(SipHashTest, MatchesTheReferenceVectors) {
  const SipKey key = SipKeyFromBytes(Counting(16));
  // From the SipHash paper (appendix A) and the reference vectors.h.
  EXPECT_EQ(SipHash24(key, Counting(15)), 0xa129ca6149be45e5ull);
  EXPECT_EQ(SipHash24(key, ""), 0x726fdb47dd0e0e31ull);
  EXPECT_EQ(SipHash24(key, Counting(1)), 0x74f839c593dc67fdull);
  EXPECT_EQ(SipHash24(key, Counting(8)), 0x93f5f5799a932462ull);
}

TEST(SipHashTest, DependsOnTheKeyAndEveryByte) {
  const SipKey key = SipKeyFromBytes(Counting(16));
  const SipKey other = SipKeyFromBytes("another key.....");
  const std::string message = "j7/3/1/worker-1";
  EXPECT_NE(SipHash24(key, message), SipHash24(other, message));
  std::string changed = message;
  changed.back() = '2';
  EXPECT_NE(SipHash24(key, message), SipHash24(key, changed));
}

}  // namespace
}  // namespace dagd
