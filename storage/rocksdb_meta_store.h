#ifndef DAGD_STORAGE_ROCKSDB_META_STORE_H_
#define DAGD_STORAGE_ROCKSDB_META_STORE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/write_batch.h"
#include "storage/meta_store.h"
#include "storage/rocksdb_task_records.h"
#include "storage/task_record_writer.h"

namespace dagd {

// MetaStore on RocksDB. One column family per record kind, keyed by the
// job's sequence number (8 bytes, big-endian) so a job's records are one
// prefix scan and jobs sort by submission:
//   jobs         seq            -> v1::JobStatus
//   job_specs    seq            -> v1::JobSpec without its tasks
//   task_specs   seq + index    -> v1::TaskSpec
//   task_states  seq + index    -> v1::TaskStatus (terminal states)
//   results      seq + index    -> content type length, type, bytes
//   requests     request id     -> seq
//   task_ids     seq + task id  -> index (4 bytes), for lookups by id
//   meta         "schema_version", "incarnation", "next_job_seq" (numbers
//                dagd reserved, or the newest deleted job's), and
//                "unfinished/" + seq -> ""
//                for each job not yet SUCCEEDED, FAILED or CANCELLED
// Every write goes through the WAL; Commit(sync=true) fsyncs it. Reads
// through NewReadView() see a RocksDB snapshot; the store's own read calls
// see the latest state.
//
// The unfinished index is written in the batch that stores a new job and
// erased in the batch that stores its final status, so recovery reads only
// unfinished jobs. Schema 1 (before the index) is upgraded at Open by one
// scan of every job status; schema 2 is refused by dagd builds that predate
// the index, since they would not keep it. Schema 3 adds results kept in
// the object store (a reference instead of bytes): schema 2 is upgraded by
// writing the new number, and builds that could not read such a result
// refuse the directory instead of failing on it later. Schema 4 adds the
// index of jobs by tenant (a tenant's ListJobs reads its jobs only), built
// from one scan at the first open of an older directory.
class RocksMetaStore : public MetaStore {
 public:
  static constexpr int kSchemaVersion = 4;

  struct Options {
    // A new job of more tasks than this has its task records written ahead
    // of the turn's batch, in writes of about `chunk_bytes` each (by a
    // RocksTaskRecordWriter, while its request is read or at the commit):
    // one batch of a million tasks was dagd's largest allocation (a 128 MB
    // batch, as much again in the memtable), and ten million would not fit
    // at all.
    uint32_t chunked_job_tasks = kBigJobTasks;
    uint64_t chunk_bytes = 4 << 20;
  };

  // Opens or creates the store in `dir`, upgrading an older schema, and
  // removes the task records of a job whose submission was cut short (its
  // chunks written, or a TaskRecordWriter's, the batch with its header
  // not). Fails with a message
  // naming the directory when it cannot be created, written or parsed, or
  // when it holds a schema this build does not understand.
  static absl::StatusOr<std::unique_ptr<RocksMetaStore>> Open(
      const std::string& dir);
  static absl::StatusOr<std::unique_ptr<RocksMetaStore>> Open(
      const std::string& dir, const Options& options);

  ~RocksMetaStore() override;

  absl::Status Commit(const WriteSet& writes, bool sync,
                      uint64_t* bytes = nullptr) override;
  absl::StatusOr<std::unique_ptr<MetaReadView>> NewReadView() override;
  absl::StatusOr<uint64_t> StartIncarnation() override;
  absl::StatusOr<std::string> StoreId() override;
  absl::StatusOr<std::string> AttemptKey() override;
  absl::StatusOr<StoredRoster> LoadRoster() override;
  absl::StatusOr<uint64_t> NextJobSeq() override;
  std::unique_ptr<TaskRecordWriter> NewTaskRecordWriter(uint64_t seq) override;
  absl::StatusOr<v1::JobStatus> GetJobStatus(uint64_t seq) override;
  absl::StatusOr<std::vector<v1::JobStatus>> ListJobStatuses(
      uint64_t before_seq, size_t limit) override;
  absl::StatusOr<std::vector<v1::JobStatus>> ListJobStatusesFrom(
      uint64_t from_seq, size_t limit) override;
  absl::StatusOr<v1::TaskStatus> GetTaskStatus(uint64_t seq,
                                               uint32_t index) override;
  absl::StatusOr<uint32_t> FindTaskIndex(uint64_t seq,
                                         absl::string_view task_id) override;
  absl::StatusOr<std::vector<std::pair<uint32_t, v1::TaskStatus>>>
  ListTaskStatuses(uint64_t seq) override;
  absl::StatusOr<StoredResult> GetResult(uint64_t seq, uint32_t index) override;
  absl::StatusOr<std::vector<v1::ObjectRef>> ListResultObjects(
      uint64_t seq) override;
  absl::StatusOr<v1::TaskSpec> GetTaskSpec(uint64_t seq,
                                           uint32_t index) override;
  absl::StatusOr<std::optional<uint64_t>> FindRequest(
      absl::string_view request_id) override;
  absl::StatusOr<std::vector<StoredJob>> LoadUnfinishedJobs() override;
  absl::Status PutResultChunk(uint64_t seq, uint32_t index, uint32_t chunk,
                              absl::string_view bytes) override;
  absl::StatusOr<std::string> ReadResultChunks(uint64_t seq, uint32_t index,
                                               uint64_t size, uint64_t offset,
                                               uint64_t length) override;

