#include "storage/rocksdb_meta_store.h"

#include <algorithm>
#include <iterator>
#include <optional>
#include <tuple>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "proto/states.h"
#include "rocksdb/options.h"
#include "rocksdb/write_batch.h"
#include "storage/rocksdb_keys.h"
#include "storage/rocksdb_task_records.h"

namespace dagd {
namespace {

using rocks::FromRocks;
using rocks::IndexFromTaskKey;
using rocks::kUnfinishedPrefix;
using rocks::SeqFromKey;
using rocks::SeqKey;
using rocks::TaskKey;
using rocks::TenantJobKey;
using rocks::TenantPrefix;
using rocks::UnfinishedKey;
using rocks::WritingKey;

constexpr char kNextJobSeqKey[] = "next_job_seq";
// A job with more tasks than this has its per-task records removed by range
// deletions (a few tombstones instead of one per record); smaller jobs, the
// common case, by point deletions, which cost reads nothing later.
constexpr uint32_t kRangeDeleteTasks = 1000;

// Indexed by RocksMetaStore::Family. RocksDB insists on "default"; dagd
// keeps nothing in it.
constexpr const char* kFamilyNames[] = {
    "default",     "task_ids", "jobs",     "job_specs", "task_specs",
    "task_states", "results",  "requests", "meta",      "result_chunks"};

template <typename Message>
void PutMessage(rocksdb::WriteBatch& batch, rocksdb::ColumnFamilyHandle* cf,
                const std::string& key, const Message& message) {
  batch.Put(cf, key, message.SerializeAsString());
}

// `writes` (task states or results) by task key. RocksDB inserts a batch's
// records into its memtable one after another, and finds a key just past
// the one before from where that one went instead of from the top; tasks
// finish in no key order (a wide job on many workers, chains side by side),
// and sorted, the memtable's key comparisons in a wide job on 1,000
// workers took 66 perf samples where they took 165 unsorted. (A batch
// that RocksDB groups with another writer's, such as a TaskRecordWriter's,
// is inserted without that hint.) Stable: a task written twice in one
// turn keeps its last write last.
template <typename Write>
std::vector<const Write*> InKeyOrder(const std::vector<Write>& writes) {
  std::vector<const Write*> order;
  order.reserve(writes.size());
  for (const Write& write : writes) order.push_back(&write);
  std::stable_sort(
      order.begin(), order.end(), [](const Write* a, const Write* b) {
        return std::tie(a->seq, a->index) < std::tie(b->seq, b->index);
      });
  return order;
}

// A stored result: the content type's length (4 bytes, big-endian), the
// content type, then the bytes. Both parts may hold any byte. A result kept
// in the object store is the marker length kRefMarker (no content type is
// 2 GiB long) followed by its serialized ObjectRef.
constexpr uint32_t kRefMarker = 0x80000000u;

void AppendLength(std::string& out, uint32_t n) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((n >> shift) & 0xff));
  }
}

std::string EncodeResult(const StoredResult& result) {
  std::string out;
  if (result.ref != nullptr) {
    AppendLength(out, kRefMarker);
    result.ref->AppendToString(&out);
    return out;
  }
  AppendLength(out, result.content_type.size());
  absl::StrAppend(&out, result.content_type, result.data);
  return out;
}

std::optional<StoredResult> DecodeResult(absl::string_view value) {
  if (value.size() < 4) return std::nullopt;
  uint32_t n = 0;
  for (int i = 0; i < 4; ++i)
    n = (n << 8) | static_cast<unsigned char>(value[i]);
  if (n == kRefMarker) {
    auto ref = std::make_shared<v1::ObjectRef>();
    if (!ref->ParseFromArray(value.data() + 4, value.size() - 4)) {
      return std::nullopt;
    }
    StoredResult result;
    result.content_type = ref->content_type();
    result.ref = std::move(ref);
    return result;
  }
  if (value.size() - 4 < n) return std::nullopt;
  return StoredResult{std::string(value.substr(4 + n)),
                      std::string(value.substr(4, n)), nullptr};
}

}  // namespace

