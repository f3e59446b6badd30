#include "storage/base/backoff.h"

#include <cstdint>

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

TEST(BackoffTest, AMaximumBelowTheInitialStepIsTheInitialStep) {
  Backoff backoff(absl::Milliseconds(500), absl::Milliseconds(100),
                  [] { return 1.0; });
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(500));
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(500));
}

TEST(BackoffTest, RetryingForeverStaysAtTheMaximum) {
  Backoff backoff(absl::Milliseconds(100), absl::Seconds(5),
                  [] { return 1.0; });
  for (int i = 0; i < 100000; ++i) backoff.Next();
  EXPECT_EQ(backoff.Next(), absl::Seconds(5));
}

// A task's retry policy: initialBackoff 2s, multiplier 3, maxBackoff 60s.
TEST(BackoffDelayTest, StepsGrowByTheMultiplierUpToTheMaximum) {
  const BackoffPolicy policy{absl::Seconds(2), absl::Seconds(60), 3.0};
  EXPECT_EQ(BackoffDelay(policy, 1, 1.0), absl::Seconds(2));
  EXPECT_EQ(BackoffDelay(policy, 2, 1.0), absl::Seconds(6));
  EXPECT_EQ(BackoffDelay(policy, 3, 1.0), absl::Seconds(18));
  EXPECT_EQ(BackoffDelay(policy, 4, 1.0), absl::Seconds(54));
  EXPECT_EQ(BackoffDelay(policy, 5, 1.0), absl::Seconds(60));
}

TEST(BackoffDelayTest, JitterKeepsBetweenHalfAndAllOfTheStep) {
  const BackoffPolicy policy{absl::Seconds(1), absl::Seconds(60)};
  EXPECT_EQ(BackoffDelay(policy, 3, 0.0), absl::Seconds(2));
  EXPECT_EQ(BackoffDelay(policy, 3, 0.5), absl::Seconds(3));
  EXPECT_EQ(BackoffDelay(policy, 3, 1.0), absl::Seconds(4));
}

TEST(BackoffDelayTest, RetryZeroCountsAsTheFirst) {
  const BackoffPolicy policy{absl::Milliseconds(100), absl::Seconds(20)};
  EXPECT_EQ(BackoffDelay(policy, 0, 1.0), BackoffDelay(policy, 1, 1.0));
}

TEST(BackoffDelayTest, NoRetryCountOverflowsPastTheMaximum) {
  const BackoffPolicy policy{absl::Seconds(1), absl::Seconds(60), 10.0};
  EXPECT_EQ(BackoffDelay(policy, 400, 1.0), absl::Seconds(60));
  EXPECT_EQ(BackoffDelay(policy, UINT32_MAX, 0.0), absl::Seconds(30));
}

TEST(BackoffDelayTest, AMaximumBelowTheInitialStepWins) {
  const BackoffPolicy policy{absl::Seconds(5), absl::Seconds(1)};
  EXPECT_EQ(BackoffDelay(policy, 1, 1.0), absl::Seconds(1));
}

}  // namespace
}  // namespace dagd
