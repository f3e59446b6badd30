// A big job's task records written ahead of the commit that accepts it
// (MetaStore::NewTaskRecordWriter): kept when the job lands, removed when
// it is refused, and removed by Open when it never landed.

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/job_tasks.h"
#include "storage/rocksdb_keys.h"
#include "storage/rocksdb_meta_store.h"
#include "tests/storage/rocks_store_fixture.h"
#include "tests/testutil/raw_rocksdb.h"

namespace dagd {
namespace {

using ::testing::IsEmpty;

class TaskRecordWriterTest : public testing::RocksStoreTest {
 protected:
  void SetUp() override {
    RocksStoreTest::SetUp();
    // A few dozen tasks a batch: the writer's thread writes many.
    options_.chunk_bytes = 1024;
  }

  // `n` tasks named t0..t(n-1), each an input of the next.
  static std::shared_ptr<JobTasks> Tasks(int n) {
    auto tasks = std::make_shared<JobTasks>();
    for (int i = 0; i < n; ++i) {
      v1::TaskSpec task;
      task.set_id(absl::StrCat("t", i));
      task.set_fn("identity");
      if (i > 0) task.add_inputs(absl::StrCat("t", i - 1));
      tasks->Add(task);
    }
    return tasks;
  }

  static void AddAll(TaskRecordWriter& writer, const JobTasks& tasks) {
    for (uint32_t i = 0; i < tasks.size(); ++i) {
      writer.Add(i, tasks.encoded(i), tasks.id(i));
    }
  }

  // The commit that accepts job `seq`, whose records were written ahead.
  static WriteSet AcceptWrittenAhead(uint64_t seq,
                                     std::shared_ptr<const JobTasks> tasks) {
    WriteSet writes;
    WriteSet::NewJob& job = writes.new_jobs.emplace_back();
    job.seq = seq;
    auto header = std::make_shared<v1::JobSpec>();
    header->set_name(absl::StrCat("job", seq));
    job.spec = std::move(header);
    job.tasks = std::move(tasks);
    job.tasks_written = true;
    job.status.set_job_id(JobIdFromSeq(seq));
    job.status.set_state(v1::JOB_PENDING);
    job.status.set_total_tasks(job.tasks->size());
    return writes;
  }
};

TEST_F(TaskRecordWriterTest, RecordsWrittenAheadAreTheJobsOnceItsCommitLands) {
  const std::shared_ptr<JobTasks> tasks = Tasks(500);
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    std::unique_ptr<TaskRecordWriter> writer = store->NewTaskRecordWriter(1);
    ASSERT_NE(writer, nullptr);
    EXPECT_EQ(writer->seq(), 1u);
    AddAll(*writer, *tasks);
    ASSERT_TRUE(writer->Finish().ok());
    writer->Keep();
    writer.reset();
    uint64_t bytes = 0;
    ASSERT_TRUE(
        store->Commit(AcceptWrittenAhead(1, tasks), /*sync=*/true, &bytes)
            .ok());
    // The commit wrote the job, not its 500 tasks (about 13 KB) again.
    EXPECT_LT(bytes, 1000u);
  }
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    absl::StatusOr<std::vector<StoredJob>> jobs = store->LoadUnfinishedJobs();
    ASSERT_TRUE(jobs.ok()) << jobs.status();
    ASSERT_EQ(jobs->size(), 1u);
    ASSERT_EQ((*jobs)[0].tasks.size(), 500u);
    for (uint32_t i = 0; i < 500; ++i) {
      ASSERT_EQ((*jobs)[0].tasks.encoded(i), tasks->encoded(i)) << i;
    }
    EXPECT_EQ(store->FindTaskIndex(1, "t377").value(), 377u);
    EXPECT_EQ(store->GetTaskSpec(1, 499)->inputs(0), "t498");
    EXPECT_EQ(store->NextJobSeq().value(), 2u);
  }
  // The mark that the records were being written went with the commit.
  auto raw = OpenRaw();
  ASSERT_NE(raw, nullptr);
  EXPECT_TRUE(
      absl::IsNotFound(raw->Get("meta", rocks::WritingKey(1)).status()));
}