// Every read, at one ReadOptions: the latest state (no snapshot) or a
// snapshot's. Cheap to make; holds no resource of its own.
class RocksMetaStore::Reader {
 public:
  Reader(rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>* cfs,
         const rocksdb::Snapshot* snapshot)
      : db_(db), cfs_(cfs), snapshot_(snapshot) {}

  absl::StatusOr<uint64_t> NextJobSeq() const {
    std::unique_ptr<rocksdb::Iterator> it(NewIterator(Options(), kJobs));
    it->SeekToLast();
    if (!it->status().ok()) return FromRocks(it->status(), "scanning jobs");
    const uint64_t after_last = it->Valid() ? SeqFromKey(it->key()) + 1 : 1;
    // Deleting the newest jobs must not make their ids free again.
    std::string value;
    rocksdb::Status s = db_->Get(Options(), cf(kMeta), kNextJobSeqKey, &value);
    if (s.IsNotFound()) return after_last;
    if (!s.ok()) return FromRocks(s, "next job sequence number");
    uint64_t next = 0;
    if (!absl::SimpleAtoi(value, &next)) {
      return absl::DataLossError(
          "the stored next job sequence number does not parse");
    }
    return std::max(after_last, next);
  }

  template <typename Message>
  absl::StatusOr<Message> GetMessage(Family family,
                                     const std::string& key) const {
    std::string value;
    rocksdb::Status s = db_->Get(Options(), cf(family), key, &value);
    if (!s.ok()) return FromRocks(s, kFamilyNames[family]);
    Message message;
    if (!message.ParseFromString(value)) {
      return absl::DataLossError(absl::StrCat(
          "a record in ", kFamilyNames[family], " does not parse"));
    }
    return message;
  }

  absl::StatusOr<v1::JobStatus> GetJobStatus(uint64_t seq) const {
    return GetMessage<v1::JobStatus>(kJobs, SeqKey(seq));
  }

  absl::StatusOr<std::vector<v1::JobStatus>> ListJobStatuses(
      uint64_t before_seq, size_t limit) const {
    std::vector<v1::JobStatus> out;
    std::unique_ptr<rocksdb::Iterator> it(NewIterator(Options(), kJobs));
    it->SeekForPrev(SeqKey(before_seq - 1));
    for (; it->Valid() && out.size() < limit; it->Prev()) {
      v1::JobStatus status;
      if (!status.ParseFromArray(it->value().data(), it->value().size())) {
        return absl::DataLossError("a job record does not parse");
      }
      out.push_back(std::move(status));
    }
    if (!it->status().ok()) return FromRocks(it->status(), "scanning jobs");
    return out;
  }

  // From the index of jobs by tenant: reads the tenant's jobs only.
  absl::StatusOr<std::vector<v1::JobStatus>> ListTenantJobStatuses(
      absl::string_view tenant, uint64_t before_seq, size_t limit) const {
    std::vector<v1::JobStatus> out;
    const std::string prefix = TenantPrefix(tenant);
    std::unique_ptr<rocksdb::Iterator> it(NewIterator(Options(), kMeta));
    it->SeekForPrev(prefix + SeqKey(before_seq - 1));
    for (; it->Valid() && it->key().starts_with(prefix) && out.size() < limit;
         it->Prev()) {
      rocksdb::Slice key = it->key();
      key.remove_prefix(prefix.size());
      absl::StatusOr<v1::JobStatus> status = GetJobStatus(SeqFromKey(key));
      if (absl::IsNotFound(status.status())) continue;
      if (!status.ok()) return status.status();
      out.push_back(*std::move(status));
    }
    if (!it->status().ok()) {
      return FromRocks(it->status(), "scanning a tenant's jobs");
    }
    return out;
  }

  absl::StatusOr<std::vector<v1::JobStatus>> ListJobStatusesFrom(
      uint64_t from_seq, size_t limit) const {
    std::vector<v1::JobStatus> out;
    std::unique_ptr<rocksdb::Iterator> it(NewIterator(Options(), kJobs));
    for (it->Seek(SeqKey(from_seq)); it->Valid() && out.size() < limit;
         it->Next()) {
      v1::JobStatus status;
      if (!status.ParseFromArray(it->value().data(), it->value().size())) {
        return absl::DataLossError("a job record does not parse");
      }
      out.push_back(std::move(status));
    }
    if (!it->status().ok()) return FromRocks(it->status(), "scanning jobs");
    return out;
  }

