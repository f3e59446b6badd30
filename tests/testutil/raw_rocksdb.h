// The database under a RocksMetaStore, opened directly with all of its
// column families: for tests that count, corrupt or remove raw records to
// check what the store reads and what it leaves behind. Open it only while
// no RocksMetaStore has the directory open.
#ifndef DAGD_TESTS_TESTUTIL_RAW_ROCKSDB_H_
#define DAGD_TESTS_TESTUTIL_RAW_ROCKSDB_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "rocksdb/db.h"

namespace dagd::testing {

class RawRocksDb {
 public:
  static absl::StatusOr<std::unique_ptr<RawRocksDb>> Open(
      const std::string& dir) {
    std::vector<std::string> names;
    rocksdb::Status s =
        rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir, &names);
    if (!s.ok()) return absl::InternalError(s.ToString());
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const std::string& name : names) {
      families.emplace_back(name, rocksdb::ColumnFamilyOptions());
    }
    rocksdb::DB* db = nullptr;
    auto raw = std::unique_ptr<RawRocksDb>(new RawRocksDb());
    s = rocksdb::DB::Open(rocksdb::DBOptions(), dir, families, &raw->handles_,
                          &db);
    if (!s.ok()) return absl::InternalError(s.ToString());
    raw->db_.reset(db);
    raw->names_ = std::move(names);
    return raw;
  }

  ~RawRocksDb() {
    if (db_ == nullptr) return;  // it did not open
    for (auto* handle : handles_) db_->DestroyColumnFamilyHandle(handle);
    db_->Close();
  }

  // Calls `fn(family, key)` for every live key of every column family.
  void ForEachKey(
      const std::function<void(const std::string& family,
                               const rocksdb::Slice& key)>& fn) const {
    for (size_t i = 0; i < handles_.size(); ++i) {
      std::unique_ptr<rocksdb::Iterator> it(
          db_->NewIterator(rocksdb::ReadOptions(), handles_[i]));
      for (it->SeekToFirst(); it->Valid(); it->Next()) fn(names_[i], it->key());
    }
  }

  // Live keys in every column family.
  size_t CountKeys() const {
    size_t n = 0;
    ForEachKey([&n](const std::string&, const rocksdb::Slice&) { ++n; });
    return n;
  }

  // Keys that contain the 8-byte big-endian sequence key of job `seq`
  // (every per-job record does; no other key can by chance in a small
  // test store), as "family: key" for failure messages.
  std::vector<std::string> KeysOfJob(uint64_t seq) const {
    const std::string needle = SeqKey(seq);
    std::vector<std::string> out;
    ForEachKey([&](const std::string& family, const rocksdb::Slice& key) {
      if (key.ToString().find(needle) != std::string::npos) {
        out.push_back(absl::StrCat(family, ": ", key.ToString(/*hex=*/true)));
      }
    });
    return out;
  }

  absl::Status Put(const std::string& family, const std::string& key,
                   const std::string& value) {
    rocksdb::ColumnFamilyHandle* handle = Handle(family);
    if (handle == nullptr) return NoFamily(family);
    return Check(db_->Put(rocksdb::WriteOptions(), handle, key, value));
  }
  absl::Status Delete(const std::string& family, const std::string& key) {
    rocksdb::ColumnFamilyHandle* handle = Handle(family);
    if (handle == nullptr) return NoFamily(family);
    return Check(db_->Delete(rocksdb::WriteOptions(), handle, key));
  }
  // The value of `key`; NOT_FOUND if it has none.
  absl::StatusOr<std::string> Get(const std::string& family,
                                  const std::string& key) const {
    rocksdb::ColumnFamilyHandle* handle = Handle(family);
    if (handle == nullptr) return NoFamily(family);
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handle, key, &value);
    if (s.IsNotFound()) return absl::NotFoundError(key);
    if (!s.ok()) return Check(s);
    return value;
  }
  // Deletes every key of `family` that starts with `prefix`.
  absl::Status DeletePrefix(const std::string& family,
                            const std::string& prefix) {
    std::vector<std::string> keys;
    ForEachKey([&](const std::string& f, const rocksdb::Slice& key) {
      if (f == family && key.starts_with(prefix))
        keys.push_back(key.ToString());
    });
    for (const std::string& key : keys) {
      if (absl::Status s = Delete(family, key); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  // The store's key of job `seq`: 8 bytes, big-endian.
  static std::string SeqKey(uint64_t seq) {
    std::string key(8, '\0');
    for (int i = 7; i >= 0; --i) {
      key[i] = static_cast<char>(seq & 0xff);
      seq >>= 8;
    }
    return key;
  }

 private:
  RawRocksDb() = default;

  rocksdb::ColumnFamilyHandle* Handle(const std::string& family) const {
    for (size_t i = 0; i < names_.size(); ++i) {
      if (names_[i] == family) return handles_[i];
    }
    return nullptr;
  }
  static absl::Status NoFamily(const std::string& family) {
    return absl::NotFoundError(absl::StrCat("no column family ", family));
  }
  static absl::Status Check(const rocksdb::Status& s) {
    return s.ok() ? absl::OkStatus() : absl::InternalError(s.ToString());
  }

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<std::string> names_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

}  // namespace dagd::testing

#endif  // DAGD_TESTS_TESTUTIL_RAW_ROCKSDB_H_
