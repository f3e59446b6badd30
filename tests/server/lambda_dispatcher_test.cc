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

}  // namespace
}  // namespace dagd
