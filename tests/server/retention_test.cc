#include "server/retention.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "storage/rocksdb_meta_store.h"
#include "tests/storage/rocks_store_fixture.h"
#include "tests/testutil/fake_clock.h"
#include "tests/testutil/fake_object_store.h"
#include "tests/testutil/raw_rocksdb.h"

namespace dagd {
namespace {

using google::protobuf::util::TimeUtil;
using ::testing::ElementsAre;

google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  return TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

// Stands in for the coordinator: commits each deletion at once, as the
// coordinator's next turn would, on whatever store the fixture has open.
class CommittingDeleter : public JobDeleter {
 public:
  explicit CommittingDeleter(std::unique_ptr<RocksMetaStore>* store)
      : store_(store) {}
  void DeleteStoredJob(uint64_t seq,
                       absl::AnyInvocable<void(absl::Status)> done) override {
    done((*store_)->DeleteJob(seq, /*sync=*/false));
  }

 private:
  std::unique_ptr<RocksMetaStore>* const store_;
};

class RetentionTest : public testing::RocksStoreTest {
 protected:
  void SetUp() override {
    RocksStoreTest::SetUp();
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    RocksStoreTest::TearDown();
  }

  void Reopen() {
    store_.reset();
    store_ = Open();
    ASSERT_NE(store_, nullptr);
  }

  // Live keys in the whole database (the store is closed to count them).
  size_t CountKeys() {
    store_.reset();
    size_t keys = 0;
    if (auto raw = OpenRaw(); raw != nullptr) keys = raw->CountKeys();
    Reopen();
    return keys;
  }

  // Stores job `seq`, submitted now, with three tasks and a request id.
  void Submit(uint64_t seq) {
    WriteSet writes;
    WriteSet::NewJob& job = writes.new_jobs.emplace_back();
    job.seq = seq;
    auto spec = std::make_shared<v1::JobSpec>();
    for (int i = 0; i < 3; ++i) {
      v1::TaskSpec* task = spec->add_tasks();
      task->set_id(absl::StrCat("t", i));
      task->set_fn("const");
    }
    job.spec = std::move(spec);
    job.status.set_job_id(JobIdFromSeq(seq));
    job.status.set_state(v1::JOB_PENDING);
    job.status.set_total_tasks(3);
    *job.status.mutable_submitted_at() = ToTimestamp(clock_.Now());
    job.request_id = absl::StrCat("request-", seq);
    job.status.set_request_id(job.request_id);
    ASSERT_TRUE(store_->Commit(writes, false).ok());
  }

  // Job `seq` ends now in `state`, its tasks with results.
  void Finish(uint64_t seq, v1::JobState state = v1::JOB_SUCCEEDED) {
    v1::JobStatus status = *store_->GetJobStatus(seq);
    status.set_state(state);
    *status.mutable_finished_at() = ToTimestamp(clock_.Now());
    WriteSet writes;
    for (uint32_t i = 0; i < 3; ++i) {
      v1::TaskStatus task;
      task.set_task_id(absl::StrCat("t", i));
      task.set_state(v1::TASK_SUCCEEDED);
      writes.task_statuses.push_back({seq, i, task});
      writes.results.push_back(
          {seq, i, StoredResult{"42", "text/plain", nullptr}});
    }
    writes.job_statuses.emplace_back(seq, status);
    ASSERT_TRUE(store_->Commit(writes, false).ok());
  }

  std::vector<uint64_t> StoredJobs() {
    std::vector<uint64_t> out;
    absl::StatusOr<std::vector<v1::JobStatus>> jobs =
        store_->ListJobStatusesFrom(1, 1000);
    EXPECT_TRUE(jobs.ok()) << jobs.status();
    if (!jobs.ok()) return out;
    for (const v1::JobStatus& job : *jobs) {
      out.push_back(*SeqFromJobId(job.job_id()));
    }
    return out;
  }

