#include "worker/cancellation.h"

#include <thread>

#include "gtest/gtest.h"

namespace dagd {
namespace {

TEST(CancellationTokenTest, FirstReasonWins) {
  CancellationToken token;
  EXPECT_FALSE(token.cancelled());
  EXPECT_TRUE(token.Cancel(CancelReason::kTimeout));
  EXPECT_FALSE(token.Cancel(CancelReason::kCoordinator));
  EXPECT_TRUE(token.cancelled());
  EXPECT_EQ(token.reason(), CancelReason::kTimeout);
}

TEST(CancellationTokenTest, WaitForReturnsFalseWhenCancelledFromAnotherThread) {
  CancellationToken token;
  std::thread canceller([&] { token.Cancel(CancelReason::kCoordinator); });
  EXPECT_FALSE(token.WaitFor(absl::Hours(1)));
  canceller.join();
}

TEST(CancellationTokenTest, WaitForReturnsTrueAfterTheDuration) {
  CancellationToken token;
  EXPECT_TRUE(token.WaitFor(absl::Milliseconds(1)));
}

TEST(CancellationTokenTest, CallbacksRunOnceOnCancel) {
  CancellationToken token;
  int calls = 0;
  token.AddCallback([&] { ++calls; });
  token.Cancel(CancelReason::kTimeout);
  token.Cancel(CancelReason::kTimeout);
  EXPECT_EQ(calls, 1);
}

TEST(CancellationTokenTest, CallbackAddedAfterCancelRunsAtOnce) {
  CancellationToken token;
  token.Cancel(CancelReason::kShutdown);
  bool ran = false;
  token.AddCallback([&] { ran = true; });
  EXPECT_TRUE(ran);
}

TEST(CancellationTokenTest, RemovedCallbackDoesNotRun) {
  CancellationToken token;
  bool ran = false;
  int handle = token.AddCallback([&] { ran = true; });
  token.RemoveCallback(handle);
  token.Cancel(CancelReason::kCoordinator);
  EXPECT_FALSE(ran);
}

}  // namespace
}  // namespace dagd