  absl::StatusOr<v1::TaskStatus> GetTaskStatus(uint64_t seq,
                                               uint32_t index) const {
    return GetMessage<v1::TaskStatus>(kTaskStates, TaskKey(seq, index));
  }

  absl::StatusOr<v1::TaskSpec> GetTaskSpec(uint64_t seq, uint32_t index) const {
    return GetMessage<v1::TaskSpec>(kTaskSpecs, TaskKey(seq, index));
  }

  absl::StatusOr<StoredResult> GetResult(uint64_t seq, uint32_t index) const {
    std::string value;
    rocksdb::Status s =
        db_->Get(Options(), cf(kResults), TaskKey(seq, index), &value);
    if (!s.ok()) return FromRocks(s, "result");
    std::optional<StoredResult> result = DecodeResult(value);
    if (!result) return absl::DataLossError("a stored result does not parse");
    return *std::move(result);
  }

  absl::StatusOr<std::optional<uint64_t>> FindRequest(
      absl::string_view request_id) const {
    std::string value;
    rocksdb::Status s =
        db_->Get(Options(), cf(kRequests),
                 rocksdb::Slice(request_id.data(), request_id.size()), &value);
    if (s.IsNotFound()) return std::optional<uint64_t>();
    if (!s.ok()) return FromRocks(s, "request id");
    return std::optional<uint64_t>(SeqFromKey(value));
  }

  absl::StatusOr<uint32_t> FindTaskIndex(uint64_t seq,
                                         absl::string_view task_id) const {
    std::string value;
    rocksdb::Status s = db_->Get(Options(), cf(kTaskIds),
                                 absl::StrCat(SeqKey(seq), task_id), &value);
    if (!s.ok()) return FromRocks(s, "task id");
    if (value.size() != 4) {
      return absl::DataLossError("a task index record does not parse");
    }
    return IndexFromTaskKey(absl::StrCat(SeqKey(0), value));
  }

  absl::StatusOr<std::vector<std::pair<uint32_t, v1::TaskStatus>>>
  ListTaskStatuses(uint64_t seq) const {
    std::vector<std::pair<uint32_t, v1::TaskStatus>> out;
    const std::string prefix = SeqKey(seq);
    std::unique_ptr<rocksdb::Iterator> it(NewIterator(Options(), kTaskStates));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
         it->Next()) {
      v1::TaskStatus task;
      if (!task.ParseFromArray(it->value().data(), it->value().size())) {
        return absl::DataLossError("a task status does not parse");
      }
      out.emplace_back(IndexFromTaskKey(it->key()), std::move(task));
    }
    if (!it->status().ok()) return FromRocks(it->status(), "scanning tasks");
    return out;
  }

  // Two iterators in step, statuses and specs, both in task index order.
  absl::Status ForEachStoredTask(uint64_t seq, uint32_t from, uint32_t until,
                                 MetaReadView::TaskVisitor visit) const {
    const std::string prefix = TaskKey(seq, from);
    const std::string end =
        until == UINT32_MAX ? SeqKey(seq + 1) : TaskKey(seq, until);
    const rocksdb::Slice upper(end);
    rocksdb::ReadOptions options = Options();
    options.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> states(
        NewIterator(options, kTaskStates));
    std::unique_ptr<rocksdb::Iterator> specs(NewIterator(options, kTaskSpecs));
    specs->Seek(prefix);
    v1::TaskStatus status;
    v1::TaskSpec spec;
    for (states->Seek(prefix); states->Valid(); states->Next()) {
      const uint32_t index = IndexFromTaskKey(states->key());
      // Every task has a spec; only some have a status.
      while (specs->Valid() && IndexFromTaskKey(specs->key()) < index) {
        specs->Next();
      }
      if (!specs->Valid() || IndexFromTaskKey(specs->key()) != index) {
        if (!specs->status().ok()) break;
        return absl::DataLossError(absl::StrCat("task ", index, " of job ",
                                                JobIdFromSeq(seq),
                                                " has a status but no spec"));
      }
      if (!status.ParseFromArray(states->value().data(),
                                 states->value().size())) {
        return absl::DataLossError("a task status does not parse");
      }
      if (!spec.ParseFromArray(specs->value().data(), specs->value().size())) {
        return absl::DataLossError("a task spec does not parse");
      }
      visit(index, status, spec);
    }
    if (!states->status().ok()) {
      return FromRocks(states->status(), "scanning tasks");
    }
    return FromRocks(specs->status(), "scanning task specs");
  }

  absl::StatusOr<std::vector<v1::ObjectRef>> ListResultObjects(
      uint64_t seq) const {
    const std::string prefix = SeqKey(seq);
    const std::string end = SeqKey(seq + 1);
    rocksdb::ReadOptions options = Options();
    const rocksdb::Slice upper(end);
    options.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(NewIterator(options, kResults));
    std::vector<v1::ObjectRef> out;
    for (it->Seek(prefix); it->Valid(); it->Next()) {
      const rocksdb::Slice value = it->value();
      // Only references start with the marker; skip inline bytes unparsed.
      if (value.size() < 4 || static_cast<unsigned char>(value[0]) != 0x80) {
        continue;
      }
      std::optional<StoredResult> result =
          DecodeResult(absl::string_view(value.data(), value.size()));
      if (!result || result->ref == nullptr) {
        return absl::DataLossError("a stored result reference does not parse");
      }
      out.push_back(*result->ref);
    }
    if (!it->status().ok()) return FromRocks(it->status(), "results");
    return out;
  }

  rocksdb::Iterator* NewIterator(const rocksdb::ReadOptions& options,
                                 Family family) const {
    return db_->NewIterator(options, cf(family));
  }
  rocksdb::ReadOptions Options() const {
    rocksdb::ReadOptions options;
    options.snapshot = snapshot_;
    return options;
  }

 private:
  rocksdb::ColumnFamilyHandle* cf(Family family) const {
    return (*cfs_)[family];
  }

  rocksdb::DB* const db_;
  const std::vector<rocksdb::ColumnFamilyHandle*>* const cfs_;
  const rocksdb::Snapshot* const snapshot_;  // null: the latest state
};

