#include "storage/rocksdb_meta_store.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dagd {
namespace {

using ::testing::HasSubstr;

class RocksMetaStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat(
               "dagd_store_test_", getpid(), "_",
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<RocksMetaStore> Open() {
    auto store = RocksMetaStore::Open(dir_.string());
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  static WriteSet::NewJob NewJob(uint64_t seq, int tasks,
                                 std::string request_id = "") {
    WriteSet::NewJob job;
    job.seq = seq;
    job.spec.set_name(absl::StrCat("job", seq));
    for (int i = 0; i < tasks; ++i) {
      v1::TaskSpec* task = job.spec.add_tasks();
      task->set_id(absl::StrCat("t", i));
      task->set_fn("const");
    }
    job.status.set_job_id(JobIdFromSeq(seq));
    job.status.set_state(v1::JOB_PENDING);
    job.request_id = std::move(request_id);
    return job;
  }

  std::filesystem::path dir_;
};

TEST(JobIdTest, RoundTripsAndRejectsJunk) {
  EXPECT_EQ(JobIdFromSeq(42), "j42");
  EXPECT_EQ(SeqFromJobId("j42"), 42u);
  EXPECT_FALSE(SeqFromJobId("42").has_value());
  EXPECT_FALSE(SeqFromJobId("j").has_value());
  EXPECT_FALSE(SeqFromJobId("j4x").has_value());
  EXPECT_FALSE(SeqFromJobId("j0").has_value());
}

TEST_F(RocksMetaStoreTest, StoresAJobAndReadsItBackAfterReopen) {
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->NextJobSeq().value(), 1u);
    WriteSet writes;
    writes.new_jobs.push_back(NewJob(1, 3, "req-1"));
    ASSERT_TRUE(store->Commit(writes, /*sync=*/true).ok());
    WriteSet progress;
    v1::TaskStatus done;
    done.set_task_id("t0");
    done.set_state(v1::TASK_SUCCEEDED);
    progress.task_statuses.push_back({1, 0, done});
    progress.results.push_back({1, 0, StoredResult{"42", "application/json"}});
    ASSERT_TRUE(store->Commit(progress, /*sync=*/false).ok());
  }
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->NextJobSeq().value(), 2u);
  EXPECT_EQ(store->GetJobStatus(1)->job_id(), "j1");
  EXPECT_EQ(store->GetTaskSpec(1, 2)->id(), "t2");
  EXPECT_EQ(store->GetTaskStatus(1, 0)->state(), v1::TASK_SUCCEEDED);
  absl::StatusOr<StoredResult> result = store->GetResult(1, 0);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->data, "42");
  EXPECT_EQ(result->content_type, "application/json");
  EXPECT_EQ(store->FindRequest("req-1")->value(), 1u);
  EXPECT_EQ(store->FindTaskIndex(1, "t2").value(), 2u);
  EXPECT_TRUE(absl::IsNotFound(store->FindTaskIndex(1, "t9").status()));
  EXPECT_TRUE(absl::IsNotFound(store->FindTaskIndex(2, "t0").status()));
  EXPECT_FALSE(store->FindRequest("req-2")->has_value());
  EXPECT_TRUE(absl::IsNotFound(store->GetJobStatus(7).status()));
  EXPECT_TRUE(absl::IsNotFound(store->GetResult(1, 1).status()));
}

TEST_F(RocksMetaStoreTest, IncarnationGrowsAcrossReopens) {
  {
    auto store = Open();
    EXPECT_EQ(store->StartIncarnation().value(), 1u);
    EXPECT_EQ(store->StartIncarnation().value(), 2u);
  }
  EXPECT_EQ(Open()->StartIncarnation().value(), 3u);
}

TEST_F(RocksMetaStoreTest, ResultsMayHoldAnyBytes) {
  auto store = Open();
  std::string bytes("\0\1binary\0", 9);
  WriteSet writes;
  writes.new_jobs.push_back(NewJob(1, 1));
  const std::string type("odd\0type", 8);
  writes.results.push_back({1, 0, StoredResult{bytes, type}});
  ASSERT_TRUE(store->Commit(writes, false).ok());
  EXPECT_EQ(store->GetResult(1, 0)->data, bytes);
  EXPECT_EQ(store->GetResult(1, 0)->content_type, type);
}

TEST_F(RocksMetaStoreTest, ListsJobsNewestFirstInPages) {
  auto store = Open();
  WriteSet writes;
  for (uint64_t seq = 1; seq <= 5; ++seq)
    writes.new_jobs.push_back(NewJob(seq, 1));
  ASSERT_TRUE(store->Commit(writes, false).ok());
  auto first = store->ListJobStatuses(UINT64_MAX, 2);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0].job_id(), "j5");
  EXPECT_EQ((*first)[1].job_id(), "j4");
  auto rest = store->ListJobStatuses(4, 10);
  ASSERT_EQ(rest->size(), 3u);
  EXPECT_EQ((*rest)[0].job_id(), "j3");
  EXPECT_EQ((*rest)[2].job_id(), "j1");
}

TEST_F(RocksMetaStoreTest, LoadsOnlyUnfinishedJobs) {
  auto store = Open();
  WriteSet writes;
  writes.new_jobs.push_back(NewJob(1, 2));
  writes.new_jobs.push_back(NewJob(2, 2));
  v1::JobStatus finished;
  finished.set_job_id("j1");
  finished.set_state(v1::JOB_SUCCEEDED);
  writes.job_statuses.emplace_back(1, finished);
  ASSERT_TRUE(store->Commit(writes, false).ok());
  auto jobs = store->LoadUnfinishedJobs();
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ((*jobs)[0].seq, 2u);
  EXPECT_EQ((*jobs)[0].spec.tasks_size(), 2);
  EXPECT_EQ((*jobs)[0].spec.name(), "job2");
}

TEST_F(RocksMetaStoreTest, StoredJobKeepsEveryFieldOfItsSpec) {
  // The store copies the spec's fields one by one; a field added to JobSpec
  // must be added there (RocksMetaStore::Commit) and here.
  ASSERT_EQ(v1::JobSpec::descriptor()->field_count(), 6);
  auto store = Open();
  WriteSet writes;
  writes.new_jobs.push_back(NewJob(1, 2));
  v1::JobSpec& spec = writes.new_jobs[0].spec;
  spec.set_name("every-field");
  spec.set_priority(7);
  spec.set_max_parallelism(3);
  spec.set_continue_on_failure(true);
  spec.mutable_deadline()->set_seconds(90);
  ASSERT_TRUE(store->Commit(writes, false).ok());
  auto jobs = store->LoadUnfinishedJobs();
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ((*jobs)[0].spec.DebugString(), spec.DebugString());
}

TEST_F(RocksMetaStoreTest, UnusableDirectoryFailsWithItsName) {
  std::filesystem::create_directories(dir_);
  std::filesystem::path file = dir_ / "not-a-dir";
  { std::ofstream(file.string()) << "x"; }
  auto store = RocksMetaStore::Open((file / "db").string());
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr("not-a-dir"));
}

}  // namespace
}  // namespace dagd
