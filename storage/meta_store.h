#ifndef DAGD_STORAGE_META_STORE_H_
#define DAGD_STORAGE_META_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dagd/v1/job_service.pb.h"
#include "dagd/v1/types.pb.h"
#include "storage/task_record_writer.h"
#include "storage/write_set.h"

namespace dagd {

// What a submission's request id is stored under (FindRequest,
// WriteSet::NewJob::request_id): tenants name their requests independently,
// and one must not find another's job by guessing its request id. "" is the
// tenant of dagd without identities, whose keys are the ids as they are.
std::string RequestKey(absl::string_view tenant, absl::string_view request_id);

// The store as it was at one moment: every read through one view sees the
// same committed state, whatever is committed or deleted after the view was
// made. Made by MetaStore::NewReadView; it may outlive nothing but its
// store. Not thread-safe: one thread uses a view at a time (views are
// independent of each other).
//
// Errors as MetaStore's: NOT_FOUND for a record that is not there,
// UNAVAILABLE when the storage failed, DATA_LOSS when a record does not
// parse.
class MetaReadView {
 public:
  virtual ~MetaReadView() = default;

  virtual absl::StatusOr<v1::JobStatus> GetJobStatus(uint64_t seq) = 0;
  // Up to `limit` job statuses with sequence numbers below `before_seq`,
  // newest first.
  virtual absl::StatusOr<std::vector<v1::JobStatus>> ListJobStatuses(
      uint64_t before_seq, size_t limit) = 0;
  // The same, of `tenant`'s jobs only. This one skips the others' jobs a
  // batch at a time; a store with an index of jobs by tenant reads only
  // the tenant's.
  virtual absl::StatusOr<std::vector<v1::JobStatus>> ListTenantJobStatuses(
      absl::string_view tenant, uint64_t before_seq, size_t limit);
  virtual absl::StatusOr<uint32_t> FindTaskIndex(uint64_t seq,
                                                 absl::string_view task_id) = 0;
  virtual absl::StatusOr<v1::TaskStatus> GetTaskStatus(uint64_t seq,
                                                       uint32_t index) = 0;
  virtual absl::StatusOr<v1::TaskSpec> GetTaskSpec(uint64_t seq,
                                                   uint32_t index) = 0;
  virtual absl::StatusOr<StoredResult> GetResult(uint64_t seq,
                                                 uint32_t index) = 0;
  virtual absl::StatusOr<std::optional<uint64_t>> FindRequest(
      absl::string_view request_id) = 0;

  // Calls `visit` with every task of job `seq` of index in [from, end) that
  // has a stored status, in task index order, with its spec beside it
  // (`status` may be moved from). Reads the job's statuses and specs in one
  // pass each, not one lookup per task. An error ends the walk.
  using TaskVisitor = absl::FunctionRef<void(
      uint32_t index, v1::TaskStatus& status, const v1::TaskSpec& spec)>;
  virtual absl::Status ForEachStoredTask(uint64_t seq, uint32_t from,
                                         uint32_t end, TaskVisitor visit) = 0;
  // Every such task of the job.
  absl::Status ForEachStoredTask(uint64_t seq, TaskVisitor visit) {
    return ForEachStoredTask(seq, 0, UINT32_MAX, visit);
  }

  // The object store references among job `seq`'s results (what deleting
  // the job must also delete there).
  virtual absl::StatusOr<std::vector<v1::ObjectRef>> ListResultObjects(
      uint64_t seq) = 0;

  // What deleting job `seq` removes. NOT_FOUND ("no job 'j7'") when there
  // is no such job; FAILED_PRECONDITION ("job 'j1' is RUNNING: only a
  // finished job can be deleted") when it has not finished.
  absl::StatusOr<JobDeletion> PlanJobDeletion(uint64_t seq);
};

// The coordinator's durable state: jobs, task specs, task states, results
// and idempotency keys. Implementations are thread-safe: the coordinator's
// loop commits while query threads and the retention sweep read.
//
// Errors: UNAVAILABLE when the underlying storage failed (retryable from
// the caller's point of view only after an operator fixes the disk),
// DATA_LOSS when a stored record cannot be parsed.
//
// A wrapper that changes a few calls derives from MetaStoreWrapper below.
class MetaStore {
 public:
  virtual ~MetaStore() = default;

  // Applies `writes` atomically: a reader sees all of it or none of it as
  // jobs (RocksMetaStore writes a big new job's task records ahead, but
  // they belong to no job until the rest lands, and are removed at the
  // next Open if it never does). With `sync`, returns only once the change
  // is on stable storage; without it, the change survives a process crash
  // but not a power loss. When `bytes` is given, it receives the size of
  // what was written.
  virtual absl::Status Commit(const WriteSet& writes, bool sync,
                              uint64_t* bytes = nullptr) = 0;

