#include "storage/rocksdb_meta_store.h"

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/rocksdb_keys.h"
#include "tests/storage/rocks_store_fixture.h"
#include "tests/testutil/raw_rocksdb.h"

namespace dagd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

using RocksMetaStoreTest = testing::RocksStoreTest;

TEST(JobIdTest, RoundTripsAndRejectsJunk) {
  EXPECT_EQ(JobIdFromSeq(42), "j42");
  EXPECT_EQ(SeqFromJobId("j42"), 42u);
  EXPECT_FALSE(SeqFromJobId("42").has_value());
  EXPECT_FALSE(SeqFromJobId("j").has_value());
  EXPECT_FALSE(SeqFromJobId("j4x").has_value());
  EXPECT_FALSE(SeqFromJobId("j0").has_value());
  // One job, one id: "j042" was j42 too, with caches and watches of its own.
  EXPECT_FALSE(SeqFromJobId("j042").has_value());
  EXPECT_FALSE(SeqFromJobId("j00").has_value());
}

// A job of more tasks than Options::chunked_job_tasks has its task records
// written in chunks ahead of the batch with its header; it is stored and
// read back exactly as the same job written in one batch, and the bytes
// Commit reports count the chunks.
TEST_F(RocksMetaStoreTest, ABigJobWrittenInChunksReadsBackAsInOneBatch) {
  WriteSet writes;
  writes.new_jobs.push_back(NewJob(1, 500, "req-1"));
  auto spec = std::make_shared<v1::JobSpec>(*writes.new_jobs[0].spec);
  for (int i = 1; i < 500; ++i) {
    spec->mutable_tasks(i)->add_inputs(absl::StrCat("t", i - 1));
  }
  writes.new_jobs[0].spec = std::move(spec);
  std::vector<StoredJob> loaded[2];
  uint64_t bytes[2] = {0, 0};
  for (int chunked : {0, 1}) {
    std::filesystem::remove_all(dir_);
    RocksMetaStore::Options options;
    if (chunked) {
      options.chunked_job_tasks = 100;
      options.chunk_bytes = 1024;  // a few dozen tasks a chunk
    }
    auto store = RocksMetaStore::Open(dir_.string(), options);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->Commit(writes, /*sync=*/true, &bytes[chunked]).ok());
    store->reset();
    store = RocksMetaStore::Open(dir_.string(), options);
    ASSERT_TRUE(store.ok()) << store.status();
    absl::StatusOr<std::vector<StoredJob>> jobs =
        (*store)->LoadUnfinishedJobs();
    ASSERT_TRUE(jobs.ok()) << jobs.status();
    loaded[chunked] = *std::move(jobs);
    EXPECT_EQ((*store)->FindTaskIndex(1, "t377").value(), 377u);
    EXPECT_EQ((*store)->GetTaskSpec(1, 499)->inputs(0), "t498");
  }
  ASSERT_EQ(loaded[0].size(), 1u);
  ASSERT_EQ(loaded[1].size(), 1u);
  EXPECT_EQ(loaded[1][0].tasks.size(), 500u);
  EXPECT_EQ(loaded[1][0].spec.DebugString(), loaded[0][0].spec.DebugString());
  EXPECT_EQ(Encoded(loaded[1][0]), Encoded(loaded[0][0]));
  // The same records, and a 12-byte header for each chunk's batch: about
  // 13 KB of tasks in chunks of 1 KiB.
  EXPECT_GE(bytes[1], bytes[0] + 12 * 10);
  EXPECT_LE(bytes[1], bytes[0] + 12 * 500);
}

