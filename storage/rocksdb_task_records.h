// RocksMetaStore's TaskRecordWriter: a big new job's task records, written
// while its request is still being read. Not part of the store's interface.
#ifndef DAGD_STORAGE_ROCKSDB_TASK_RECORDS_H_
#define DAGD_STORAGE_ROCKSDB_TASK_RECORDS_H_

#include <cstdint>
#include <deque>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"
#include "storage/task_record_writer.h"

namespace dagd {

// Where the records go: the families of RocksMetaStore's layout.
struct TaskRecordFamilies {
  rocksdb::ColumnFamilyHandle* specs = nullptr;  // seq + index -> TaskSpec
  rocksdb::ColumnFamilyHandle* ids = nullptr;    // seq + id -> index
  rocksdb::ColumnFamilyHandle* meta = nullptr;   // the "writing/" marker
};

// Gathers the records of job `seq`'s tasks as they are added into batches
// of about `chunk_bytes`, which a thread of its own writes (unsynced): the
// caller reads and compiles the next tasks while RocksDB appends to its WAL
// and memtables, on the other core. The first batch also marks the job as
// being written ("writing/" + seq in the meta family); the commit that
// accepts the job erases the mark, and Open removes the records of a marked
// job that has none. The caller runs at most kQueued batches ahead of the
// thread, so memory stays bounded whatever the job's size.
class RocksTaskRecordWriter : public TaskRecordWriter {
 public:
  static constexpr size_t kQueued = 4;

  RocksTaskRecordWriter(rocksdb::DB* db, TaskRecordFamilies families,
                        uint64_t seq, uint64_t chunk_bytes);
  ~RocksTaskRecordWriter() override;

  uint64_t seq() const override { return seq_; }
  void Add(uint32_t index, absl::string_view encoded,
           absl::string_view id) override;
  absl::Status Finish() override;
  void Keep() override { kept_ = true; }
  // The bytes of the batches written so far.
  uint64_t written() const {
    absl::MutexLock lock(&mu_);
    return written_;
  }

 private:
  // Hands the batch being filled to the thread, starting it the first time.
  void Enqueue();
  void Run();
  bool HasRoom() const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return queue_.size() < kQueued;
  }
  bool HasWork() const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return !queue_.empty() || closed_;
  }
  // Deletes every record of the job and its mark.
  void Remove();

  rocksdb::DB* const db_;
  const TaskRecordFamilies families_;
  const uint64_t seq_;
  const uint64_t chunk_bytes_;
  std::string id_key_;  // scratch, on the caller's thread
  rocksdb::WriteBatch batch_;
  bool finished_ = false;
  bool kept_ = false;
  absl::Status finish_status_;

  mutable absl::Mutex mu_;
  std::deque<rocksdb::WriteBatch> queue_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  // Dropped unkept: batches not yet written are dropped, not written.
  bool abandoned_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  uint64_t written_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace dagd

#endif  // DAGD_STORAGE_ROCKSDB_TASK_RECORDS_H_
