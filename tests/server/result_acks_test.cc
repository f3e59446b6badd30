#include "server/result_acks.h"

#include "gtest/gtest.h"

namespace dagd {
namespace {

using Sends = absl::flat_hash_map<WorkerId, v1::CoordinatorBatch>;

constexpr WorkerId kWorker = 1;
constexpr WorkerId kOther = 2;

TEST(ResultAcksTest, RidesOnABatchSentAnyway) {
  ResultAcks acks(AckPolicy{});
  acks.Received(kWorker, 1, 10);
  acks.Received(kWorker, 2, 10);
  Sends sends;
  sends[kWorker].add_cancels();
  acks.Flush(sends);
  EXPECT_EQ(sends[kWorker].acked_up_to(), 2u);
  EXPECT_EQ(acks.waiting(), 0u);
  // Said once: the next batch carries nothing new.
  Sends next;
  next[kWorker].add_cancels();
  acks.Flush(next);
  EXPECT_EQ(next[kWorker].acked_up_to(), 0u);
}

TEST(ResultAcksTest, NoBatchOfItsOwnUntilAsked) {
  ResultAcks acks(AckPolicy{});
  acks.Received(kWorker, 1, 10);
  Sends sends;
  sends[kOther].add_cancels();
  acks.Flush(sends);
  EXPECT_FALSE(sends.contains(kWorker));
  EXPECT_EQ(sends[kOther].acked_up_to(), 0u);
  EXPECT_EQ(acks.waiting(), 1u);
  acks.Received(kWorker, 2, 10);
  acks.Requested(kWorker);  // a heartbeat
  Sends later;
  acks.Flush(later);
  ASSERT_TRUE(later.contains(kWorker));
  EXPECT_EQ(later[kWorker].acked_up_to(), 2u);
  EXPECT_EQ(later[kWorker].assignments_size(), 0);
}

TEST(ResultAcksTest, RequestWithNothingUnacknowledgedSendsNothing) {
  ResultAcks acks(AckPolicy{});
  acks.Requested(kWorker);
  Sends sends;
  acks.Flush(sends);
  EXPECT_TRUE(sends.empty());
  // Nor does the request linger for results read later.
  acks.Received(kWorker, 1, 10);
  acks.Flush(sends);
  EXPECT_TRUE(sends.empty());
}

TEST(ResultAcksTest, ManyResultsGetABatchOfTheirOwn) {
  ResultAcks acks(AckPolicy{/*max_results=*/3, /*max_bytes=*/1 << 20});
  acks.Received(kWorker, 1, 10);
  acks.Received(kWorker, 2, 10);
  Sends sends;
  acks.Flush(sends);
  EXPECT_TRUE(sends.empty());
  acks.Received(kWorker, 3, 10);
  acks.Flush(sends);
  EXPECT_EQ(sends[kWorker].acked_up_to(), 3u);
}

TEST(ResultAcksTest, LargeResultsGetABatchOfTheirOwn) {
  ResultAcks acks(AckPolicy{/*max_results=*/256, /*max_bytes=*/1000});
  acks.Received(kWorker, 5, 600);
  Sends sends;
  acks.Flush(sends);
  EXPECT_TRUE(sends.empty());
  acks.Received(kWorker, 6, 600);
  acks.Flush(sends);
  EXPECT_EQ(sends[kWorker].acked_up_to(), 6u);
}

TEST(ResultAcksTest, OneAcknowledgesEveryResultInItsTurn) {
  ResultAcks acks(AckPolicy{/*max_results=*/1, /*max_bytes=*/1 << 20});
  acks.Received(kWorker, 1, 0);
  Sends sends;
  acks.Flush(sends);
  EXPECT_EQ(sends[kWorker].acked_up_to(), 1u);
}

TEST(ResultAcksTest, OutOfOrderNumbersAcknowledgeTheHighest) {
  ResultAcks acks(AckPolicy{});
  acks.Received(kWorker, 8, 0);
  acks.Received(kWorker, 7, 0);  // a duplicate of an earlier report
  acks.Requested(kWorker);
  Sends sends;
  acks.Flush(sends);
  EXPECT_EQ(sends[kWorker].acked_up_to(), 8u);
}

TEST(ResultAcksTest, UnnumberedResultsNeedNoAcknowledgement) {
  ResultAcks acks(AckPolicy{/*max_results=*/1, /*max_bytes=*/1});
  acks.Received(kWorker, 0, 100);
  acks.Requested(kWorker);
  Sends sends;
  acks.Flush(sends);
  EXPECT_TRUE(sends.empty());
  EXPECT_EQ(acks.waiting(), 0u);
}

TEST(ResultAcksTest, AGoneWorkerIsNotAcknowledged) {
  ResultAcks acks(AckPolicy{});
  acks.Received(kWorker, 1, 10);
  acks.Requested(kWorker);
  acks.Forget(kWorker);
  Sends sends;
  acks.Flush(sends);
  EXPECT_TRUE(sends.empty());
  EXPECT_EQ(acks.waiting(), 0u);
}

}  // namespace
}  // namespace dagd
