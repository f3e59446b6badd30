#include "storage/rocksdb_task_records.h"

#include <utility>

#include "storage/rocksdb_keys.h"

namespace dagd {

using rocks::FromRocks;
using rocks::SeqKey;
using rocks::WritingKey;

RocksTaskRecordWriter::RocksTaskRecordWriter(rocksdb::DB* db,
                                             TaskRecordFamilies families,
                                             uint64_t seq, uint64_t chunk_bytes)
    : db_(db), families_(families), seq_(seq), chunk_bytes_(chunk_bytes) {
  // In the first batch: no record is written before the mark that lets
  // Open find it.
  batch_.Put(families_.meta, WritingKey(seq_), "");
}

RocksTaskRecordWriter::~RocksTaskRecordWriter() {
  if (!kept_) {
    // Refused: what is not yet written need not be, only removed.
    batch_.Clear();
    absl::MutexLock lock(&mu_);
    queue_.clear();
    abandoned_ = true;
  }
  if (!finished_) Finish().IgnoreError();
  if (!kept_) Remove();
}

void RocksTaskRecordWriter::Add(uint32_t index, absl::string_view encoded,
                                absl::string_view id) {
  // Past Finish, a task would start a thread no one joins: it is refused,
  // and so is the job (the next Finish says why).
  if (finished_) {
    finish_status_ = absl::InternalError(
        "a task was added to a job's task records after they were finished");
    return;
  }
  rocks::PutTaskRecord(batch_, families_.specs, families_.ids, seq_, index,
                       encoded, id, id_key_);
  if (batch_.GetDataSize() >= chunk_bytes_) Enqueue();
}

void RocksTaskRecordWriter::Enqueue() {
  {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &RocksTaskRecordWriter::HasRoom));
    queue_.push_back(std::move(batch_));
  }
  batch_.Clear();
  if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
}

void RocksTaskRecordWriter::Run() {
  for (;;) {
    rocksdb::WriteBatch batch;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &RocksTaskRecordWriter::HasWork));
      if (queue_.empty()) return;
      batch = std::move(queue_.front());
      queue_.pop_front();
      // After a failure the rest are dropped: the job will be refused.
      if (!error_.ok() || abandoned_) continue;
    }
    rocksdb::Status s = db_->Write(rocksdb::WriteOptions(), &batch);
    absl::MutexLock lock(&mu_);
    // Not named by its job id: the job was never accepted, and after a
    // restart another job may get that id.
    if (!s.ok()) {
      error_ = FromRocks(s, "storing a new job's tasks");
    } else {
      written_ += batch.GetDataSize();
    }
  }
}

absl::Status RocksTaskRecordWriter::Finish() {
  if (finished_) return finish_status_;
  finished_ = true;
  if (batch_.Count() > 0) Enqueue();
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }
  if (thread_.joinable()) thread_.join();
  absl::MutexLock lock(&mu_);
  finish_status_ = error_;
  return finish_status_;
}

void RocksTaskRecordWriter::Remove() {
  const std::string from = SeqKey(seq_);
  const std::string to = SeqKey(seq_ + 1);
  rocksdb::WriteBatch batch;
  batch.DeleteRange(families_.specs, from, to);
  batch.DeleteRange(families_.ids, from, to);
  batch.Delete(families_.meta, WritingKey(seq_));
  // Unsynced and unchecked: should it not land, the mark stays, and the
  // next Open removes the records.
  db_->Write(rocksdb::WriteOptions(), &batch).PermitUncheckedError();
}

}  // namespace dagd