  FakeClock clock_;
  std::unique_ptr<RocksMetaStore> store_;
  CommittingDeleter deleter_{&store_};
  v1::ObjectRef ref_of_j2_;
};

TEST(RetentionIntervalTest, IsATenthOfTheRetentionBetweenASecondAnd10Minutes) {
  EXPECT_EQ(RetentionSweeper::IntervalFor(absl::Hours(168)), absl::Minutes(10));
  EXPECT_EQ(RetentionSweeper::IntervalFor(absl::Seconds(100)),
            absl::Seconds(10));
  EXPECT_EQ(RetentionSweeper::IntervalFor(absl::Seconds(2)), absl::Seconds(1));
}

TEST_F(RetentionTest, DeletesTheResultObjectsOfTheJobsItDeletes) {
  FakeObjectStore objects_store;
  for (uint64_t seq : {1, 2}) {
    Submit(seq);
    Finish(seq);
    // Task t1's result is kept in the object store.
    const std::string key = ResultObjectKey(JobIdFromSeq(seq), 1, 1);
    ASSERT_TRUE(objects_store.Put(key, "big", "text/plain").ok());
    StoredResult result;
    result.content_type = "text/plain";
    v1::ObjectRef ref;
    ref.set_bucket("bucket");
    ref.set_key(key);
    ref.set_size(3);
    result.ref = std::make_shared<const v1::ObjectRef>(ref);
    ref_of_j2_ = ref;
    WriteSet writes;
    writes.results.push_back({seq, 1, result});
    ASSERT_TRUE(store_->Commit(writes, false).ok());
    clock_.Advance(absl::Hours(2));
  }
  {
    ResultObjects objects(&objects_store, /*held=*/nullptr, /*meta=*/nullptr,
                          /*threads=*/1);
    RetentionSweeper sweeper(absl::Hours(3), store_.get(), &deleter_, &clock_);
    sweeper.SetResultObjects(&objects);
    EXPECT_EQ(sweeper.SweepOnce().value(), 1u);
    // One thread runs requests in order: once this read is answered, the
    // deletions queued before it are done.
    absl::Notification read;
    objects.Read(ref_of_j2_,
                 [&read](absl::StatusOr<StoredObject>) { read.Notify(); });
    read.WaitForNotification();
  }
  EXPECT_THAT(StoredJobs(), ElementsAre(2u));
  EXPECT_FALSE(objects_store.Find("results/j1/1/1").has_value());
  EXPECT_TRUE(objects_store.Find("results/j2/1/1").has_value());
}

TEST_F(RetentionTest, DeletesOnlyJobsFinishedLongerAgoThanTheRetention) {
  Submit(1);  // runs for a long time
  Submit(2);
  Finish(2);
  clock_.Advance(absl::Minutes(30));
  Submit(3);
  Finish(3, v1::JOB_CANCELLED);
  clock_.Advance(absl::Minutes(50));
  Submit(4);
  Finish(4, v1::JOB_FAILED);

  RetentionSweeper sweeper(absl::Hours(1), store_.get(), &deleter_, &clock_);
  // Now - 1h lies between the ends of j2 and j3.
  EXPECT_EQ(sweeper.SweepOnce().value(), 1u);
  EXPECT_THAT(StoredJobs(), ElementsAre(1u, 3u, 4u));
  EXPECT_FALSE(store_->FindRequest("request-2")->has_value());

  clock_.Advance(absl::Minutes(20));
  EXPECT_EQ(sweeper.SweepOnce().value(), 1u);
  EXPECT_THAT(StoredJobs(), ElementsAre(1u, 4u));

  // The long job j1 ends; the sweep still finds it behind the deleted ones.
  Finish(1);
  clock_.Advance(absl::Hours(2));
  EXPECT_EQ(sweeper.SweepOnce().value(), 2u);
  EXPECT_THAT(StoredJobs(), ElementsAre());
  EXPECT_EQ(sweeper.SweepOnce().value(), 0u);
  EXPECT_EQ(store_->NextJobSeq().value(), 5u);
}

TEST_F(RetentionTest, AJobDeletedMeanwhileIsNoError) {
  Submit(1);
  Finish(1);
  Submit(2);
  Finish(2);
  clock_.Advance(absl::Hours(2));
  ASSERT_EQ(store_->DeleteJob(1, true), absl::OkStatus());
  RetentionSweeper sweeper(absl::Hours(1), store_.get(), &deleter_, &clock_);
  EXPECT_EQ(sweeper.SweepOnce().value(), 1u);
  EXPECT_THAT(StoredJobs(), ElementsAre());
}

// Under a steady load of jobs the store stays the same size: what the sweep
// deletes is what was added. Without deletion it would grow every round.
TEST_F(RetentionTest, SteadyLoadKeepsTheNumberOfKeysBounded) {
  const absl::Duration retention = absl::Seconds(5);
  auto sweeper = std::make_unique<RetentionSweeper>(retention, store_.get(),
                                                    &deleter_, &clock_);
  size_t after_round_10 = 0;
  size_t after_round_100 = 0;
  uint64_t deleted = 0;
  for (uint64_t round = 1; round <= 100; ++round) {
    Submit(round);
    Finish(round);
    clock_.Advance(absl::Seconds(1));
    absl::StatusOr<uint64_t> swept = sweeper->SweepOnce();
    ASSERT_TRUE(swept.ok()) << swept.status();
    deleted += *swept;
    if (round == 10 || round == 100) {
      sweeper.reset();  // it holds the store, which CountKeys reopens
      (round == 10 ? after_round_10 : after_round_100) = CountKeys();
      sweeper = std::make_unique<RetentionSweeper>(retention, store_.get(),
                                                   &deleter_, &clock_);
    }
  }
  EXPECT_EQ(deleted, 95u);
  EXPECT_GT(after_round_10, 0u);
  EXPECT_EQ(after_round_100, after_round_10);
  EXPECT_EQ(StoredJobs().size(), 5u);
}

TEST_F(RetentionTest, ThreadSweepsAtOnceAndStops) {
  Submit(1);
  Finish(1);
  clock_.Advance(absl::Hours(2));
  absl::Notification swept;
  uint64_t reported = 0;
  RetentionSweeper sweeper(absl::Hours(1), store_.get(), &deleter_, &clock_,
                           [&](uint64_t n) {
                             reported = n;
                             swept.Notify();
                           });
  sweeper.Start();
  ASSERT_TRUE(swept.WaitForNotificationWithTimeout(absl::Seconds(30)));
  sweeper.Stop();
  EXPECT_EQ(reported, 1u);
  EXPECT_THAT(StoredJobs(), ElementsAre());
}

}  // namespace
}  // namespace dagd
