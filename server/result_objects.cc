#include "server/result_objects.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "proto/object_location.h"
#include "server/log.h"

namespace dagd {

namespace {

// A holder that no longer has a result: say why that happens.
template <typename T>
absl::StatusOr<T> Gone(absl::StatusOr<T> read) {
  if (!absl::IsNotFound(read.status())) return read;
  return absl::NotFoundError(absl::StrCat(
      read.status().message(),
      ". A result a worker holds is freed once every task that needed it "
      "has succeeded, and lost with its worker once its job has finished; "
      "only a job's outputs are kept until the job is deleted"));
}

}  // namespace

ResultObjects::ResultObjects(ObjectStore* store, DataClient* held,
                             MetaStore* meta, int threads)
    : store_(store), held_(held), meta_(meta), queue_(threads) {}

absl::StatusOr<StoredObject> ResultObjects::ReadHeld(const v1::ObjectRef& ref) {
  if (held_ == nullptr) {
    return absl::FailedPreconditionError("dagd cannot read held results");
  }
  absl::StatusOr<StoredObject> object = held_->Fetch(ref);
  if (MovedToStore(ref, object.status())) {
    absl::StatusOr<StoredObject> stored = ReadStored(ref);
    if (stored.ok()) return stored;
  }
  return Gone(std::move(object));
}

absl::StatusOr<std::string> ResultObjects::ReadHeldRange(
    const v1::ObjectRef& ref, uint64_t offset, uint64_t length) {
  if (held_ == nullptr) {
    return absl::FailedPreconditionError("dagd cannot read held results");
  }
  absl::StatusOr<std::string> bytes = held_->FetchRange(ref, offset, length);
  if (MovedToStore(ref, bytes.status())) {
    absl::StatusOr<std::string> stored = ReadStoredRange(ref, offset, length);
    if (stored.ok()) return stored;
  }
  return Gone(std::move(bytes));
}

bool ResultObjects::MovedToStore(const v1::ObjectRef& ref,
                                 const absl::Status& read) const {
  // An output copied into the store is freed on its holder once the copy
  // is recorded; a reader that looked the result up before then still
  // names the holder. The copy has the same key, size and CRC-32C.
  return absl::IsNotFound(read) && ref.output() && meta_ != nullptr;
}

absl::StatusOr<std::string> ResultObjects::ReadStoredRange(
    const v1::ObjectRef& ref, uint64_t offset, uint64_t length) {
  std::optional<ResultKeyParts> parts = ParseResultObjectKey(ref.key());
  std::optional<uint64_t> seq =
      parts ? SeqFromJobId(parts->job_id) : std::nullopt;
  if (!seq) {
    return absl::DataLossError(
        absl::StrCat("a stored result has a malformed key '", ref.key(), "'"));
  }
  if (meta_ == nullptr) {
    return absl::FailedPreconditionError("dagd cannot read stored results");
  }
  return meta_->ReadResultChunks(*seq, parts->task_index, ref.size(), offset,
                                 length);
}

absl::StatusOr<StoredObject> ResultObjects::ReadStored(
    const v1::ObjectRef& ref) {
  absl::StatusOr<std::string> bytes = ReadStoredRange(ref, 0, 0);
  if (!bytes.ok()) return bytes.status();
  StoredObject object{*std::move(bytes), ref.content_type()};
  if (absl::Status s = CheckObject(ref, object); !s.ok()) return s;
  return object;
}

absl::StatusOr<StoredObject> ResultObjects::ReadBucket(
    const v1::ObjectRef& ref) {
  absl::StatusOr<StoredObject> object = store_->Get(ref.key());
  if (!object.ok()) {
    return absl::Status(
        object.status().code(),
        absl::StrCat("cannot read the result from ", store_->Describe(),
                     " key '", ref.key(), "': ", object.status().message()));
  }
  if (absl::Status s = CheckObject(ref, *object); !s.ok()) return s;
  if (!ref.content_type().empty()) object->content_type = ref.content_type();
  return object;
}

absl::StatusOr<std::string> ResultObjects::ReadBucketRange(
    const v1::ObjectRef& ref, uint64_t offset, uint64_t length) {
  absl::StatusOr<std::string> bytes =
      store_->GetRange(ref.key(), offset, length);
  if (!bytes.ok()) {
    return absl::Status(
        bytes.status().code(),
        absl::StrCat("cannot read the result from ", store_->Describe(),
                     " key '", ref.key(), "': ", bytes.status().message()));
  }
  return bytes;
}

void ResultObjects::Read(v1::ObjectRef ref, ReadDone done) {
  queue_.Post([this, ref = std::move(ref),
               done = std::move(done)](bool abandoned) mutable {
    if (abandoned) return done(absl::UnavailableError("dagd is stopping"));
    switch (LocationOf(ref)) {
      case ObjectLocation::kHeld:
        return done(ReadHeld(ref));  // checked by it
      case ObjectLocation::kStored:
        return done(ReadStored(ref));
      case ObjectLocation::kBucket:
        return done(ReadBucket(ref));
    }
  });
}

void ResultObjects::ReadRange(v1::ObjectRef ref, uint64_t offset,
                              uint64_t length, RangeDone done) {
  queue_.Post([this, ref = std::move(ref), offset, length,
               done = std::move(done)](bool abandoned) mutable {
    if (abandoned) return done(absl::UnavailableError("dagd is stopping"));
    switch (LocationOf(ref)) {
      case ObjectLocation::kHeld:
        return done(ReadHeldRange(ref, offset, length));
      case ObjectLocation::kStored:
        return done(ReadStoredRange(ref, offset, length));
      case ObjectLocation::kBucket:
        return done(ReadBucketRange(ref, offset, length));
    }
  });
}

void ResultObjects::Delete(std::vector<v1::ObjectRef> refs) {
  // Held ones are freed by their holders, stored ones go with the job's
  // records.
  refs.erase(std::remove_if(refs.begin(), refs.end(),
                            [](const v1::ObjectRef& ref) {
                              return LocationOf(ref) != ObjectLocation::kBucket;
                            }),
             refs.end());
  if (refs.empty() || store_ == nullptr) return;
  queue_.Post([this, refs = std::move(refs)](bool abandoned) {
    if (abandoned) {
      LOG(WARNING) << "dagd is stopping: " << refs.size()
                   << " result object(s) left in " << store_->Describe();
      return;
    }
    size_t failed = 0;
    absl::Status last;
    for (const v1::ObjectRef& ref : refs) {
      if (absl::Status s = store_->Delete(ref.key()); !s.ok()) {
        ++failed;
        last = std::move(s);
      }
    }
    if (failed > 0) {
      LOG(WARNING) << "could not delete " << failed << " of " << refs.size()
                   << " result object(s) from " << store_->Describe()
                   << ", left behind: " << last.message();
    }
  });
}

}  // namespace dagd