rocksdb::ColumnFamilyOptions RocksMetaStore::FamilyOptions(Family family) {
  rocksdb::ColumnFamilyOptions options;
  // These three are written in an order that is not their keys' order: a
  // task's state and result when it finishes (the tasks of every running
  // job interleaved), a job's task ids as listed (keys sort by id). Every
  // memtable they flush then spans the whole key range, and each merge of
  // level 0 into level 1 rewrites all of level 1. Letting 16 files gather
  // in level 0 before a merge (RocksDB's default is 4), and level 1 grow to
  // 1 GiB before it spills, rewrites far less: a ten-million-task job's
  // compactions took 11.8 s of CPU instead of 41.7 s (README "Measured";
  // the two settings were measured together). With older jobs kept, new
  // records span only the newer part of the range, and merges cost less.
  // Reads of them are rare (a task looked up, a job listed, a restart);
  // a point lookup may now look into up to 16 level-0 files instead of 4.
  if (family == kTaskStates || family == kResults || family == kTaskIds) {
    options.level0_file_num_compaction_trigger = 16;
    // RocksDB's defaults (20 and 36) would slow writes down just past the
    // trigger; these leave 32 and 48 files of room past it (16 and 32
    // before). No stall was logged in a ten-million-task job.
    options.level0_slowdown_writes_trigger = 48;
    options.level0_stop_writes_trigger = 64;
    options.max_bytes_for_level_base = uint64_t{1} << 30;
  }
  return options;
}

absl::StatusOr<std::unique_ptr<RocksMetaStore>> RocksMetaStore::Open(
    const std::string& dir) {
  return Open(dir, Options());
}

