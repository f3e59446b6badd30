#include "worker/task_objects.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/message_differencer.h"
#include "storage/crc32c.h"
#include "worker/function_registry.h"

namespace dagd {

absl::Status StoreFailure(const absl::Status& status,
                          absl::string_view message) {
  absl::Status error(status.code(),
                     absl::StrCat(message, ": ", status.message()));
  if (absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status) ||
      absl::IsDataLoss(status)) {
    return error;
  }
  return MakePermanent(std::move(error));
}

absl::StatusOr<StoredObject> FetchObject(ObjectStore& store,
                                         const v1::ObjectRef& ref,
                                         absl::string_view what) {
  const std::string where =
      absl::StrCat(store.Describe(), " key '", ref.key(), "'");
  absl::StatusOr<StoredObject> object = store.Get(ref.key());
  if (!object.ok()) {
    return StoreFailure(object.status(),
                        absl::StrCat("cannot read ", what, " from ", where));
  }
  if (absl::Status s = CheckObject(ref, *object); !s.ok()) {
    return StoreFailure(s, absl::StrCat(what, " from ", store.Describe()));
  }
  if (!ref.content_type().empty()) object->content_type = ref.content_type();
  return object;
}

absl::StatusOr<v1::ObjectRef> PutObject(ObjectStore& store,
                                        absl::string_view bucket,
                                        std::string key, absl::string_view data,
                                        absl::string_view content_type,
                                        absl::string_view what) {
  if (absl::Status s = store.Put(key, data, content_type); !s.ok()) {
    return StoreFailure(s, absl::StrCat("cannot write ", what, " to ",
                                        store.Describe(), " key '", key, "'"));
  }
  v1::ObjectRef ref;
  ref.set_bucket(std::string(bucket));
  ref.set_key(std::move(key));
  ref.set_size(data.size());
  ref.set_crc32c(crc32c::Value(data));
  ref.set_content_type(std::string(content_type));
  return ref;
}

std::vector<uint32_t> SortedPositions(
    const google::protobuf::Map<uint32_t, v1::ObjectRef>& refs) {
  std::vector<uint32_t> positions;
  positions.reserve(refs.size());
  for (const auto& [position, ref] : refs) positions.push_back(position);
  std::sort(positions.begin(), positions.end());
  return positions;
}

TaskObjectStore::TaskObjectStore(Factory make)
    : make_(std::move(make)), current_(std::make_shared<Current>()) {}

absl::Status TaskObjectStore::Configure(const v1::ObjectStoreConfig& config) {
  {
    absl::MutexLock lock(&mu_);
    if (google::protobuf::util::MessageDifferencer::Equals(current_->config,
                                                           config)) {
      return current_->error;
    }
  }
  auto next = std::make_shared<Current>();
  next->config = config;
  if (!config.bucket().empty()) {
    absl::StatusOr<std::unique_ptr<ObjectStore>> store =
        make_ != nullptr ? make_(config)
                         : absl::UnimplementedError(
                               "this worker has no object store client");
    if (store.ok()) {
      next->store = *std::move(store);
    } else {
      next->error = absl::Status(
          store.status().code(),
          absl::StrCat("cannot use dagd's object store (bucket '",
                       config.bucket(), "'): ", store.status().message()));
    }
  }
  absl::Status error = next->error;
  absl::MutexLock lock(&mu_);
  current_ = std::move(next);
  return error;
}

std::shared_ptr<const TaskObjectStore::Current> TaskObjectStore::Get() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

}  // namespace dagd