  // Removes every record of finished job `seq` at once: plans the deletion
  // on a fresh view and commits it alone (dagd itself deletes in its
  // coordinator's turns). With `sync`, returns once the removal is on
  // stable storage. Errors as MetaReadView::PlanJobDeletion's.
  absl::Status DeleteJob(uint64_t seq, bool sync);

 private:
  // The value of meta record `key`: 32 random hex digits made and synced
  // the first time it is asked for. `what` names it in errors.
  absl::StatusOr<std::string> RandomOnce(const char* key, const char* what);
  // Puts the roster's changes into `batch` (LoadRoster reads them).
  void PutRoster(rocksdb::WriteBatch& batch,
                 const WriteSet::RosterWrites& roster);
  // Puts the task records of `job` into `batch`, or, for a big job, writes
  // them in chunks of their own (Options) with a RocksTaskRecordWriter,
  // adding their bytes to `written`.
  absl::Status PutTaskRecords(const WriteSet::NewJob& job,
                              rocksdb::WriteBatch& batch, uint64_t& written);
  // Deletes task records of sequence numbers no job has: what a submission
  // cut short by a crash left behind (PutTaskRecords).
  absl::Status RemoveUnacceptedTasks();
  // Where a RocksTaskRecordWriter of this store writes.
  TaskRecordFamilies RecordFamilies() const;
  class Reader;
  class View;

  enum Family {
    kDefault,
    kTaskIds,
    kJobs,
    kJobSpecs,
    kTaskSpecs,
    kTaskStates,
    kResults,
    kRequests,
    kMeta,
    kResultChunks,
    kFamilyCount
  };

  // How a family is stored and compacted.
  static rocksdb::ColumnFamilyOptions FamilyOptions(Family family);

  RocksMetaStore(std::unique_ptr<rocksdb::DB> db,
                 std::vector<rocksdb::ColumnFamilyHandle*> handles,
                 const Options& options);
  absl::Status CheckSchema();
  // Schema 1-3 -> 4: indexes every job by tenant (and, from schema 1,
  // every unfinished job), in one synced batch with the new version.
  absl::Status BuildIndexes(bool unfinished);
  // Adds to `batch` the deletion of every key of `family` that starts with
  // `prefix`, for a job of `tasks` tasks.
  absl::Status DeletePrefix(rocksdb::WriteBatch& batch, Family family,
                            const std::string& prefix, uint32_t tasks);
  // Adds to `batch` the removal of every record of `deletion`'s job.
  // `next_seq` is the next unused sequence number once the batch is in.
  absl::Status AddDeletion(rocksdb::WriteBatch& batch,
                           const JobDeletion& deletion, uint64_t next_seq);
  absl::StatusOr<StoredJob> LoadJob(uint64_t seq, v1::JobStatus status);
  // Reads of the latest state.
  Reader Latest() const;

  // Constant after construction.
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  const Options options_;

  // Serializes commits that delete jobs, so that one's read of the next
  // sequence number and its write of "next_job_seq" do not interleave with
  // another's.
  absl::Mutex delete_mu_;
};

}  // namespace dagd

#endif  // DAGD_STORAGE_ROCKSDB_META_STORE_H_