absl::StatusOr<std::unique_ptr<RocksMetaStore>> RocksMetaStore::Open(
    const std::string& dir, const Options& options) {
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  // One writer thread commits batches; background work stays small.
  db_options.max_background_jobs = 2;
  // Memtables of every column family together, then flushed: without a
  // bound each family may hold two of 64 MB, and the task states and results
  // of a million-task job kept 169 MB of dagd's memory in them.
  db_options.db_write_buffer_size = 64 << 20;
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  static_assert(std::size(kFamilyNames) == kFamilyCount,
                "every Family needs a name");
  for (int family = 0; family < kFamilyCount; ++family) {
    families.emplace_back(kFamilyNames[family],
                          FamilyOptions(static_cast<Family>(family)));
  }
  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::Status s =
      rocksdb::DB::Open(db_options, dir, families, &handles, &raw);
  if (!s.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "cannot open the database in --data_dir '", dir, "': ", s.ToString()));
  }
  auto store = std::unique_ptr<RocksMetaStore>(new RocksMetaStore(
      std::unique_ptr<rocksdb::DB>(raw), std::move(handles), options));
  absl::Status opened = store->CheckSchema();
  if (opened.ok()) opened = store->RemoveUnacceptedTasks();
  if (!opened.ok()) {
    return absl::Status(opened.code(), absl::StrCat("--data_dir '", dir,
                                                    "': ", opened.message()));
  }
  return store;
}

RocksMetaStore::RocksMetaStore(
    std::unique_ptr<rocksdb::DB> db,
    std::vector<rocksdb::ColumnFamilyHandle*> handles, const Options& options)
    : db_(std::move(db)), handles_(std::move(handles)), options_(options) {}

RocksMetaStore::~RocksMetaStore() {
  for (auto* handle : handles_) db_->DestroyColumnFamilyHandle(handle);
  db_->Close();
}

absl::Status RocksMetaStore::PutTaskRecords(const WriteSet::NewJob& job,
                                            rocksdb::WriteBatch& batch,
                                            uint64_t& written) {
  JobTasks encoded_here;
  if (job.tasks == nullptr) {
    for (const v1::TaskSpec& task : job.spec->tasks()) encoded_here.Add(task);
  }
  const JobTasks& tasks = job.tasks != nullptr ? *job.tasks : encoded_here;
  if (uint64_t{tasks.size()} <= options_.chunked_job_tasks) {
    std::string id_key;
    for (uint32_t i = 0; i < tasks.size(); ++i) {
      rocks::PutTaskRecord(batch, handles_[kTaskSpecs], handles_[kTaskIds],
                           job.seq, i, tasks.encoded(i), tasks.id(i), id_key);
    }
    return absl::OkStatus();
  }
  // A big job's records go ahead of `batch`, in chunks, as a writer made
  // while its request was read writes them; and `batch` erases their mark.
  RocksTaskRecordWriter writer(db_.get(), RecordFamilies(), job.seq,
                               options_.chunk_bytes);
  for (uint32_t i = 0; i < tasks.size(); ++i) {
    writer.Add(i, tasks.encoded(i), tasks.id(i));
  }
  if (absl::Status s = writer.Finish(); !s.ok()) return s;
  writer.Keep();
  written += writer.written();
  batch.Delete(handles_[kMeta], WritingKey(job.seq));
  return absl::OkStatus();
}

