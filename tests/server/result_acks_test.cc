#include "server/result_acks.h"

#include "gtest/gtest.h"

namespace dagd {
namespace {

using Sends = absl::flat_hash_map<WorkerId, v1::CoordinatorBatch>;

constexpr WorkerId kResultWorker = 1;
constexpr WorkerId kSecond = 2;

TEST(ResultAcksTest, RidesOnABatchSentAnyway) {
  ResultAcks acks(AckPolicy{});
  acks.Received(kResultWorker, 1, 10);
  acks.Received(kResultWorker, 2, 10);
  Sends sends;
  sends[kResultWorker].add_cancels();
  acks.Flush(sends);
  EXPECT_EQ(sends[kResultWorker].acked_up_to(), 2u);
  EXPECT_EQ(acks.waiting(), 0u);
  // Said once: the next batch carries nothing new.
  Sends next;
  next[kResultWorker].add_cancels();
  acks.Flush(next);
  EXPECT_EQ(next[kResultWorker].acked_up_to(), 0u);
}

TEST(ResultAcksTest, NoBatchOfItsOwnUntilAsked) {
  ResultAcks acks(AckPolicy{});
  acks.Received(kResultWorker, 1, 10);
  Sends sends;
  sends[kSecond].add_cancels();
  acks.Flush(sends);
  EXPECT_FALSE(sends.contains(kResultWorker));
  EXPECT_EQ(sends[kSecond].acked_up_to(), 0u);
  EXPECT_EQ(acks.waiting(), 1u);
  acks.Received(kResultWorker, 2, 10);
  acks.Requested(kResultWorker);  // a heartbeat
  Sends later;
  acks.Flush(later);
  ASSERT_TRUE(later.contains(kResultWorker));
  EXPECT_EQ(later[kResultWorker].acked_up_to(), 2u);
  EXPECT_EQ(later[kResultWorker].assignments_size(), 0);
}

TEST(ResultAcksTest, RequestWithNothingUnacknowledgedSendsNothing) {
  ResultAcks acks(AckPolicy{});
  acks.Requested(kResultWorker);
  Sends sends;
  acks.Flush(sends);
  EXPECT_TRUE(sends.empty());
  // Nor does the request linger for results read later.
  acks.Received(kResultWorker, 1, 10);
  acks.Flush(sends);
  EXPECT_TRUE(sends.empty());
}

TEST(ResultAcksTest, ManyResultsGetABatchOfTheirOwn) {
  ResultAcks acks(AckPolicy{/*max_results=*/3, /*max_bytes=*/1 << 20});
  acks.Received(kResultWorker, 1, 10);
  acks.Received(kResultWorker, 2, 10);
  Sends sends;
  acks.Flush(sends);
  EXPECT_TRUE(sends.empty());
  acks.Received(kResultWorker, 3, 10);
  acks.Flush(sends);
  EXPECT_EQ(sends[kResultWorker].acked_up_to(), 3u);
}

TEST(ResultAcksTest, LargeResultsGetABatchOfTheirOwn) {
  ResultAcks acks(AckPolicy{/*max_results=*/256, /*max_bytes=*/1000});
  acks.Received(kResultWorker, 5, 600);
  Sends sends;
  acks.Flush(sends);
  EXPECT_TRUE(sends.empty());
  acks.Received(kResultWorker, 6, 600);
  acks.Flush(sends);
  EXPECT_EQ(sends[kResultWorker].acked_up_to(), 6u);
}

TEST(ResultAcksTest, OneAcknowledgesEveryResultInItsTurn) {
  ResultAcks acks(AckPolicy{/*max_results=*/1, /*max_bytes=*/1 << 20});
  acks.Received(kResultWorker, 1, 0);
  Sends sends;
  acks.Flush(sends);
  EXPECT_EQ(sends[kResultWorker].acked_up_to(), 1u);
}

TEST(ResultAcksTest, OutOfOrderNumbersAcknowledgeTheHighest) {
  ResultAcks acks(AckPolicy{});
  acks.Received(kResultWorker, 8, 0);
  acks.Received(kResultWorker, 7, 0);  // a duplicate of an earlier report
  acks.Requested(kResultWorker);
  Sends sends;
  acks.Flush(sends);
  EXPECT_EQ(sends[kResultWorker].acked_up_to(), 8u);
}

TEST(ResultAcksTest, UnnumberedResultsNeedNoAcknowledgement) {
  ResultAcks acks(AckPolicy{/*max_results=*/1, /*max_bytes=*/1});
  acks.Received(kResultWorker, 0, 100);
  acks.Requested(kResultWorker);
  Sends sends;
  acks.Flush(sends);
  EXPECT_TRUE(sends.empty());
  EXPECT_EQ(acks.waiting(), 0u);
}

TEST(ResultAcksTest, AGoneWorkerIsNotAcknowledged) {
  ResultAcks acks(AckPolicy{});
  acks.Received(kResultWorker, 1, 10);
  acks.Requested(kResultWorker);
  acks.Forget(kResultWorker);
  Sends sends;
  acks.Flush(sends);
  EXPECT_TRUE(sends.empty());
  EXPECT_EQ(acks.waiting(), 0u);
}

}  // namespace
}  // namespace dagd
