// How RocksMetaStore lays out its keys, for the files that implement it
// (not part of its interface). Every number is big-endian, so keys sort
// by job, then task, then chunk.
#ifndef DAGD_STORAGE_ROCKSDB_KEYS_H_
#define DAGD_STORAGE_ROCKSDB_KEYS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "rocksdb/slice.h"
#include "rocksdb/status.h"
#include "rocksdb/write_batch.h"

namespace dagd::rocks {

inline void AppendBigEndian32(std::string& key, uint32_t n) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    key.push_back(static_cast<char>((n >> shift) & 0xff));
  }
}

// A job's key: its sequence number in 8 bytes.
inline std::string SeqKey(uint64_t seq) {
  std::string key(8, '\0');
  for (int i = 7; i >= 0; --i) {
    key[i] = static_cast<char>(seq & 0xff);
    seq >>= 8;
  }
  return key;
}

inline uint64_t SeqFromKey(const rocksdb::Slice& key) {
  uint64_t seq = 0;
  for (int i = 0; i < 8 && i < static_cast<int>(key.size()); ++i) {
    seq = (seq << 8) | static_cast<unsigned char>(key[i]);
  }
  return seq;
}

// A task's key: its job's, then its index in 4 bytes.
inline std::string TaskKey(uint64_t seq, uint32_t index) {
  std::string key = SeqKey(seq);
  AppendBigEndian32(key, index);
  return key;
}

// A chunk of a stored result: its task's key, then the chunk number.
inline std::string ChunkKey(uint64_t seq, uint32_t index, uint32_t chunk) {
  std::string key = TaskKey(seq, index);
  AppendBigEndian32(key, chunk);
  return key;
}

inline uint32_t IndexFromTaskKey(const rocksdb::Slice& key) {
  uint32_t index = 0;
  for (size_t i = 8; i < 12 && i < key.size(); ++i) {
    index = (index << 8) | static_cast<unsigned char>(key[i]);
  }
  return index;
}

// Puts task `index` of job `seq`'s two records into `batch`: its encoded
// spec under its task key, and its index (the task key's last 4 bytes)
// under the job's key and its id. `id_key` is scratch, reused across calls.
inline void PutTaskRecord(rocksdb::WriteBatch& batch,
                          rocksdb::ColumnFamilyHandle* specs,
                          rocksdb::ColumnFamilyHandle* ids, uint64_t seq,
                          uint32_t index, absl::string_view encoded,
                          absl::string_view id, std::string& id_key) {
  const std::string task_key = TaskKey(seq, index);
  batch.Put(specs, task_key, rocksdb::Slice(encoded.data(), encoded.size()));
  // Assigned, not replaced: the scratch keeps its capacity, and a task
  // costs no allocation.
  id_key.assign(task_key, 0, 8);
  id_key.append(id.data(), id.size());
  batch.Put(ids, id_key, rocksdb::Slice(task_key.data() + 8, 4));
}

// Keys of the unfinished-job index, in the meta family: this prefix, then
// the job's sequence key.
inline constexpr absl::string_view kUnfinishedPrefix = "unfinished/";
inline std::string UnfinishedKey(uint64_t seq) {
  return absl::StrCat(kUnfinishedPrefix, SeqKey(seq));
}

// Keys of the index of jobs by tenant, in the meta family: this prefix, the
// tenant's length in 4 bytes and the tenant, then the job's sequence key.
// (The length first: no tenant's keys are a prefix of another's.)
inline constexpr absl::string_view kTenantPrefix = "tenant/";
inline std::string TenantPrefix(absl::string_view tenant) {
  std::string key(kTenantPrefix);
  AppendBigEndian32(key, static_cast<uint32_t>(tenant.size()));
  key.append(tenant.data(), tenant.size());
  return key;
}
inline std::string TenantJobKey(absl::string_view tenant, uint64_t seq) {
  return TenantPrefix(tenant) + SeqKey(seq);
}

// Keys of jobs whose task records are being written ahead of the commit
// that accepts them (RocksTaskRecordWriter), in the meta family: this
// prefix, then the job's sequence key.
inline constexpr absl::string_view kWritingPrefix = "writing/";
inline std::string WritingKey(uint64_t seq) {
  return absl::StrCat(kWritingPrefix, SeqKey(seq));
}

// RocksDB's status as dagd's: NOT_FOUND, DATA_LOSS (corruption), or
// UNAVAILABLE, naming `what`.
inline absl::Status FromRocks(const rocksdb::Status& s,
                              absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  if (s.IsNotFound())
    return absl::NotFoundError(absl::StrCat(what, " not found"));
  if (s.IsCorruption()) {
    return absl::DataLossError(absl::StrCat(what, ": ", s.ToString()));
  }
  return absl::UnavailableError(absl::StrCat(what, ": ", s.ToString()));
}

}  // namespace dagd::rocks

#endif  // DAGD_STORAGE_ROCKSDB_KEYS_H_