absl::Status RocksMetaStore::Commit(const WriteSet& writes, bool sync,
                                    uint64_t* bytes) {
  if (bytes != nullptr) *bytes = 0;
  if (writes.empty() && !sync) return absl::OkStatus();
  rocksdb::WriteBatch batch;
  uint64_t chunk_bytes = 0;  // written ahead of `batch` (PutTaskRecords)
  for (const WriteSet::NewJob& job : writes.new_jobs) {
    // Every field but the tasks, which get a record each below.
    v1::JobSpec header;
    header.set_name(job.spec->name());
    header.set_priority(job.spec->priority());
    header.set_max_parallelism(job.spec->max_parallelism());
    header.set_continue_on_failure(job.spec->continue_on_failure());
    if (job.spec->has_deadline()) {
      *header.mutable_deadline() = job.spec->deadline();
    }
    PutMessage(batch, handles_[kJobSpecs], SeqKey(job.seq), header);
    PutMessage(batch, handles_[kJobs], SeqKey(job.seq), job.status);
    if (job.tasks_written) {
      batch.Delete(handles_[kMeta], WritingKey(job.seq));
    } else if (absl::Status s = PutTaskRecords(job, batch, chunk_bytes);
               !s.ok()) {
      return s;
    }
    if (!job.request_id.empty()) {
      batch.Put(handles_[kRequests], job.request_id, SeqKey(job.seq));
    }
    if (!IsFinal(job.status.state())) {
      batch.Put(handles_[kMeta], UnfinishedKey(job.seq), "");
    }
    if (!job.status.tenant().empty()) {
      batch.Put(handles_[kMeta], TenantJobKey(job.status.tenant(), job.seq),
                "");
    }
  }
  for (const auto& [seq, status] : writes.job_statuses) {
    PutMessage(batch, handles_[kJobs], SeqKey(seq), status);
    if (IsFinal(status.state())) {
      batch.Delete(handles_[kMeta], UnfinishedKey(seq));
    }
  }
  for (const WriteSet::TaskWrite* task : InKeyOrder(writes.task_statuses)) {
    PutMessage(batch, handles_[kTaskStates], TaskKey(task->seq, task->index),
               task->status);
  }
  for (const WriteSet::ResultWrite* result : InKeyOrder(writes.results)) {
    batch.Put(handles_[kResults], TaskKey(result->seq, result->index),
              EncodeResult(result->result));
  }
  // Held to the write: the next sequence number read here must still be
  // the next one when the batch lands.
  std::optional<absl::MutexLock> deleting;
  if (!writes.deleted_jobs.empty()) {
    deleting.emplace(&delete_mu_);
    absl::StatusOr<uint64_t> next = Latest().NextJobSeq();
    if (!next.ok()) return next.status();
    for (const WriteSet::NewJob& job : writes.new_jobs) {
      *next = std::max(*next, job.seq + 1);
    }
    for (const JobDeletion& deletion : writes.deleted_jobs) {
      absl::Status s = AddDeletion(batch, deletion, *next);
      if (!s.ok()) return s;
    }
  }
  PutRoster(batch, writes.roster);
  if (writes.next_job_seq > 0) {
    batch.Put(handles_[kMeta], kNextJobSeqKey,
              absl::StrCat(writes.next_job_seq));
  }
  rocksdb::WriteOptions options;
  options.sync = sync;
  if (batch.Count() == 0) return FromRocks(db_->SyncWAL(), "syncing the WAL");
  if (bytes != nullptr) *bytes = batch.GetDataSize() + chunk_bytes;
  return FromRocks(db_->Write(options, &batch), "writing a batch");
}

// A view on a RocksDB snapshot, released with the view.
class RocksMetaStore::View : public MetaReadView {
 public:
  View(rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>* cfs)
      : db_(db), snapshot_(db->GetSnapshot()), reader_(db, cfs, snapshot_) {}
  ~View() override { db_->ReleaseSnapshot(snapshot_); }

  absl::StatusOr<v1::JobStatus> GetJobStatus(uint64_t seq) override {
    return reader_.GetJobStatus(seq);
  }
  absl::StatusOr<std::vector<v1::JobStatus>> ListJobStatuses(
      uint64_t before_seq, size_t limit) override {
    return reader_.ListJobStatuses(before_seq, limit);
  }
  absl::StatusOr<std::vector<v1::JobStatus>> ListTenantJobStatuses(
      absl::string_view tenant, uint64_t before_seq, size_t limit) override {
    return reader_.ListTenantJobStatuses(tenant, before_seq, limit);
  }
  absl::StatusOr<uint32_t> FindTaskIndex(uint64_t seq,
                                         absl::string_view task_id) override {
    return reader_.FindTaskIndex(seq, task_id);
  }
  absl::StatusOr<v1::TaskStatus> GetTaskStatus(uint64_t seq,
                                               uint32_t index) override {
    return reader_.GetTaskStatus(seq, index);
  }
  absl::StatusOr<v1::TaskSpec> GetTaskSpec(uint64_t seq,
                                           uint32_t index) override {
    return reader_.GetTaskSpec(seq, index);
  }
  absl::StatusOr<StoredResult> GetResult(uint64_t seq,
                                         uint32_t index) override {
    return reader_.GetResult(seq, index);
  }
  absl::StatusOr<std::optional<uint64_t>> FindRequest(
      absl::string_view request_id) override {
    return reader_.FindRequest(request_id);
  }
  absl::Status ForEachStoredTask(uint64_t seq, uint32_t from, uint32_t end,
                                 TaskVisitor visit) override {
    return reader_.ForEachStoredTask(seq, from, end, visit);
  }
  absl::StatusOr<std::vector<v1::ObjectRef>> ListResultObjects(
      uint64_t seq) override {
    return reader_.ListResultObjects(seq);
  }

