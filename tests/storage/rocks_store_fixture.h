// The fixture of RocksMetaStore's tests: a store in a directory of the
// test's own, removed after it, and jobs to put in it. A test changes
// options_ before Open to open the store with other options.
#ifndef DAGD_TESTS_STORAGE_ROCKS_STORE_FIXTURE_H_
#define DAGD_TESTS_STORAGE_ROCKS_STORE_FIXTURE_H_

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/rocksdb_meta_store.h"
#include "tests/testutil/raw_rocksdb.h"

namespace dagd::testing {

class RocksStoreTest : public ::testing::Test {
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
    auto store = RocksMetaStore::Open(dir_.string(), options_);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  static WriteSet::NewJob NewJob(uint64_t seq, int tasks,
                                 std::string request_id = "",
                                 std::string tenant = "") {
    WriteSet::NewJob job;
    job.seq = seq;
    auto spec = std::make_shared<v1::JobSpec>();
    spec->set_name(absl::StrCat("job", seq));
    for (int i = 0; i < tasks; ++i) {
      v1::TaskSpec* task = spec->add_tasks();
      task->set_id(absl::StrCat("t", i));
      task->set_fn("const");
    }
    job.spec = std::move(spec);
    job.status.set_job_id(JobIdFromSeq(seq));
    job.status.set_state(v1::JOB_PENDING);
    job.status.set_total_tasks(tasks);
    job.status.set_request_id(request_id);
    // Request ids are the tenant's own (RequestKey).
    job.request_id = request_id.empty() ? "" : RequestKey(tenant, request_id);
    job.status.set_tenant(std::move(tenant));
    return job;
  }

  // Job `seq` has ended in `state`: its final status, and every task
  // SUCCEEDED with a result.
  static void Finish(WriteSet& writes, const WriteSet::NewJob& job,
                     v1::JobState state = v1::JOB_SUCCEEDED) {
    v1::JobStatus status = job.status;
    status.set_state(state);
    status.mutable_finished_at()->set_seconds(1'700'000'000);
    for (int i = 0; i < job.spec->tasks_size(); ++i) {
      v1::TaskStatus task;
      task.set_task_id(job.spec->tasks(i).id());
      task.set_state(v1::TASK_SUCCEEDED);
      writes.task_statuses.push_back({job.seq, static_cast<uint32_t>(i), task});
      writes.results.push_back({job.seq, static_cast<uint32_t>(i),
                                StoredResult{"1", "text/x", nullptr}});
    }
    writes.job_statuses.emplace_back(job.seq, std::move(status));
  }

  // Commits a new job of `tasks` tasks, finished when `finished`.
  void Add(RocksMetaStore& store, uint64_t seq, int tasks, bool finished,
           std::string request_id = "", std::string tenant = "") {
    WriteSet writes;
    writes.new_jobs.push_back(
        NewJob(seq, tasks, std::move(request_id), std::move(tenant)));
    if (finished) Finish(writes, writes.new_jobs.back());
    ASSERT_TRUE(store.Commit(writes, /*sync=*/false).ok());
  }

  std::unique_ptr<testing::RawRocksDb> OpenRaw() {
    auto raw = testing::RawRocksDb::Open(dir_.string());
    EXPECT_TRUE(raw.ok()) << raw.status();
    return raw.ok() ? *std::move(raw) : nullptr;
  }

  // A stored job's tasks, as their encodings.
  static std::vector<std::string> Encoded(const StoredJob& job) {
    std::vector<std::string> out;
    for (uint32_t i = 0; i < job.tasks.size(); ++i) {
      out.emplace_back(job.tasks.encoded(i));
    }
    return out;
  }

  static std::vector<uint64_t> Seqs(const std::vector<StoredJob>& jobs) {
    std::vector<uint64_t> out;
    for (const StoredJob& job : jobs) out.push_back(job.seq);
    return out;
  }

  std::filesystem::path dir_;
  RocksMetaStore::Options options_;
};

}  // namespace dagd::testing

#endif  // DAGD_TESTS_STORAGE_ROCKS_STORE_FIXTURE_H_
