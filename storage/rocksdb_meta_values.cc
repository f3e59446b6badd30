// RocksMetaStore's single values in its meta family: what a start of dagd
// reads and writes once (its incarnation, ids and keys made at random) and
// the roster of workers that may run or hold work.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "rocksdb/write_batch.h"
#include "storage/rocksdb_keys.h"
#include "storage/rocksdb_meta_store.h"

namespace dagd {
namespace {

using rocks::FromRocks;

// WriteSet::RosterWrites: one record a worker, "roster/" and its key, the
// worker's name its value; and kRosterWholeKey, the start that last said
// the roster is whole.
constexpr absl::string_view kRosterPrefix = "roster/";
constexpr char kRosterWholeKey[] = "roster_whole";

}  // namespace

absl::StatusOr<uint64_t> RocksMetaStore::StartIncarnation() {
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), handles_[kMeta], "incarnation", &value);
  uint64_t incarnation = 0;
  if (s.ok()) {
    if (!absl::SimpleAtoi(value, &incarnation)) {
      return absl::DataLossError("the stored incarnation does not parse");
    }
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "incarnation");
  }
  ++incarnation;
  rocksdb::WriteOptions sync;
  sync.sync = true;
  absl::Status put = FromRocks(
      db_->Put(sync, handles_[kMeta], "incarnation", absl::StrCat(incarnation)),
      "writing the incarnation");
  if (!put.ok()) return put;
  return incarnation;
}

absl::StatusOr<std::string> RocksMetaStore::RandomOnce(const char* key,
                                                       const char* what) {
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), handles_[kMeta], key, &value);
  if (s.ok()) return value;
  if (!s.IsNotFound()) return FromRocks(s, what);
  absl::BitGen gen;
  value = absl::StrFormat("%016x%016x", absl::Uniform<uint64_t>(gen),
                          absl::Uniform<uint64_t>(gen));
  rocksdb::WriteOptions sync;
  sync.sync = true;
  absl::Status put = FromRocks(db_->Put(sync, handles_[kMeta], key, value),
                               absl::StrCat("writing the ", what));
  if (!put.ok()) return put;
  return value;
}

absl::StatusOr<std::string> RocksMetaStore::StoreId() {
  return RandomOnce("store_id", "store id");
}

absl::StatusOr<std::string> RocksMetaStore::AttemptKey() {
  absl::StatusOr<std::string> hex = RandomOnce("attempt_key", "attempt key");
  if (!hex.ok()) return hex.status();
  return absl::HexStringToBytes(*hex);
}

absl::StatusOr<StoredRoster> RocksMetaStore::LoadRoster() {
  StoredRoster roster;
  std::string whole;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handles_[kMeta],
                               kRosterWholeKey, &whole);
  // Empty: as written by dagd's first builds with a roster, which did not
  // say as of which start; not whole, so a restart waits the grace.
  if (s.ok() && !whole.empty()) {
    if (!absl::SimpleAtoi(whole, &roster.whole_as_of)) {
      return absl::DataLossError("the worker roster's start does not parse");
    }
  } else if (!s.ok() && !s.IsNotFound()) {
    return FromRocks(s, "the worker roster");
  }
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), handles_[kMeta]));
  const rocksdb::Slice prefix(kRosterPrefix.data(), kRosterPrefix.size());
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
       it->Next()) {
    rocksdb::Slice key = it->key();
    key.remove_prefix(prefix.size());
    roster.workers.emplace_back(key.ToString(), it->value().ToString());
  }
  if (!it->status().ok()) {
    return FromRocks(it->status(), "scanning the worker roster");
  }
  return roster;
}

void RocksMetaStore::PutRoster(rocksdb::WriteBatch& batch,
                               const WriteSet::RosterWrites& roster) {
  for (const auto& [key, name] : roster.added) {
    batch.Put(handles_[kMeta], absl::StrCat(kRosterPrefix, key), name);
  }
  for (const std::string& key : roster.removed) {
    batch.Delete(handles_[kMeta], absl::StrCat(kRosterPrefix, key));
  }
  if (roster.whole_as_of != 0) {
    batch.Put(handles_[kMeta], kRosterWholeKey,
              absl::StrCat(roster.whole_as_of));
  }
}

}  // namespace dagd