 private:
  rocksdb::DB* const db_;
  const rocksdb::Snapshot* const snapshot_;
  const Reader reader_;
};

RocksMetaStore::Reader RocksMetaStore::Latest() const {
  return Reader(db_.get(), &handles_, nullptr);
}

absl::StatusOr<std::unique_ptr<MetaReadView>> RocksMetaStore::NewReadView() {
  return std::make_unique<View>(db_.get(), &handles_);
}

absl::StatusOr<uint64_t> RocksMetaStore::NextJobSeq() {
  return Latest().NextJobSeq();
}

TaskRecordFamilies RocksMetaStore::RecordFamilies() const {
  TaskRecordFamilies families;
  families.specs = handles_[kTaskSpecs];
  families.ids = handles_[kTaskIds];
  families.meta = handles_[kMeta];
  return families;
}

std::unique_ptr<TaskRecordWriter> RocksMetaStore::NewTaskRecordWriter(
    uint64_t seq) {
  return std::make_unique<RocksTaskRecordWriter>(db_.get(), RecordFamilies(),
                                                 seq, options_.chunk_bytes);
}

absl::StatusOr<v1::JobStatus> RocksMetaStore::GetJobStatus(uint64_t seq) {
  return Latest().GetJobStatus(seq);
}

absl::StatusOr<std::vector<v1::JobStatus>> RocksMetaStore::ListJobStatuses(
    uint64_t before_seq, size_t limit) {
  return Latest().ListJobStatuses(before_seq, limit);
}

absl::StatusOr<std::vector<v1::JobStatus>> RocksMetaStore::ListJobStatusesFrom(
    uint64_t from_seq, size_t limit) {
  return Latest().ListJobStatusesFrom(from_seq, limit);
}

absl::StatusOr<v1::TaskStatus> RocksMetaStore::GetTaskStatus(uint64_t seq,
                                                             uint32_t index) {
  return Latest().GetTaskStatus(seq, index);
}

absl::StatusOr<v1::TaskSpec> RocksMetaStore::GetTaskSpec(uint64_t seq,
                                                         uint32_t index) {
  return Latest().GetTaskSpec(seq, index);
}

absl::StatusOr<StoredResult> RocksMetaStore::GetResult(uint64_t seq,
                                                       uint32_t index) {
  return Latest().GetResult(seq, index);
}

absl::StatusOr<std::optional<uint64_t>> RocksMetaStore::FindRequest(
    absl::string_view request_id) {
  return Latest().FindRequest(request_id);
}

absl::StatusOr<uint32_t> RocksMetaStore::FindTaskIndex(
    uint64_t seq, absl::string_view task_id) {
  return Latest().FindTaskIndex(seq, task_id);
}

absl::StatusOr<std::vector<std::pair<uint32_t, v1::TaskStatus>>>
RocksMetaStore::ListTaskStatuses(uint64_t seq) {
  return Latest().ListTaskStatuses(seq);
}

absl::StatusOr<std::vector<v1::ObjectRef>> RocksMetaStore::ListResultObjects(
    uint64_t seq) {
  return Latest().ListResultObjects(seq);
}

absl::StatusOr<StoredJob> RocksMetaStore::LoadJob(uint64_t seq,
                                                  v1::JobStatus status) {
  const Reader latest = Latest();
  StoredJob job;
  job.seq = seq;
  job.status = std::move(status);
  absl::StatusOr<v1::JobSpec> header =
      latest.GetMessage<v1::JobSpec>(kJobSpecs, SeqKey(seq));
  if (!header.ok()) return header.status();
  job.spec = *std::move(header);
  const std::string prefix = SeqKey(seq);
  std::unique_ptr<rocksdb::Iterator> it(
      latest.NewIterator(latest.Options(), kTaskSpecs));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
       it->Next()) {
    job.tasks.AddEncoded(
        absl::string_view(it->value().data(), it->value().size()));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "reading a job");
  absl::StatusOr<std::vector<std::pair<uint32_t, v1::TaskStatus>>> tasks =
      latest.ListTaskStatuses(seq);
  if (!tasks.ok()) return tasks.status();
  job.task_statuses = *std::move(tasks);
  return job;
}

