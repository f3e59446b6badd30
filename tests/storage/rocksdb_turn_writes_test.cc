// A turn's task states and results are put into RocksDB in key order
// (RocksMetaStore::Commit sorts them so that its memtable inserts walk
// forward); what lands must be what the turn wrote, whatever order it came
// in and however often a task was written in it. The families written out
// of key order are opened with compaction settings of their own.
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "rocksdb/convenience.h"
#include "rocksdb/utilities/options_util.h"
#include "storage/rocksdb_meta_store.h"
#include "tests/storage/rocks_store_fixture.h"

namespace dagd {
namespace {

class RocksTurnWritesTest : public testing::RocksStoreTest {
 protected:
  static WriteSet::TaskWrite State(uint64_t seq, uint32_t index,
                                   v1::TaskState state, std::string error) {
    v1::TaskStatus status;
    status.set_task_id(absl::StrCat("t", index));
    status.set_state(state);
    status.set_error(std::move(error));
    return {seq, index, std::move(status)};
  }

  static WriteSet::ResultWrite Result(uint64_t seq, uint32_t index,
                                      std::string data) {
    return {seq, index, StoredResult{std::move(data), "text/x", nullptr}};
  }
};

TEST_F(RocksTurnWritesTest, WritesOutOfKeyOrderLandAsWritten) {
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    WriteSet jobs;
    jobs.new_jobs.push_back(NewJob(1, 40));
    jobs.new_jobs.push_back(NewJob(2, 40));
    ASSERT_TRUE(store->Commit(jobs, /*sync=*/false).ok());

    // Tasks as a wide job on many workers finishes them: both jobs
    // interleaved (job 2 gets the odd indexes, job 1 the even),
    // indexes scattered.
    WriteSet turn;
    for (uint32_t i = 0; i < 40; ++i) {
      const uint32_t index = (i * 17 + 3) % 40;  // every index once
      const uint64_t seq = 2 - i % 2;
      turn.task_statuses.push_back(
          State(seq, index, v1::TASK_SUCCEEDED, absl::StrCat(seq, "/", index)));
      turn.results.push_back(
          Result(seq, index, absl::StrCat("r", seq, "/", index)));
    }
    ASSERT_TRUE(store->Commit(turn, /*sync=*/false).ok());
  }
  auto store = Open();  // from the files, not only the memtable
  ASSERT_NE(store, nullptr);
  for (uint32_t i = 0; i < 40; ++i) {
    const uint32_t index = (i * 17 + 3) % 40;
    const uint64_t seq = 2 - i % 2;
    SCOPED_TRACE(absl::StrCat("job ", seq, " task ", index));
    absl::StatusOr<v1::TaskStatus> status = store->GetTaskStatus(seq, index);
    ASSERT_TRUE(status.ok()) << status.status();
    EXPECT_EQ(status->error(), absl::StrCat(seq, "/", index));
    absl::StatusOr<StoredResult> result = store->GetResult(seq, index);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->data, absl::StrCat("r", seq, "/", index));
  }
}

// A task written twice in one turn (its final state, then again once its
// output was copied to the object store) keeps the later write, among
// many other tasks' writes, each task's two writes far apart.
TEST_F(RocksTurnWritesTest, ATaskWrittenTwiceInATurnKeepsItsLastWrite) {
  constexpr uint32_t kTasks = 200;
  auto store = Open();
  ASSERT_NE(store, nullptr);
  WriteSet jobs;
  jobs.new_jobs.push_back(NewJob(1, kTasks));
  ASSERT_TRUE(store->Commit(jobs, /*sync=*/false).ok());
  WriteSet turn;
  for (const char* write : {"first", "second"}) {
    for (uint32_t i = 0; i < kTasks; ++i) {
      const uint32_t index = (i * 73 + 11) % kTasks;  // every index once
      turn.task_statuses.push_back(
          State(1, index, v1::TASK_SUCCEEDED, absl::StrCat(write, index)));
      turn.results.push_back(Result(1, index, absl::StrCat(write, index)));
    }
  }
  ASSERT_TRUE(store->Commit(turn, /*sync=*/false).ok());

  for (uint32_t index = 0; index < kTasks; ++index) {
    SCOPED_TRACE(absl::StrCat("task ", index));
    absl::StatusOr<v1::TaskStatus> status = store->GetTaskStatus(1, index);
    ASSERT_TRUE(status.ok()) << status.status();
    EXPECT_EQ(status->error(), absl::StrCat("second", index));
    absl::StatusOr<StoredResult> result = store->GetResult(1, index);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->data, absl::StrCat("second", index));
  }
}

// What RocksDB recorded in the data directory's OPTIONS file: the options
// each family was opened with, not what FamilyOptions returns.
TEST_F(RocksTurnWritesTest, FamiliesWrittenOutOfKeyOrderMergeLessOften) {
  ASSERT_NE(Open(), nullptr);  // opened, and closed again
  rocksdb::ConfigOptions config;
  rocksdb::DBOptions db_options;
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  ASSERT_TRUE(
      rocksdb::LoadLatestOptions(config, dir_.string(), &db_options, &families)
          .ok());
  std::map<std::string, rocksdb::ColumnFamilyOptions> by_name;
  for (const auto& family : families) by_name[family.name] = family.options;
  for (const char* name : {"task_states", "results", "task_ids"}) {
    SCOPED_TRACE(name);
    ASSERT_EQ(by_name.count(name), 1u);
    const rocksdb::ColumnFamilyOptions& options = by_name[name];
    EXPECT_EQ(options.level0_file_num_compaction_trigger, 16);
    EXPECT_EQ(options.level0_slowdown_writes_trigger, 48);
    EXPECT_EQ(options.level0_stop_writes_trigger, 64);
    EXPECT_EQ(options.max_bytes_for_level_base, uint64_t{1} << 30);
  }
  // Families written in key order keep RocksDB's defaults.
  const rocksdb::ColumnFamilyOptions defaults;
  for (const char* name : {"jobs", "task_specs", "result_chunks"}) {
    SCOPED_TRACE(name);
    ASSERT_EQ(by_name.count(name), 1u);
    EXPECT_EQ(by_name[name].level0_file_num_compaction_trigger,
              defaults.level0_file_num_compaction_trigger);
    EXPECT_EQ(by_name[name].max_bytes_for_level_base,
              defaults.max_bytes_for_level_base);
  }
}

}  // namespace
}  // namespace dagd
