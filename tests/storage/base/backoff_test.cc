#include "storage/base/backoff.h"

#include "gtest/gtest.h"

namespace dagd {
namespace {

TEST(BackoffTest, DoublesUpToTheMaximum) {
  Backoff backoff(absl::Milliseconds(100), absl::Milliseconds(500),
                  [] { return 1.0; });
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(100));
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(200));
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(400));
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(500));
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(500));
}

TEST(BackoffTest, JitterScalesDownToHalf) {
  Backoff backoff(absl::Milliseconds(100), absl::Seconds(5),
                  [] { return 0.0; });
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(50));
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(100));
}

TEST(BackoffTest, ResetStartsOver) {
  Backoff backoff(absl::Milliseconds(100), absl::Seconds(5),
                  [] { return 1.0; });
  backoff.Next();
  backoff.Next();
  backoff.Reset();
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(100));
}

}  // namespace
}  // namespace dagd