absl::StatusOr<std::vector<StoredJob>> RocksMetaStore::LoadUnfinishedJobs() {
  std::vector<uint64_t> seqs;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), handles_[kMeta]));
  const rocksdb::Slice prefix(kUnfinishedPrefix.data(),
                              kUnfinishedPrefix.size());
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
       it->Next()) {
    rocksdb::Slice key = it->key();
    key.remove_prefix(prefix.size());
    seqs.push_back(SeqFromKey(key));
  }
  if (!it->status().ok()) {
    return FromRocks(it->status(), "scanning unfinished jobs");
  }
  std::vector<StoredJob> out;
  for (uint64_t seq : seqs) {
    absl::StatusOr<v1::JobStatus> status = GetJobStatus(seq);
    if (absl::IsNotFound(status.status())) {
      return absl::DataLossError(
          absl::StrCat("the index of unfinished jobs names job ",
                       JobIdFromSeq(seq), ", which is not stored"));
    }
    if (!status.ok()) return status.status();
    if (IsFinal(status->state())) continue;
    absl::StatusOr<StoredJob> job = LoadJob(seq, *std::move(status));
    if (!job.ok()) return job.status();
    out.push_back(*std::move(job));
  }
  return out;
}

absl::Status RocksMetaStore::DeletePrefix(rocksdb::WriteBatch& batch,
                                          Family family,
                                          const std::string& prefix,
                                          uint32_t tasks) {
  const std::string end = SeqKey(SeqFromKey(prefix) + 1);
  if (tasks > kRangeDeleteTasks) {
    return FromRocks(batch.DeleteRange(handles_[family], prefix, end),
                     "deleting a job");
  }
  rocksdb::ReadOptions options;
  const rocksdb::Slice upper(end);
  options.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(options, handles_[family]));
  for (it->Seek(prefix); it->Valid(); it->Next()) {
    rocksdb::Status s = batch.Delete(handles_[family], it->key());
    if (!s.ok()) return FromRocks(s, "deleting a job");
  }
  return FromRocks(it->status(), kFamilyNames[family]);
}

absl::Status RocksMetaStore::AddDeletion(rocksdb::WriteBatch& batch,
                                         const JobDeletion& deletion,
                                         uint64_t next_seq) {
  const std::string key = SeqKey(deletion.seq);
  batch.Delete(handles_[kJobs], key);
  batch.Delete(handles_[kJobSpecs], key);
  batch.Delete(handles_[kMeta], UnfinishedKey(deletion.seq));
  if (!deletion.tenant.empty()) {
    batch.Delete(handles_[kMeta], TenantJobKey(deletion.tenant, deletion.seq));
  }
  for (Family family : {kTaskSpecs, kTaskStates, kResults, kTaskIds}) {
    absl::Status s = DeletePrefix(batch, family, key, deletion.total_tasks);
    if (!s.ok()) return s;
  }
  // One tombstone however many chunks: a stored output is large.
  batch.DeleteRange(handles_[kResultChunks], key, SeqKey(deletion.seq + 1));
  if (!deletion.request_id.empty()) {
    batch.Delete(handles_[kRequests], deletion.request_id);
  }
  if (next_seq <= deletion.seq + 1) {
    // This is the newest job: remember that its id was used.
    batch.Put(handles_[kMeta], kNextJobSeqKey, absl::StrCat(deletion.seq + 1));
  }
  return absl::OkStatus();
}

absl::Status RocksMetaStore::DeleteJob(uint64_t seq, bool sync) {
  absl::StatusOr<std::unique_ptr<MetaReadView>> view = NewReadView();
  if (!view.ok()) return view.status();
  absl::StatusOr<JobDeletion> deletion = (*view)->PlanJobDeletion(seq);
  if (!deletion.ok()) return deletion.status();
  WriteSet writes;
  writes.deleted_jobs.push_back(*std::move(deletion));
  return Commit(writes, sync);
}

}  // namespace dagd