  // A view of everything committed so far (a RocksDB snapshot), for reads
  // that must not see later commits and must not hold up the committer.
  virtual absl::StatusOr<std::unique_ptr<MetaReadView>> NewReadView() = 0;

  // Counts coordinator starts: returns 1 on an empty store, then one more on
  // each call, durably. Worker ids include it, so a report from before a
  // restart can never match an attempt made after it.
  virtual absl::StatusOr<uint64_t> StartIncarnation() = 0;

  // A random id made when the store was created, the same for its life.
  virtual absl::StatusOr<std::string> StoreId() = 0;
  // 16 random bytes made when the store was created, never sent anywhere:
  // the key that seals attempts (TaskRef.seal), so that seals made before a
  // restart still check after it.
  virtual absl::StatusOr<std::string> AttemptKey() = 0;

  // The roster of workers that may still run or hold work of dagd's jobs
  // (WriteSet::roster), and the start that last said it is whole.
  virtual absl::StatusOr<StoredRoster> LoadRoster() = 0;

  // The next unused job sequence number (1 on an empty store).
  virtual absl::StatusOr<uint64_t> NextJobSeq() = 0;
  // A writer of job `seq`'s task records ahead of the commit that stores
  // the job (TaskRecordWriter). `seq` must be one no job has or will be
  // given otherwise. Thread-safe.
  virtual std::unique_ptr<TaskRecordWriter> NewTaskRecordWriter(
      uint64_t seq) = 0;

  // NOT_FOUND when there is no such job.
  virtual absl::StatusOr<v1::JobStatus> GetJobStatus(uint64_t seq) = 0;

  // Up to `limit` job statuses with sequence numbers below `before_seq`,
  // newest first.
  virtual absl::StatusOr<std::vector<v1::JobStatus>> ListJobStatuses(
      uint64_t before_seq, size_t limit) = 0;
  // Up to `limit` job statuses with sequence numbers from `from_seq` on,
  // oldest first (what a retention sweep walks).
  virtual absl::StatusOr<std::vector<v1::JobStatus>> ListJobStatusesFrom(
      uint64_t from_seq, size_t limit) = 0;

  // NOT_FOUND when the task has no stored status.
  virtual absl::StatusOr<v1::TaskStatus> GetTaskStatus(uint64_t seq,
                                                       uint32_t index) = 0;
  // The index of the task with this id in its job. NOT_FOUND when the job
  // has no such task (or there is no such job).
  virtual absl::StatusOr<uint32_t> FindTaskIndex(uint64_t seq,
                                                 absl::string_view task_id) = 0;

  // Every stored task status of a job, by task index.
  virtual absl::StatusOr<std::vector<std::pair<uint32_t, v1::TaskStatus>>>
  ListTaskStatuses(uint64_t seq) = 0;
  virtual absl::StatusOr<StoredResult> GetResult(uint64_t seq,
                                                 uint32_t index) = 0;
  // The object store references among job `seq`'s results (what deleting
  // the job must also delete there).
  virtual absl::StatusOr<std::vector<v1::ObjectRef>> ListResultObjects(
      uint64_t seq) = 0;
  virtual absl::StatusOr<v1::TaskSpec> GetTaskSpec(uint64_t seq,
                                                   uint32_t index) = 0;

  // The job sequence number an earlier submission with this request key
  // (RequestKey) created, if any.
  virtual absl::StatusOr<std::optional<uint64_t>> FindRequest(
      absl::string_view request_id) = 0;

  // Every job whose stored state is not terminal, oldest first. Reads only
  // those jobs: its cost grows with unfinished work, not with history.
  virtual absl::StatusOr<std::vector<StoredJob>> LoadUnfinishedJobs() = 0;