// A submission cut short after some chunks of its tasks were written (no
// header, no status) leaves records under a sequence number no job has:
// Open removes them, so the job that later gets that number has only its
// own tasks.
TEST_F(RocksMetaStoreTest, OpenRemovesTheTasksOfASubmissionCutShort) {
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    WriteSet writes;
    writes.new_jobs.push_back(NewJob(1, 2));
    ASSERT_TRUE(store->Commit(writes, /*sync=*/true).ok());
  }
  std::vector<std::string> first_job_keys;
  {
    auto raw = OpenRaw();
    ASSERT_NE(raw, nullptr);
    first_job_keys = raw->KeysOfJob(1);
    ASSERT_FALSE(first_job_keys.empty());
    for (uint32_t i = 0; i < 5; ++i) {
      v1::TaskSpec task;
      task.set_id(absl::StrCat("cut", i));
      task.set_fn("const");
      ASSERT_TRUE(
          raw->Put("task_specs", rocks::TaskKey(2, i), task.SerializeAsString())
              .ok());
      ASSERT_TRUE(raw->Put("task_ids", absl::StrCat(rocks::SeqKey(2), "cut", i),
                           rocks::TaskKey(2, i).substr(8))
                      .ok());
    }
    ASSERT_EQ(raw->KeysOfJob(2).size(), 10u);
  }
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->NextJobSeq().value(), 2u);
    WriteSet writes;
    writes.new_jobs.push_back(NewJob(2, 3));
    ASSERT_TRUE(store->Commit(writes, /*sync=*/true).ok());
    EXPECT_TRUE(absl::IsNotFound(store->FindTaskIndex(2, "cut4").status()));
    EXPECT_TRUE(absl::IsNotFound(store->GetTaskSpec(2, 4).status()));
    absl::StatusOr<std::vector<StoredJob>> jobs = store->LoadUnfinishedJobs();
    ASSERT_TRUE(jobs.ok()) << jobs.status();
    ASSERT_EQ(jobs->size(), 2u);
    EXPECT_EQ((*jobs)[1].tasks.size(), 3u);
  }
  // The first job, accepted before, is untouched.
  auto raw = OpenRaw();
  ASSERT_NE(raw, nullptr);
  EXPECT_EQ(raw->KeysOfJob(1), first_job_keys);
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
    progress.results.push_back(
        {1, 0, StoredResult{"42", "application/json", nullptr}});
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

TEST_F(RocksMetaStoreTest, TheWorkerRosterIsKeptAcrossReopens) {
  using Entry = std::pair<std::string, std::string>;
  {
    auto store = Open();
    // Never said whole: as of no start.
    WriteSet writes;
    writes.roster.added = {{"i/a", "host-a:1"}, {"i/b", "host-b:2"}};
    ASSERT_TRUE(store->Commit(writes, /*sync=*/true).ok());
    EXPECT_EQ(store->LoadRoster()->whole_as_of, 0u);
    writes = WriteSet();
    writes.roster.whole_as_of = 7;
    writes.roster.removed = {"i/a"};
    writes.roster.added = {{"i/c", "host-c:3"}};
    ASSERT_FALSE(writes.empty());
    ASSERT_TRUE(store->Commit(writes, /*sync=*/true).ok());
  }
  auto store = Open();
  absl::StatusOr<StoredRoster> roster = store->LoadRoster();
  ASSERT_TRUE(roster.ok()) << roster.status();
  EXPECT_EQ(roster->whole_as_of, 7u);
  EXPECT_EQ(roster->workers,
            (std::vector<Entry>{{"i/b", "host-b:2"}, {"i/c", "host-c:3"}}));
  // Every worker gone: whole and empty.
  WriteSet writes;
  writes.roster.removed = {"i/b", "i/c"};
  writes.roster.whole_as_of = 8;
  ASSERT_TRUE(store->Commit(writes, /*sync=*/false).ok());
  roster = store->LoadRoster();
  ASSERT_TRUE(roster.ok()) << roster.status();
  EXPECT_EQ(roster->whole_as_of, 8u);
  EXPECT_TRUE(roster->workers.empty());
}

