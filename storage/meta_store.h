#ifndef DAGD_STORAGE_META_STORE_H_
#define DAGD_STORAGE_META_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dagd/v1/job_service.pb.h"
#include "dagd/v1/types.pb.h"
#include "storage/write_set.h"

namespace dagd {

// The coordinator's durable state: jobs, task specs, task states, results
// and idempotency keys. Implementations are thread-safe: the scheduler
// thread commits while gRPC threads may read.
//
// Errors: UNAVAILABLE when the underlying storage failed (retryable from
// the caller's point of view only after an operator fixes the disk),
// DATA_LOSS when a stored record cannot be parsed.
class MetaStore {
 public:
  virtual ~MetaStore() = default;

  // Applies `writes` atomically. With `sync`, returns only once the change
  // is on stable storage; without it, the change survives a process crash
  // but not a power loss. When `bytes` is given, it receives the size of
  // what was written.
  virtual absl::Status Commit(const WriteSet& writes, bool sync,
                              uint64_t* bytes = nullptr) = 0;

  // Counts coordinator starts: returns 1 on an empty store, then one more on
  // each call, durably. Worker ids include it, so a report from before a
  // restart can never match an attempt made after it.
  virtual absl::StatusOr<uint64_t> StartIncarnation() = 0;

  // The next unused job sequence number (1 on an empty store).
  virtual absl::StatusOr<uint64_t> NextJobSeq() = 0;

  // NOT_FOUND when there is no such job.
  virtual absl::StatusOr<v1::JobStatus> GetJobStatus(uint64_t seq) = 0;

  // Up to `limit` job statuses with sequence numbers below `before_seq`,
  // newest first.
  virtual absl::StatusOr<std::vector<v1::JobStatus>> ListJobStatuses(
      uint64_t before_seq, size_t limit) = 0;
  // Up to `limit` job statuses with sequence numbers from `from_seq` on,
  // oldest first (what a retention sweep walks).
  virtual absl::StatusOr<std::vector<v1::JobStatus>> ListJobStatusesFrom(
      uint64_t /*from_seq*/, size_t /*limit*/) {
    return absl::UnimplementedError("this store cannot list jobs oldest first");
  }

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
      uint64_t /*seq*/) {
    return std::vector<v1::ObjectRef>();
  }
  virtual absl::StatusOr<v1::TaskSpec> GetTaskSpec(uint64_t seq,
                                                   uint32_t index) = 0;

  // The job sequence number an earlier submission with this request id
  // created, if any.
  virtual absl::StatusOr<std::optional<uint64_t>> FindRequest(
      absl::string_view request_id) = 0;

  // Every job whose stored state is not terminal, oldest first. Reads only
  // those jobs: its cost grows with unfinished work, not with history.
  virtual absl::StatusOr<std::vector<StoredJob>> LoadUnfinishedJobs() = 0;

  // Removes every record of finished job `seq` in one atomic write: its
  // status, spec, task specs and statuses, results and request id. Its
  // sequence number is never handed out again. With `sync`, returns only
  // once the removal is on stable storage. NOT_FOUND when there is no such
  // job; FAILED_PRECONDITION when it has not finished. Safe to call from
  // any thread, concurrently with Commit.
  //
  // The default refuses, so wrappers and fakes written before deletion
  // existed keep compiling; RocksMetaStore implements it.
  // A random id made when the store was created, the same for its life.
  virtual absl::StatusOr<std::string> StoreId() { return std::string(); }

  virtual absl::Status DeleteJob(uint64_t /*seq*/, bool /*sync*/) {
    return absl::UnimplementedError("this store cannot delete jobs");
  }
};

}  // namespace dagd

#endif  // DAGD_STORAGE_META_STORE_H_
