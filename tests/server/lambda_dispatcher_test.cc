// The Lambda dispatcher as the coordinator sees it: the worker it says it
// is (so that main does not build that worker by hand).
#include "server/lambda_dispatcher.h"

#include <memory>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/fake_clock.h"

namespace dagd {
namespace {

std::unique_ptr<LambdaDispatcher> Dispatcher(uint32_t max_concurrency) {
  static FakeClock clock;
  LambdaOptions options;
  options.max_concurrency = max_concurrency;
  // Never started: Spec needs neither credentials nor a thread.
  return std::make_unique<LambdaDispatcher>(
      options, /*credentials=*/nullptr, &clock, [] { return 0.5; },
      [](v1::WorkerMessage) {});
}

TEST(LambdaDispatcherTest, DescribesItselfAsTheLambdaPoolsWorker) {
  WorkerSpec spec = Dispatcher(100)->Spec();
  EXPECT_EQ(spec.name, "lambda");
  EXPECT_EQ(spec.pool, kLambdaPool);
  EXPECT_EQ(spec.slots, 100u);
  EXPECT_TRUE(spec.any_function);
  EXPECT_TRUE(spec.lambda);  // it serves executor "lambda" and bursts
  EXPECT_TRUE(spec.functions.empty());
  EXPECT_TRUE(spec.runtimes.empty());
}

TEST(LambdaDispatcherTest, HasAtLeastOneSlot) {
  EXPECT_EQ(Dispatcher(0)->Spec().slots, 1u);
}

// Every call ends, within Lambda's own 15 minutes and the grace (a call
// hung for good when a NAT gateway lost the connection under it).
TEST(LambdaCallLimitTest, ACallWaitsLambdasLongestRunAndTheGrace) {
  EXPECT_EQ(LambdaCallLimit(absl::Seconds(10)),
            absl::Minutes(15) + absl::Seconds(10));
}

// A Retry-After longer than the backoff is honoured, and spread: calls
// throttled together do not all come back in one instant.
TEST(LambdaRetryDelayTest, WhatTheServiceAskedIsHonouredAndSpread) {
  const absl::Duration backoff = absl::Milliseconds(200);
  EXPECT_EQ(LambdaRetryDelay(absl::ZeroDuration(), backoff, 0.9), backoff);
  EXPECT_EQ(LambdaRetryDelay(absl::Seconds(1), backoff, 0.0), absl::Seconds(1));
  EXPECT_EQ(LambdaRetryDelay(absl::Seconds(1), backoff, 0.5),
            absl::Milliseconds(1100));
  EXPECT_NE(LambdaRetryDelay(absl::Seconds(1), backoff, 0.1),
            LambdaRetryDelay(absl::Seconds(1), backoff, 0.9));
}

}  // namespace
}  // namespace dagd