  // The bytes of a result kept in the store itself (ObjectRef.stored): a
  // job's output copied from the worker that holds it, written chunk by
  // chunk (kResultChunkBytes each, the last one shorter) outside any turn,
  // so that no write holds a whole result. Chunks are unsynced: the turn
  // that then records the result as stored is synced, and RocksDB's WAL
  // keeps order, so a restart never finds the record without its chunks.
  // Chunks nothing records yet are overwritten by the next copy of the
  // same result, or go with their job. Deleting a job deletes its chunks.
  static constexpr uint64_t kResultChunkBytes = 1 << 20;
  virtual absl::Status PutResultChunk(uint64_t seq, uint32_t index,
                                      uint32_t chunk,
                                      absl::string_view bytes) = 0;
  // Bytes [offset, offset + length) of a stored result of `size` bytes
  // (length 0: to the end), from its chunks. DATA_LOSS when a chunk is
  // missing or short; OUT_OF_RANGE when offset is past the end.
  virtual absl::StatusOr<std::string> ReadResultChunks(uint64_t seq,
                                                       uint32_t index,
                                                       uint64_t size,
                                                       uint64_t offset,
                                                       uint64_t length) = 0;
};

// A MetaStore that forwards every call to `target` (not owned), as
// leveldb's EnvWrapper does for Env: a test fake derives from it and
// overrides only the calls it changes, and a call added to MetaStore is
// added here once, not to every fake.
class MetaStoreWrapper : public MetaStore {
 public:
  explicit MetaStoreWrapper(MetaStore* target) : target_(target) {}

  MetaStore* target() const { return target_; }

  absl::Status Commit(const WriteSet& writes, bool sync,
                      uint64_t* bytes = nullptr) override {
    return target_->Commit(writes, sync, bytes);
  }
  absl::StatusOr<std::unique_ptr<MetaReadView>> NewReadView() override {
    return target_->NewReadView();
  }
  absl::StatusOr<uint64_t> StartIncarnation() override {
    return target_->StartIncarnation();
  }
  absl::StatusOr<std::string> StoreId() override { return target_->StoreId(); }
  absl::StatusOr<std::string> AttemptKey() override {
    return target_->AttemptKey();
  }
  absl::StatusOr<StoredRoster> LoadRoster() override {
    return target_->LoadRoster();
  }
  absl::StatusOr<uint64_t> NextJobSeq() override {
    return target_->NextJobSeq();
  }
  std::unique_ptr<TaskRecordWriter> NewTaskRecordWriter(uint64_t seq) override {
    return target_->NewTaskRecordWriter(seq);
  }
  absl::StatusOr<v1::JobStatus> GetJobStatus(uint64_t seq) override {
    return target_->GetJobStatus(seq);
  }
  absl::StatusOr<std::vector<v1::JobStatus>> ListJobStatuses(
      uint64_t before_seq, size_t limit) override {
    return target_->ListJobStatuses(before_seq, limit);
  }
  absl::StatusOr<std::vector<v1::JobStatus>> ListJobStatusesFrom(
      uint64_t from_seq, size_t limit) override {
    return target_->ListJobStatusesFrom(from_seq, limit);
  }
  absl::StatusOr<v1::TaskStatus> GetTaskStatus(uint64_t seq,
                                               uint32_t index) override {
    return target_->GetTaskStatus(seq, index);
  }
  absl::StatusOr<uint32_t> FindTaskIndex(uint64_t seq,
                                         absl::string_view task_id) override {
    return target_->FindTaskIndex(seq, task_id);
  }
  absl::StatusOr<std::vector<std::pair<uint32_t, v1::TaskStatus>>>
  ListTaskStatuses(uint64_t seq) override {
    return target_->ListTaskStatuses(seq);
  }
  absl::StatusOr<StoredResult> GetResult(uint64_t seq,
                                         uint32_t index) override {
    return target_->GetResult(seq, index);
  }
  absl::StatusOr<std::vector<v1::ObjectRef>> ListResultObjects(
      uint64_t seq) override {
    return target_->ListResultObjects(seq);
  }
  absl::StatusOr<v1::TaskSpec> GetTaskSpec(uint64_t seq,
                                           uint32_t index) override {
    return target_->GetTaskSpec(seq, index);
  }
  absl::StatusOr<std::optional<uint64_t>> FindRequest(
      absl::string_view request_id) override {
    return target_->FindRequest(request_id);
  }
  absl::StatusOr<std::vector<StoredJob>> LoadUnfinishedJobs() override {
    return target_->LoadUnfinishedJobs();
  }
  absl::Status PutResultChunk(uint64_t seq, uint32_t index, uint32_t chunk,
                              absl::string_view bytes) override {
    return target_->PutResultChunk(seq, index, chunk, bytes);
  }
  absl::StatusOr<std::string> ReadResultChunks(uint64_t seq, uint32_t index,
                                               uint64_t size, uint64_t offset,
                                               uint64_t length) override {
    return target_->ReadResultChunks(seq, index, size, offset, length);
  }

 private:
  MetaStore* const target_;
};

}  // namespace dagd

#endif  // DAGD_STORAGE_META_STORE_H_