TEST_F(RocksMetaStoreTest, ResultsMayHoldAnyBytes) {
  auto store = Open();
  std::string bytes("\0\1binary\0", 9);
  WriteSet writes;
  writes.new_jobs.push_back(NewJob(1, 1));
  const std::string type("odd\0type", 8);
  writes.results.push_back({1, 0, StoredResult{bytes, type, nullptr}});
  ASSERT_TRUE(store->Commit(writes, false).ok());
  EXPECT_EQ(store->GetResult(1, 0)->data, bytes);
  EXPECT_EQ(store->GetResult(1, 0)->content_type, type);
}

TEST_F(RocksMetaStoreTest, ResultKeptInTheObjectStoreIsStoredAsItsReference) {
  v1::ObjectRef ref;
  ref.set_bucket("bucket");
  ref.set_key("results/j1/1/2");
  ref.set_size(1 << 20);
  ref.set_crc32c(0xdeadbeef);
  ref.set_content_type("application/json");
  {
    auto store = Open();
    WriteSet writes;
    writes.new_jobs.push_back(NewJob(1, 3));
    writes.results.push_back({1, 0, StoredResult{"inline", "text/x", nullptr}});
    StoredResult by_reference;
    by_reference.content_type = ref.content_type();
    by_reference.ref = std::make_shared<const v1::ObjectRef>(ref);
    writes.results.push_back({1, 1, by_reference});
    // Inline bytes that happen to start like the marker stay bytes.
    writes.results.push_back(
        {1, 2, StoredResult{"x", std::string(200, '\x80'), nullptr}});
    ASSERT_TRUE(store->Commit(writes, false).ok());
  }
  auto store = Open();
  absl::StatusOr<StoredResult> inline_result = store->GetResult(1, 0);
  ASSERT_TRUE(inline_result.ok()) << inline_result.status();
  EXPECT_EQ(inline_result->ref, nullptr);
  EXPECT_EQ(inline_result->data, "inline");
  absl::StatusOr<StoredResult> stored = store->GetResult(1, 1);
  ASSERT_TRUE(stored.ok()) << stored.status();
  ASSERT_NE(stored->ref, nullptr);
  EXPECT_EQ(stored->ref->SerializeAsString(), ref.SerializeAsString());
  EXPECT_EQ(stored->data, "");
  EXPECT_EQ(stored->content_type, "application/json");
  EXPECT_EQ(store->GetResult(1, 2)->ref, nullptr);
  EXPECT_EQ(store->GetResult(1, 2)->data, "x");

  absl::StatusOr<std::vector<v1::ObjectRef>> objects =
      store->ListResultObjects(1);
  ASSERT_TRUE(objects.ok()) << objects.status();
  ASSERT_EQ(objects->size(), 1u);
  EXPECT_EQ((*objects)[0].key(), "results/j1/1/2");
  EXPECT_TRUE(store->ListResultObjects(2)->empty());
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
  EXPECT_EQ((*jobs)[0].tasks.size(), 2u);
  EXPECT_EQ((*jobs)[0].spec.name(), "job2");
}

TEST_F(RocksMetaStoreTest, StoredJobKeepsEveryFieldOfItsSpec) {
  // The store copies the spec's fields one by one; a field added to JobSpec
  // must be added there (RocksMetaStore::Commit) and here.
  ASSERT_EQ(v1::JobSpec::descriptor()->field_count(), 6);
  auto store = Open();
  WriteSet writes;
  writes.new_jobs.push_back(NewJob(1, 2));
  v1::JobSpec spec = *writes.new_jobs[0].spec;
  spec.set_name("every-field");
  spec.set_priority(7);
  spec.set_max_parallelism(3);
  spec.set_continue_on_failure(true);
  spec.mutable_deadline()->set_seconds(90);
  writes.new_jobs[0].spec = std::make_shared<const v1::JobSpec>(spec);
  ASSERT_TRUE(store->Commit(writes, false).ok());
  auto jobs = store->LoadUnfinishedJobs();
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 1u);
  // The tasks are stored apart, each as its encoding.
  std::vector<std::string> tasks;
  for (const v1::TaskSpec& task : spec.tasks()) {
    tasks.push_back(task.SerializeAsString());
  }
  EXPECT_EQ(Encoded((*jobs)[0]), tasks);
  spec.clear_tasks();
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

