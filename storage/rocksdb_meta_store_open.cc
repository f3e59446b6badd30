// What RocksMetaStore::Open does to a store before serving it: checking and
// upgrading its schema, and removing what a submission cut short left.

#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "proto/states.h"
#include "rocksdb/write_batch.h"
#include "storage/rocksdb_keys.h"
#include "storage/rocksdb_meta_store.h"

namespace dagd {

using rocks::FromRocks;
using rocks::kWritingPrefix;
using rocks::SeqFromKey;
using rocks::SeqKey;
using rocks::TenantJobKey;
using rocks::UnfinishedKey;

absl::Status RocksMetaStore::CheckSchema() {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handles_[kMeta],
                               "schema_version", &value);
  if (s.IsNotFound()) {
    rocksdb::WriteOptions sync;
    sync.sync = true;
    return FromRocks(db_->Put(sync, handles_[kMeta], "schema_version",
                              absl::StrCat(kSchemaVersion)),
                     "writing the schema version");
  }
  if (!s.ok()) return FromRocks(s, "schema version");
  int version = 0;
  if (!absl::SimpleAtoi(value, &version) || version < 1 ||
      version > kSchemaVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("schema version '", value, "' is not ", kSchemaVersion,
                     ", the one this dagd understands (a newer dagd wrote "
                     "it?)"));
  }
  if (version == kSchemaVersion) return absl::OkStatus();
  // Schema 1 has no index of unfinished jobs, and none before 4 an index
  // of jobs by tenant. (Schema 2 holds nothing 3 reads differently.)
  return BuildIndexes(/*unfinished=*/version == 1);
}

absl::Status RocksMetaStore::BuildIndexes(bool unfinished) {
  rocksdb::WriteBatch batch;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), handles_[kJobs]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    v1::JobStatus status;
    if (!status.ParseFromArray(it->value().data(), it->value().size())) {
      return absl::DataLossError(absl::StrCat(
          "upgrading to schema ", kSchemaVersion, ": the record of job ",
          JobIdFromSeq(SeqFromKey(it->key())), " does not parse"));
    }
    const uint64_t seq = SeqFromKey(it->key());
    if (unfinished && !IsFinal(status.state())) {
      batch.Put(handles_[kMeta], UnfinishedKey(seq), "");
    }
    if (!status.tenant().empty()) {
      batch.Put(handles_[kMeta], TenantJobKey(status.tenant(), seq), "");
    }
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scanning jobs");
  batch.Put(handles_[kMeta], "schema_version", absl::StrCat(kSchemaVersion));
  rocksdb::WriteOptions sync;
  sync.sync = true;
  return FromRocks(db_->Write(sync, &batch), "writing the indexes of jobs");
}

absl::Status RocksMetaStore::RemoveUnacceptedTasks() {
  absl::StatusOr<uint64_t> next = NextJobSeq();
  if (!next.ok()) return next.status();
  const std::string from = SeqKey(*next);
  const std::string to = SeqKey(UINT64_MAX);
  rocksdb::WriteBatch batch;
  // A TaskRecordWriter's job may have a sequence number below a later job
  // that was accepted first: its mark names it.
  const rocksdb::Slice prefix(kWritingPrefix.data(), kWritingPrefix.size());
  std::unique_ptr<rocksdb::Iterator> marks(
      db_->NewIterator(rocksdb::ReadOptions(), handles_[kMeta]));
  for (marks->Seek(prefix); marks->Valid() && marks->key().starts_with(prefix);
       marks->Next()) {
    rocksdb::Slice key = marks->key();
    key.remove_prefix(kWritingPrefix.size());
    const uint64_t seq = SeqFromKey(key);
    std::string status;
    rocksdb::Status job =
        db_->Get(rocksdb::ReadOptions(), handles_[kJobs], SeqKey(seq), &status);
    if (job.IsNotFound()) {
      for (Family family : {kTaskSpecs, kTaskIds}) {
        rocksdb::Status s =
            batch.DeleteRange(handles_[family], SeqKey(seq), SeqKey(seq + 1));
        if (!s.ok()) return FromRocks(s, "removing an unaccepted job's tasks");
      }
    } else if (!job.ok()) {
      return FromRocks(job, "reading a job");
    }
    batch.Delete(handles_[kMeta], marks->key());
  }
  if (!marks->status().ok()) {
    return FromRocks(marks->status(), "scanning the marks of jobs written");
  }
  for (Family family : {kTaskSpecs, kTaskIds}) {
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), handles_[family]));
    it->Seek(from);
    if (!it->status().ok()) return FromRocks(it->status(), "scanning tasks");
    // Most opens find nothing, and write nothing.
    if (!it->Valid()) continue;
    rocksdb::Status s = batch.DeleteRange(handles_[family], from, to);
    if (!s.ok()) return FromRocks(s, "removing an unaccepted job's tasks");
  }
  if (batch.Count() == 0) return absl::OkStatus();
  rocksdb::WriteOptions sync;
  sync.sync = true;
  return FromRocks(db_->Write(sync, &batch),
                   "removing an unaccepted job's tasks");
}

}  // namespace dagd
