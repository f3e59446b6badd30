#include "worker/outbox.h"

#include <algorithm>
#include <thread>

#include "gtest/gtest.h"

namespace dagd {
namespace {

v1::TaskResult Result(uint32_t index) {
  v1::TaskResult result;
  result.mutable_task()->set_job_id("j1");
  result.mutable_task()->set_task_index(index);
  result.mutable_task()->set_attempt(1);
  return result;
}

// Acknowledges every result of `batch`, as dagd does once it stored them.
void AckAll(Outbox& outbox, const v1::WorkerBatch& batch) {
  uint64_t up_to = 0;
  for (const v1::TaskResult& result : batch.results()) {
    up_to = std::max(up_to, result.report_order());
  }
  outbox.Ack(up_to);
}

TEST(OutboxTest, TakeMovesEverythingPendingIntoOneBatch) {
  Outbox outbox;
  v1::TaskStarted started;
  started.mutable_task()->set_task_index(7);
  outbox.Started(started);
  outbox.Finished(Result(1));
  outbox.Finished(Result(2));
  v1::WorkerBatch batch;
  ASSERT_EQ(outbox.Take(absl::InfiniteFuture(), &batch),
            Outbox::TakeResult::kBatch);
  EXPECT_EQ(batch.started_size(), 1);
  ASSERT_EQ(batch.results_size(), 2);
  EXPECT_EQ(batch.results(1).task().task_index(), 2u);
  // Taken is not forgotten: both wait for their acknowledgement.
  EXPECT_EQ(outbox.pending_results(), 2u);
  EXPECT_EQ(outbox.Take(absl::Now(), &batch), Outbox::TakeResult::kTimeout);
}

v1::TaskStarted StartedOf(uint32_t index) {
  v1::TaskStarted started;
  *started.mutable_task() = Result(index).task();
  started.set_started_unix_ms(1000 + index);
  return started;
}

TEST(OutboxTest, AStartNoticeWaitsItsDelayAndGoesWithNoResultBeforeIt) {
  Outbox outbox(absl::Hours(1));
  outbox.Started(StartedOf(1));
  outbox.Started(StartedOf(2));
  // Not due for an hour: a writer waiting until now has nothing to send.
  v1::WorkerBatch batch;
  EXPECT_EQ(outbox.Take(absl::Now() + absl::Milliseconds(20), &batch),
            Outbox::TakeResult::kTimeout);
  // Task 1 ends: its result goes, and its notice never will.
  outbox.Finished(Result(1));
  ASSERT_EQ(outbox.Take(absl::Now(), &batch), Outbox::TakeResult::kBatch);
  EXPECT_EQ(batch.started_size(), 0);
  ASSERT_EQ(batch.results_size(), 1);
  EXPECT_EQ(batch.results(0).task().task_index(), 1u);
  outbox.Sent(std::move(batch));
  EXPECT_EQ(outbox.Take(absl::Now(), &batch), Outbox::TakeResult::kTimeout);
}

TEST(OutboxTest, AWaitingWriterWakesWhenAStartNoticeFallsDue) {
  Outbox outbox(absl::Milliseconds(20));
  outbox.Started(StartedOf(3));
  // Nothing else touches the outbox: the writer must wake for the notice
  // by itself, not wait for its own deadline (an hour away).
  v1::WorkerBatch batch;
  ASSERT_EQ(outbox.Take(absl::Now() + absl::Hours(1), &batch),
            Outbox::TakeResult::kBatch);
  ASSERT_EQ(batch.started_size(), 1);
  EXPECT_EQ(batch.started(0).task().task_index(), 3u);
  EXPECT_EQ(batch.started(0).started_unix_ms(), 1003);
  EXPECT_EQ(batch.results_size(), 0);
  // A write that failed puts the notice back, due at once.
  outbox.Requeue(std::move(batch));
  ASSERT_EQ(outbox.Take(absl::Now(), &batch), Outbox::TakeResult::kBatch);
  ASSERT_EQ(batch.started_size(), 1);
  EXPECT_EQ(batch.started(0).task().task_index(), 3u);
  // Its result later still goes: the notice went first.
  outbox.Finished(Result(3));
  ASSERT_EQ(outbox.Take(absl::Now(), &batch), Outbox::TakeResult::kBatch);
  EXPECT_EQ(batch.started_size(), 0);
  EXPECT_EQ(batch.results_size(), 1);
}

TEST(OutboxTest, AWriterAlreadyWaitingSendsANoticeReportedMeanwhile) {
  Outbox outbox(absl::Milliseconds(20));
  v1::WorkerBatch batch;
  Outbox::TakeResult taken = Outbox::TakeResult::kTimeout;
  // The writer waits with nothing pending and an hour to go; the notice
  // reported while it waits must go once due, not at the writer's deadline.
  std::thread writer(
      [&] { taken = outbox.Take(absl::Now() + absl::Hours(1), &batch); });
  absl::SleepFor(absl::Milliseconds(50));  // most likely waiting by now
  outbox.Started(StartedOf(4));
  writer.join();
  ASSERT_EQ(taken, Outbox::TakeResult::kBatch);
  ASSERT_EQ(batch.started_size(), 1);
  EXPECT_EQ(batch.started(0).task().task_index(), 4u);
}

TEST(OutboxTest, AcknowledgedResultsAreForgotten) {
  Outbox outbox;
  outbox.Finished(Result(1));
  outbox.Finished(Result(2));
  v1::WorkerBatch batch;
  ASSERT_EQ(outbox.Take(absl::Now(), &batch), Outbox::TakeResult::kBatch);
  v1::WorkerBatch first;
  *first.add_results() = batch.results(0);
  outbox.Sent(std::move(batch));
  AckAll(outbox, first);
  EXPECT_EQ(outbox.pending_results(), 1u);
  outbox.Close();
  outbox.Open();
  ASSERT_EQ(outbox.Take(absl::Now(), &batch), Outbox::TakeResult::kBatch);
  ASSERT_EQ(batch.results_size(), 1);
  EXPECT_EQ(batch.results(0).task().task_index(), 2u);
}

TEST(OutboxTest, KeptResultsGoWithTheRegisterWhileClosed) {
  Outbox outbox;
  outbox.Finished(Result(1));
  outbox.Close();  // between streams
  v1::WorkerBatch kept;
  EXPECT_TRUE(outbox.TakeKept(&kept));  // all of them
  ASSERT_EQ(kept.results_size(), 1);
  outbox.Open();
  outbox.Sent(std::move(kept));
  // Sent with the Register: not sent again, still kept until acknowledged.
  v1::WorkerBatch batch;
  EXPECT_EQ(outbox.Take(absl::Now(), &batch), Outbox::TakeResult::kTimeout);
  EXPECT_EQ(outbox.pending_results(), 1u);
}

TEST(OutboxTest, UnacknowledgedResultsGoOutAgainOnTheNextStream) {
  Outbox outbox;
  outbox.Finished(Result(1));
  v1::WorkerBatch batch;
  ASSERT_EQ(outbox.Take(absl::Now(), &batch), Outbox::TakeResult::kBatch);
  outbox.Sent(std::move(batch));
  outbox.Finished(Result(2));
  // The stream breaks before dagd acknowledged result 1 (it may have
  // crashed before storing it): on the next stream it goes out first.
  outbox.Close();
  outbox.Open();
  ASSERT_EQ(outbox.Take(absl::Now(), &batch), Outbox::TakeResult::kBatch);
  ASSERT_EQ(batch.results_size(), 2);
  EXPECT_EQ(batch.results(0).task().task_index(), 1u);
  EXPECT_EQ(batch.results(1).task().task_index(), 2u);
}

TEST(OutboxTest, AckBeforeTheWriterSaysSentStillForgets) {
  Outbox outbox;
  outbox.Finished(Result(1));
  v1::WorkerBatch batch;
  ASSERT_EQ(outbox.Take(absl::Now(), &batch), Outbox::TakeResult::kBatch);
  // dagd can answer before the writer thread gets back from Write.
  AckAll(outbox, batch);
  outbox.Sent(std::move(batch));
  EXPECT_EQ(outbox.pending_results(), 0u);
  outbox.Close();
  outbox.Open();
  EXPECT_EQ(outbox.Take(absl::Now(), &batch), Outbox::TakeResult::kTimeout);
}

TEST(OutboxTest, BatchInFlightWhenTheStreamClosesGoesOutAgain) {
  Outbox outbox;
  outbox.Finished(Result(1));
  v1::WorkerBatch batch;
  ASSERT_EQ(outbox.Take(absl::Now(), &batch), Outbox::TakeResult::kBatch);
  outbox.Close();
  outbox.Sent(std::move(batch));
  outbox.Open();
  ASSERT_EQ(outbox.Take(absl::Now(), &batch), Outbox::TakeResult::kBatch);
  EXPECT_EQ(batch.results_size(), 1);
}

// Results 0 .. count-1 of 1 MiB each: three fill a batch.
void FinishLarge(Outbox& outbox, uint32_t count) {
  for (uint32_t i = 0; i < count; ++i) {
    v1::TaskResult result = Result(i);
    result.mutable_output()->set_data(std::string(1 << 20, 'x'));
    outbox.Finished(std::move(result));
  }
}

// A new stream after a broken one: the Register carries what was kept.
// Returns whether that was all of it (TakeKept).
bool RegisterAgain(Outbox& outbox) {
  outbox.Close();
  v1::WorkerBatch kept;
  const bool all = outbox.TakeKept(&kept);
  outbox.Open();
  outbox.Sent(std::move(kept));
  return all;
}

TEST(OutboxTest, ManyKeptResultsGoOutInBatchesOfBoundedSize) {
  Outbox outbox;
  FinishLarge(outbox, 10);
  v1::WorkerBatch batch;
  ASSERT_EQ(outbox.Take(absl::Now(), &batch), Outbox::TakeResult::kBatch);
  EXPECT_EQ(batch.results_size(), 3);  // 4 MiB: 3 of 1 MiB and change
  EXPECT_LT(batch.ByteSizeLong(), 4u << 20);
  int taken = batch.results_size();
  while (outbox.Take(absl::Now(), &batch) == Outbox::TakeResult::kBatch) {
    taken += batch.results_size();
  }
  EXPECT_EQ(taken, 10);
}

// After a restart dagd waits for each worker to say it sent everything it
// kept (Register / WorkerBatch .kept_complete): said once, with the last of
// them, not before and not about results that finished since.
TEST(OutboxTest, TheBatchWithTheLastKeptResultSaysSo) {
  Outbox outbox;
  FinishLarge(outbox, 10);
  EXPECT_FALSE(RegisterAgain(outbox));  // 3 of the 10 fit
  outbox.Finished(Result(10));          // since the Register: not kept
  v1::WorkerBatch batch;
  uint32_t last = 0;
  int marked = 0;
  while (outbox.Take(absl::Now(), &batch) == Outbox::TakeResult::kBatch) {
    for (const v1::TaskResult& r : batch.results()) {
      last = r.task().task_index();
    }
    if (batch.kept_complete()) {
      ++marked;
      EXPECT_GE(last, 9u) << "marked before the last kept result";
    } else {
      EXPECT_LT(last, 9u) << "the last kept result went out unmarked";
    }
    outbox.Sent(std::move(batch));
  }
  EXPECT_EQ(marked, 1);
  EXPECT_EQ(last, 10u);
}

// Should an acknowledgement cover the last kept results before a batch
// carried them (dagd acknowledges only what a stream carried; a guard),
// the mark still goes, alone.
TEST(OutboxTest, TheMarkGoesAloneWhenTheLastKeptResultsWereAcknowledged) {
  Outbox outbox;
  FinishLarge(outbox, 6);
  ASSERT_FALSE(RegisterAgain(outbox));
  outbox.Ack(6);  // everything, as dagd had it from the stream before
  v1::WorkerBatch batch;
  ASSERT_EQ(outbox.Take(absl::Now(), &batch), Outbox::TakeResult::kBatch);
  EXPECT_TRUE(batch.kept_complete());
  EXPECT_EQ(batch.results_size(), 0);
  EXPECT_EQ(outbox.Take(absl::Now(), &batch), Outbox::TakeResult::kTimeout);
}

TEST(OutboxTest, ResultsWaitingForTheirAcknowledgementAreNotSentAgain) {
  Outbox outbox;
  for (uint32_t i = 0; i < 300; ++i) {
    outbox.Finished(Result(i));
    v1::WorkerBatch batch;
    ASSERT_EQ(outbox.Take(absl::Now(), &batch), Outbox::TakeResult::kBatch);
    ASSERT_EQ(batch.results_size(), 1);
    EXPECT_EQ(batch.results(0).task().task_index(), i);
    outbox.Sent(std::move(batch));
  }
  EXPECT_EQ(outbox.pending_results(), 300u);
  outbox.Ack(100);
  EXPECT_EQ(outbox.pending_results(), 200u);
  // A new stream sends the other 200 again, oldest first, then the new one.
  outbox.Close();
  outbox.Open();
  outbox.Finished(Result(300));
  v1::WorkerBatch batch;
  ASSERT_EQ(outbox.Take(absl::Now(), &batch), Outbox::TakeResult::kBatch);
  ASSERT_EQ(batch.results_size(), 201);
  for (int i = 0; i < 201; ++i) {
    EXPECT_EQ(batch.results(i).task().task_index(), 100u + i);
    EXPECT_EQ(batch.results(i).report_order(), 101u + i);
  }
}

TEST(OutboxTest, RequeuedResultsGoAheadOfUnsentOnesAfterAnAck) {
  Outbox outbox;
  outbox.Finished(Result(1));
  outbox.Finished(Result(2));
  v1::WorkerBatch first;
  ASSERT_EQ(outbox.Take(absl::Now(), &first), Outbox::TakeResult::kBatch);
  outbox.Sent(std::move(first));
  outbox.Finished(Result(3));
  v1::WorkerBatch second;
  ASSERT_EQ(outbox.Take(absl::Now(), &second), Outbox::TakeResult::kBatch);
  outbox.Ack(1);
  outbox.Finished(Result(4));
  outbox.Requeue(std::move(second));  // the write of result 3 failed
  v1::WorkerBatch batch;
  ASSERT_EQ(outbox.Take(absl::Now(), &batch), Outbox::TakeResult::kBatch);
  ASSERT_EQ(batch.results_size(), 2);
  EXPECT_EQ(batch.results(0).task().task_index(), 3u);
  EXPECT_EQ(batch.results(1).task().task_index(), 4u);
  outbox.Sent(std::move(batch));
  outbox.Ack(4);
  EXPECT_EQ(outbox.pending_results(), 0u);
  // Their attempts are forgotten with them: a later result of attempt 1 of
  // task 1 is taken (dagd drops it as a duplicate, and acknowledges it).
  outbox.Finished(Result(1));
  EXPECT_EQ(outbox.pending_results(), 1u);
}

TEST(OutboxTest, SecondResultOfTheSameAttemptIsIgnored) {
  Outbox outbox;
  outbox.Finished(Result(1));
  outbox.Finished(Result(1));
  EXPECT_EQ(outbox.pending_results(), 1u);
}

TEST(OutboxTest, TakeTimesOutWhenNothingIsPending) {
  Outbox outbox;
  v1::WorkerBatch batch;
  EXPECT_EQ(outbox.Take(absl::Now(), &batch), Outbox::TakeResult::kTimeout);
}

TEST(OutboxTest, ReportFromAnotherThreadWakesTake) {
  Outbox outbox;
  std::thread reporter([&] { outbox.Finished(Result(3)); });
  v1::WorkerBatch batch;
  EXPECT_EQ(outbox.Take(absl::Now() + absl::Seconds(30), &batch),
            Outbox::TakeResult::kBatch);
  reporter.join();
  EXPECT_EQ(batch.results_size(), 1);
}

TEST(OutboxTest, RequeuedBatchGoesAheadOfNewerReports) {
  Outbox outbox;
  outbox.Finished(Result(1));
  v1::WorkerBatch batch;
  ASSERT_EQ(outbox.Take(absl::Now(), &batch), Outbox::TakeResult::kBatch);
  outbox.Finished(Result(2));
  outbox.Requeue(batch);
  ASSERT_EQ(outbox.Take(absl::Now(), &batch), Outbox::TakeResult::kBatch);
  ASSERT_EQ(batch.results_size(), 2);
  EXPECT_EQ(batch.results(0).task().task_index(), 1u);
  EXPECT_EQ(batch.results(1).task().task_index(), 2u);
}

TEST(OutboxTest, CloseWakesTakeAndKeepsReports) {
  Outbox outbox;
  outbox.Finished(Result(1));
  outbox.Close();
  v1::WorkerBatch batch;
  EXPECT_EQ(outbox.Take(absl::InfiniteFuture(), &batch),
            Outbox::TakeResult::kClosed);
  EXPECT_EQ(outbox.pending_results(), 1u);
  outbox.Open();
  EXPECT_EQ(outbox.Take(absl::Now(), &batch), Outbox::TakeResult::kBatch);
}

TEST(OutboxTest, SealedSendsWhatIsPendingThenSaysSealed) {
  Outbox outbox;
  outbox.Finished(Result(1));
  outbox.Seal();
  v1::WorkerBatch batch;
  ASSERT_EQ(outbox.Take(absl::InfiniteFuture(), &batch),
            Outbox::TakeResult::kBatch);
  EXPECT_EQ(batch.results_size(), 1);
  v1::WorkerBatch sent = batch;
  outbox.Sent(std::move(batch));
  // Not sealed while the result waits for its acknowledgement, which the
  // writer asks for once.
  EXPECT_EQ(outbox.Take(absl::InfiniteFuture(), &batch),
            Outbox::TakeResult::kAskAck);
  EXPECT_EQ(outbox.Take(absl::Now(), &batch), Outbox::TakeResult::kTimeout);
  AckAll(outbox, sent);
  EXPECT_EQ(outbox.Take(absl::InfiniteFuture(), &batch),
            Outbox::TakeResult::kSealed);
}

TEST(OutboxTest, SealedAsksForTheAcknowledgementAgainOnANewStream) {
  Outbox outbox;
  outbox.Finished(Result(1));
  v1::WorkerBatch batch;
  ASSERT_EQ(outbox.Take(absl::Now(), &batch), Outbox::TakeResult::kBatch);
  outbox.Sent(std::move(batch));
  std::thread sealer([&] { outbox.Seal(); });
  // Sealing wakes a writer that waits with everything sent.
  EXPECT_EQ(outbox.Take(absl::InfiniteFuture(), &batch),
            Outbox::TakeResult::kAskAck);
  sealer.join();
  outbox.Close();
  outbox.Open();
  // The result goes out again, and is asked for again.
  ASSERT_EQ(outbox.Take(absl::Now(), &batch), Outbox::TakeResult::kBatch);
  ASSERT_EQ(batch.results_size(), 1);
  outbox.Sent(std::move(batch));
  EXPECT_EQ(outbox.Take(absl::Now(), &batch), Outbox::TakeResult::kAskAck);
  outbox.Ack(1);
  EXPECT_EQ(outbox.Take(absl::Now(), &batch), Outbox::TakeResult::kSealed);
}

TEST(OutboxTest, NothingToAskForWhenNotSealed) {
  Outbox outbox;
  outbox.Finished(Result(1));
  v1::WorkerBatch batch;
  ASSERT_EQ(outbox.Take(absl::Now(), &batch), Outbox::TakeResult::kBatch);
  outbox.Sent(std::move(batch));
  EXPECT_EQ(outbox.Take(absl::Now(), &batch), Outbox::TakeResult::kTimeout);
}

TEST(OutboxTest, SealWakesAWaitingWriter) {
  Outbox outbox;
  std::thread sealer([&] { outbox.Seal(); });
  v1::WorkerBatch batch;
  EXPECT_EQ(outbox.Take(absl::InfiniteFuture(), &batch),
            Outbox::TakeResult::kSealed);
  sealer.join();
}

TEST(OutboxTest, ClosedWinsOverSealed) {
  Outbox outbox;
  outbox.Seal();
  outbox.Close();
  v1::WorkerBatch batch;
  EXPECT_EQ(outbox.Take(absl::InfiniteFuture(), &batch),
            Outbox::TakeResult::kClosed);
}

}  // namespace
}  // namespace dagd