TEST_F(RocksMetaStoreTest, ListsJobsOldestFirstFromASequenceNumber) {
  auto store = Open();
  WriteSet writes;
  for (uint64_t seq = 1; seq <= 5; ++seq)
    writes.new_jobs.push_back(NewJob(seq, 1));
  ASSERT_TRUE(store->Commit(writes, false).ok());
  auto jobs = store->ListJobStatusesFrom(3, 2);
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  ASSERT_EQ(jobs->size(), 2u);
  EXPECT_EQ((*jobs)[0].job_id(), "j3");
  EXPECT_EQ((*jobs)[1].job_id(), "j4");
  EXPECT_EQ(store->ListJobStatusesFrom(6, 10)->size(), 0u);
}

// Recovery must cost what is unfinished, not what is stored: the records of
// finished jobs are not read at all. Every finished job's status and spec is
// made unreadable in the raw database, and the load still succeeds.
TEST_F(RocksMetaStoreTest, LoadingUnfinishedJobsNeverReadsFinishedOnes) {
  constexpr uint64_t kFinished = 300;
  {
    auto store = Open();
    for (uint64_t seq = 1; seq <= kFinished; ++seq) {
      Add(*store, seq, 2, /*finished=*/true);
    }
    Add(*store, kFinished + 1, 3, /*finished=*/false);
  }
  {
    auto raw = OpenRaw();
    ASSERT_NE(raw, nullptr);
    // 0x07: field 0 with wire type 7, which no protobuf parser accepts.
    const std::string garbage("\x07garbage", 8);
    for (uint64_t seq = 1; seq <= kFinished; ++seq) {
      const std::string key = testing::RawRocksDb::SeqKey(seq);
      ASSERT_TRUE(raw->Put("jobs", key, garbage).ok());
      ASSERT_TRUE(raw->Put("job_specs", key, garbage).ok());
      ASSERT_TRUE(raw->DeletePrefix("task_specs", key).ok());
    }
  }
  auto store = Open();
  ASSERT_NE(store, nullptr);
  auto jobs = store->LoadUnfinishedJobs();
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  ASSERT_THAT(Seqs(*jobs), ElementsAre(kFinished + 1));
  EXPECT_EQ((*jobs)[0].tasks.size(), 3u);
  // The finished records really are unreadable.
  EXPECT_EQ(store->GetJobStatus(1).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(RocksMetaStoreTest, JobFinishedInTheBatchThatStoresItIsNotIndexed) {
  auto store = Open();
  Add(*store, 1, 1, /*finished=*/true);
  Add(*store, 2, 1, /*finished=*/false);
  WriteSet running;
  v1::JobStatus status = NewJob(2, 1).status;
  status.set_state(v1::JOB_RUNNING);
  running.job_statuses.emplace_back(2, status);
  ASSERT_TRUE(store->Commit(running, false).ok());
  EXPECT_THAT(Seqs(*store->LoadUnfinishedJobs()), ElementsAre(2u));
  WriteSet failed;
  status.set_state(v1::JOB_FAILED);
  failed.job_statuses.emplace_back(2, status);
  ASSERT_TRUE(store->Commit(failed, false).ok());
  EXPECT_THAT(Seqs(*store->LoadUnfinishedJobs()), IsEmpty());
}

// Deleting a job leaves not one key of it in any column family.
TEST_F(RocksMetaStoreTest, DeleteJobRemovesEveryKeyOfTheJob) {
  {
    auto store = Open();
    Add(*store, 1, 2, /*finished=*/true, "keep-1");
    Add(*store, 3, 2, /*finished=*/false, "keep-3");
  }
  size_t before = 0;
  {
    auto raw = OpenRaw();
    before = raw->CountKeys();
  }
  {
    auto store = Open();
    Add(*store, 2, 5, /*finished=*/true, "gone", "gone-tenant");
    EXPECT_EQ(
        store->FindRequest(RequestKey("gone-tenant", "gone"))->value_or(0), 2u);
    ASSERT_EQ(store->DeleteJob(2, /*sync=*/true), absl::OkStatus());
    EXPECT_TRUE(absl::IsNotFound(store->GetJobStatus(2).status()));
    EXPECT_TRUE(absl::IsNotFound(store->FindTaskIndex(2, "t0").status()));
    EXPECT_TRUE(absl::IsNotFound(store->GetResult(2, 0).status()));
    EXPECT_TRUE(absl::IsNotFound(store->GetTaskSpec(2, 0).status()));
    EXPECT_THAT(*store->ListTaskStatuses(2), IsEmpty());
    EXPECT_FALSE(
        store->FindRequest(RequestKey("gone-tenant", "gone"))->has_value());
    // The other jobs are untouched.
    EXPECT_EQ(store->FindRequest("keep-1")->value_or(0), 1u);
    EXPECT_EQ(store->GetResult(1, 1)->data, "1");
    EXPECT_THAT(Seqs(*store->LoadUnfinishedJobs()), ElementsAre(3u));
  }
  auto raw = OpenRaw();
  EXPECT_THAT(raw->KeysOfJob(2), IsEmpty());
  EXPECT_EQ(raw->CountKeys(), before);
}

// An output dagd stores itself: written chunk by chunk, read back in any
// range (across chunk boundaries too), and gone with its job.
TEST_F(RocksMetaStoreTest, StoredResultIsReadInRangesAndGoesWithItsJob) {
  constexpr uint64_t kChunk = MetaStore::kResultChunkBytes;
  std::string bytes(2 * kChunk + 5, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = static_cast<char>((i * 7 + i / 9) & 0xff);
  }
  {
    auto store = Open();
    Add(*store, 1, 2, /*finished=*/true);
    Add(*store, 2, 1, /*finished=*/true);
    for (uint32_t chunk = 0; chunk < 3; ++chunk) {
      ASSERT_EQ(store->PutResultChunk(
                    1, 1, chunk,
                    absl::string_view(bytes).substr(chunk * kChunk, kChunk)),
                absl::OkStatus());
    }
    ASSERT_EQ(store->PutResultChunk(2, 0, 0, "other"), absl::OkStatus());
  }
  auto store = Open();  // the chunks are in the database, not in memory
  EXPECT_EQ(*store->ReadResultChunks(1, 1, bytes.size(), 0, 0), bytes);
  EXPECT_EQ(*store->ReadResultChunks(1, 1, bytes.size(), kChunk - 3, 10),
            bytes.substr(kChunk - 3, 10));
  EXPECT_EQ(*store->ReadResultChunks(1, 1, bytes.size(), 2 * kChunk + 1, 100),
            bytes.substr(2 * kChunk + 1));
  EXPECT_EQ(*store->ReadResultChunks(1, 1, bytes.size(), bytes.size(), 0), "");
  EXPECT_EQ(store->ReadResultChunks(1, 1, bytes.size(), bytes.size() + 1, 0)
                .status()
                .code(),
            absl::StatusCode::kOutOfRange);
  // A size the chunks do not have (a chunk is missing or short).
  absl::StatusOr<std::string> longer =
      store->ReadResultChunks(1, 1, 3 * kChunk + 1, 0, 0);
  EXPECT_EQ(longer.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(longer.status().message(), HasSubstr("chunk 2"));

  ASSERT_EQ(store->DeleteJob(1, /*sync=*/true), absl::OkStatus());
  EXPECT_EQ(store->ReadResultChunks(1, 1, bytes.size(), 0, 0).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(*store->ReadResultChunks(2, 0, 5, 0, 0), "other");
}

TEST_F(RocksMetaStoreTest, DeleteJobOfALargeJobLeavesNoKeyEither) {
  {
    auto store = Open();
    Add(*store, 1, 1, /*finished=*/true);
    Add(*store, 2, 2500, /*finished=*/true, "big");
    Add(*store, 3, 1, /*finished=*/true);
    ASSERT_EQ(store->DeleteJob(2, /*sync=*/false), absl::OkStatus());
    EXPECT_TRUE(absl::IsNotFound(store->GetTaskSpec(2, 2499).status()));
    EXPECT_EQ(store->GetTaskSpec(3, 0)->id(), "t0");
  }
  auto raw = OpenRaw();
  EXPECT_THAT(raw->KeysOfJob(2), IsEmpty());
}

TEST_F(RocksMetaStoreTest, DeleteJobRefusesUnknownAndUnfinishedJobs) {
  auto store = Open();
  Add(*store, 1, 2, /*finished=*/false);
  absl::Status unknown = store->DeleteJob(7, true);
  EXPECT_EQ(unknown.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(unknown.message(), HasSubstr("no job 'j7'"));
  absl::Status running = store->DeleteJob(1, true);
  EXPECT_EQ(running.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(running.message(), HasSubstr("job 'j1' is PENDING"));
  EXPECT_EQ(store->GetTaskSpec(1, 1)->id(), "t1");
  EXPECT_THAT(Seqs(*store->LoadUnfinishedJobs()), ElementsAre(1u));
  WriteSet cancel;
  v1::JobStatus cancelled = NewJob(1, 2).status;
  cancelled.set_state(v1::JOB_CANCELLED);
  cancel.job_statuses.emplace_back(1, cancelled);
  ASSERT_TRUE(store->Commit(cancel, false).ok());
  EXPECT_EQ(store->DeleteJob(1, true), absl::OkStatus());
  EXPECT_EQ(store->DeleteJob(1, true).code(), absl::StatusCode::kNotFound);
}

// Numbers dagd reserved (WriteSet::next_job_seq) are where a reopened
// store goes on from; deleting the newest job does not take them back.
TEST_F(RocksMetaStoreTest, ReservedJobNumbersAreNotHandedOutAgain) {
  {
    auto store = Open();
    Add(*store, 1, 1, true);
    WriteSet reserve;
    reserve.next_job_seq = 65;
    ASSERT_FALSE(reserve.empty());
    ASSERT_EQ(store->Commit(reserve, true), absl::OkStatus());
    EXPECT_EQ(store->NextJobSeq().value(), 65u);
    ASSERT_EQ(store->DeleteJob(1, true), absl::OkStatus());
  }
  EXPECT_EQ(Open()->NextJobSeq().value(), 65u);
}

// Ids are never reused: deleting the newest jobs keeps their numbers taken,
// across a reopen.
TEST_F(RocksMetaStoreTest, DeletingTheNewestJobsKeepsTheirIdsTaken) {
  {
    auto store = Open();
    for (uint64_t seq = 1; seq <= 3; ++seq) Add(*store, seq, 1, true);
    ASSERT_EQ(store->DeleteJob(3, true), absl::OkStatus());
    ASSERT_EQ(store->DeleteJob(1, true), absl::OkStatus());
    ASSERT_EQ(store->DeleteJob(2, true), absl::OkStatus());
    EXPECT_EQ(store->NextJobSeq().value(), 4u);
  }
  auto store = Open();
  EXPECT_EQ(store->NextJobSeq().value(), 4u);
  Add(*store, 4, 1, true);
  Add(*store, 5, 1, true);
  ASSERT_EQ(store->DeleteJob(4, true), absl::OkStatus());
  EXPECT_EQ(store->NextJobSeq().value(), 6u);
}

TEST_F(RocksMetaStoreTest, RequestIdOfADeletedJobMayNameANewOne) {
  auto store = Open();
  Add(*store, 1, 1, /*finished=*/true, "nightly");
  ASSERT_EQ(store->DeleteJob(1, true), absl::OkStatus());
  Add(*store, 2, 1, /*finished=*/true, "nightly");
  EXPECT_EQ(store->FindRequest("nightly")->value_or(0), 2u);
  ASSERT_EQ(store->DeleteJob(2, true), absl::OkStatus());
  EXPECT_FALSE(store->FindRequest("nightly")->has_value());
}

// A view reads the store as it was when it was made: later commits, new
// jobs and deletions alike, do not show through it.
TEST_F(RocksMetaStoreTest, ReadViewSeesTheStoreAsItWasWhenMade) {
  auto store = Open();
  Add(*store, 1, 3, /*finished=*/true, "first");
  absl::StatusOr<std::unique_ptr<MetaReadView>> view = store->NewReadView();
  ASSERT_TRUE(view.ok()) << view.status();

  Add(*store, 2, 1, /*finished=*/false);
  ASSERT_EQ(store->DeleteJob(1, /*sync=*/false), absl::OkStatus());
  ASSERT_TRUE(absl::IsNotFound(store->GetJobStatus(1).status()));

  MetaReadView& before = **view;
  EXPECT_EQ(before.GetJobStatus(1)->state(), v1::JOB_SUCCEEDED);
  EXPECT_TRUE(absl::IsNotFound(before.GetJobStatus(2).status()));
  EXPECT_EQ(before.FindTaskIndex(1, "t2").value_or(0), 2u);
  EXPECT_EQ(before.GetResult(1, 2)->data, "1");
  EXPECT_EQ(before.GetTaskSpec(1, 0)->id(), "t0");
  EXPECT_EQ(before.GetTaskStatus(1, 1)->state(), v1::TASK_SUCCEEDED);
  EXPECT_EQ(before.FindRequest("first")->value_or(0), 1u);
  std::vector<uint32_t> visited;
  ASSERT_EQ(before.ForEachStoredTask(
                1, [&](uint32_t index, v1::TaskStatus&,
                       const v1::TaskSpec&) { visited.push_back(index); }),
            absl::OkStatus());
  EXPECT_THAT(visited, ElementsAre(0u, 1u, 2u));
  absl::StatusOr<std::vector<v1::JobStatus>> jobs =
      before.ListJobStatuses(UINT64_MAX, 10);
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ((*jobs)[0].job_id(), "j1");

  // A view made now sees the deletion and the new job.
  absl::StatusOr<std::unique_ptr<MetaReadView>> after = store->NewReadView();
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(absl::IsNotFound((*after)->GetJobStatus(1).status()));
  EXPECT_EQ((*after)->GetJobStatus(2)->state(), v1::JOB_PENDING);
}

// One pass over a job's statuses and specs: each status comes with its own
// task's spec, tasks without a status are skipped, other jobs are not
// touched.
TEST_F(RocksMetaStoreTest, ForEachStoredTaskPairsEachStatusWithItsSpec) {
  auto store = Open();
  Add(*store, 1, 2, /*finished=*/true);
  WriteSet writes;
  writes.new_jobs.push_back(NewJob(2, 5));
  auto spec = std::make_shared<v1::JobSpec>(*writes.new_jobs[0].spec);
  for (int i = 1; i < 5; ++i) {
    spec->mutable_tasks(i)->add_inputs(absl::StrCat("t", i - 1));
  }
  writes.new_jobs[0].spec = std::move(spec);
  for (uint32_t i : {1u, 3u, 4u}) {
    v1::TaskStatus done;
    done.set_task_id(absl::StrCat("t", i));
    done.set_state(v1::TASK_FAILED);
    writes.task_statuses.push_back({2, i, done});
  }
  ASSERT_TRUE(store->Commit(writes, false).ok());
  Add(*store, 3, 2, /*finished=*/true);

  absl::StatusOr<std::unique_ptr<MetaReadView>> view = store->NewReadView();
  ASSERT_TRUE(view.ok());
  std::vector<std::string> seen;
  ASSERT_EQ((*view)->ForEachStoredTask(
                2,
                [&](uint32_t index, v1::TaskStatus& status,
                    const v1::TaskSpec& spec) {
                  EXPECT_EQ(status.task_id(), spec.id());
                  seen.push_back(
                      absl::StrCat(index, ":", spec.id(), "<", spec.inputs(0)));
                }),
            absl::OkStatus());
  EXPECT_THAT(seen, ElementsAre("1:t1<t0", "3:t3<t2", "4:t4<t3"));
  int none = 0;
  ASSERT_EQ((*view)->ForEachStoredTask(9, [&](uint32_t, v1::TaskStatus&,
                                              const v1::TaskSpec&) { ++none; }),
            absl::OkStatus());
  EXPECT_EQ(none, 0);
}

// A deletion is one more part of a commit: applied with the turn's other
// writes, and a new job in the same batch keeps the next id beyond it.
TEST_F(RocksMetaStoreTest, CommitAppliesDeletionsWithTheOtherWrites) {
  auto store = Open();
  Add(*store, 1, 2, /*finished=*/true, "old");
  absl::StatusOr<std::unique_ptr<MetaReadView>> view = store->NewReadView();
  ASSERT_TRUE(view.ok());
  absl::StatusOr<JobDeletion> deletion = (*view)->PlanJobDeletion(1);
  ASSERT_TRUE(deletion.ok()) << deletion.status();
  EXPECT_EQ(deletion->request_id, "old");
  WriteSet writes;
  writes.new_jobs.push_back(NewJob(2, 1));
  writes.deleted_jobs.push_back(*deletion);
  ASSERT_TRUE(store->Commit(writes, /*sync=*/true).ok());
  EXPECT_TRUE(absl::IsNotFound(store->GetJobStatus(1).status()));
  EXPECT_FALSE(store->FindRequest("old")->has_value());
  EXPECT_EQ(store->GetJobStatus(2)->state(), v1::JOB_PENDING);
  EXPECT_EQ(store->NextJobSeq().value(), 3u);
}

// leveldb's EnvWrapper for the store: a fake overrides one call, every
// other one reaches the store it wraps.
TEST_F(RocksMetaStoreTest, WrapperForwardsWhatItDoesNotOverride) {
  class NoSync : public MetaStoreWrapper {
   public:
    using MetaStoreWrapper::MetaStoreWrapper;
    absl::Status Commit(const WriteSet& writes, bool,
                        uint64_t* bytes) override {
      ++commits;
      return MetaStoreWrapper::Commit(writes, /*sync=*/false, bytes);
    }
    int commits = 0;
  };
  auto store = Open();
  NoSync wrapper(store.get());
  EXPECT_EQ(wrapper.target(), store.get());
  WriteSet writes;
  writes.new_jobs.push_back(NewJob(1, 2, "req"));
  ASSERT_TRUE(wrapper.Commit(writes, /*sync=*/true, nullptr).ok());
  EXPECT_EQ(wrapper.commits, 1);
  EXPECT_EQ(wrapper.GetJobStatus(1)->job_id(), "j1");
  EXPECT_EQ(wrapper.FindRequest("req")->value_or(0), 1u);
  EXPECT_EQ(wrapper.FindTaskIndex(1, "t1").value_or(0), 1u);
  EXPECT_EQ(wrapper.NextJobSeq().value(), 2u);
  EXPECT_EQ(wrapper.ListJobStatusesFrom(1, 10)->size(), 1u);
  EXPECT_EQ(wrapper.StoreId().value(), store->StoreId().value());
  EXPECT_EQ(Seqs(*wrapper.LoadUnfinishedJobs()), std::vector<uint64_t>{1});
  absl::StatusOr<std::unique_ptr<MetaReadView>> view = wrapper.NewReadView();
  ASSERT_TRUE(view.ok());
  EXPECT_EQ((*view)->GetTaskSpec(1, 1)->id(), "t1");
}

}  // namespace
}  // namespace dagd