// A job refused after its records were written (a duplicate request, a
// quota, a cycle found at the end) leaves nothing, finished or not.
TEST_F(TaskRecordWriterTest, ARefusedJobsRecordsAreRemoved) {
  const std::shared_ptr<JobTasks> tasks = Tasks(300);
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    std::unique_ptr<TaskRecordWriter> finished = store->NewTaskRecordWriter(1);
    AddAll(*finished, *tasks);
    ASSERT_TRUE(finished->Finish().ok());
    // Written, before they are dropped.
    EXPECT_EQ(store->GetTaskSpec(1, 299)->id(), "t299");
    EXPECT_EQ(store->FindTaskIndex(1, "t299").value(), 299u);
    std::unique_ptr<TaskRecordWriter> cut = store->NewTaskRecordWriter(2);
    for (uint32_t i = 0; i < 200; ++i) {
      cut->Add(i, tasks->encoded(i), tasks->id(i));
    }
    finished.reset();
    cut.reset();
    EXPECT_TRUE(absl::IsNotFound(store->GetTaskSpec(1, 0).status()));
    EXPECT_TRUE(absl::IsNotFound(store->FindTaskIndex(2, "t0").status()));
  }
  auto raw = OpenRaw();
  ASSERT_NE(raw, nullptr);
  EXPECT_THAT(raw->KeysOfJob(1), IsEmpty());
  EXPECT_THAT(raw->KeysOfJob(2), IsEmpty());
}

// dagd crashed between writing a job's records and committing it, while a
// job submitted after it had been accepted: the records are below the next
// sequence number, and Open removes them by their mark.
TEST_F(TaskRecordWriterTest, OpenRemovesRecordsOfAJobThatNeverLanded) {
  const std::shared_ptr<JobTasks> tasks = Tasks(300);
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    std::unique_ptr<TaskRecordWriter> lost = store->NewTaskRecordWriter(1);
    AddAll(*lost, *tasks);
    ASSERT_TRUE(lost->Finish().ok());
    lost->Keep();  // as the loop does, before the commit that never came
    lost.reset();
    std::unique_ptr<TaskRecordWriter> landed = store->NewTaskRecordWriter(2);
    AddAll(*landed, *tasks);
    ASSERT_TRUE(landed->Finish().ok());
    landed->Keep();
    ASSERT_TRUE(
        store->Commit(AcceptWrittenAhead(2, tasks), /*sync=*/true).ok());
  }
  {
    auto raw = OpenRaw();
    ASSERT_NE(raw, nullptr);
    ASSERT_EQ(raw->KeysOfJob(1).size(), 601u);  // 300 specs, 300 ids, mark
  }
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->NextJobSeq().value(), 3u);
    absl::StatusOr<std::vector<StoredJob>> jobs = store->LoadUnfinishedJobs();
    ASSERT_TRUE(jobs.ok()) << jobs.status();
    ASSERT_EQ(jobs->size(), 1u);
    EXPECT_EQ((*jobs)[0].seq, 2u);
    EXPECT_EQ((*jobs)[0].tasks.size(), 300u);
  }
  auto raw = OpenRaw();
  ASSERT_NE(raw, nullptr);
  EXPECT_THAT(raw->KeysOfJob(1), IsEmpty());
}

// A task added after Finish cannot be written: the writer says so instead
// of starting a thread no one would join.
TEST_F(TaskRecordWriterTest, ATaskAddedAfterFinishIsAnError) {
  const std::shared_ptr<JobTasks> tasks = Tasks(2);
  auto store = Open();
  ASSERT_NE(store, nullptr);
  std::unique_ptr<TaskRecordWriter> writer = store->NewTaskRecordWriter(1);
  writer->Add(0, tasks->encoded(0), tasks->id(0));
  ASSERT_TRUE(writer->Finish().ok());
  writer->Add(1, tasks->encoded(1), tasks->id(1));
  EXPECT_TRUE(absl::IsInternal(writer->Finish()));
  EXPECT_TRUE(absl::IsNotFound(store->GetTaskSpec(1, 1).status()));
}

}  // namespace
}  // namespace dagd
