#include "storage/object_store.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "storage/crc32c.h"

namespace dagd {

std::optional<ResultKeyParts> ParseResultObjectKey(absl::string_view key) {
  std::vector<absl::string_view> parts = absl::StrSplit(key, '/');
  ResultKeyParts out;
  if (parts.size() != 4 || parts[0] != "results" || parts[1].empty() ||
      !absl::SimpleAtoi(parts[2], &out.task_index) ||
      !absl::SimpleAtoi(parts[3], &out.attempt)) {
    return std::nullopt;
  }
  out.job_id = std::string(parts[1]);
  return out;
}

absl::StatusOr<std::string> ObjectStore::GetRange(absl::string_view key,
                                                  uint64_t offset,
                                                  uint64_t length) {
  absl::StatusOr<StoredObject> object = Get(key);
  if (!object.ok()) return object.status();
  if (offset > object->data.size() ||
      (offset == object->data.size() && length > 0)) {
    return absl::OutOfRangeError(
        absl::StrCat("offset ", offset, " is past the end of '", key, "' (",
                     object->data.size(), " bytes)"));
  }
  return object->data.substr(offset, length);
}

absl::Status CheckObject(const v1::ObjectRef& ref, const StoredObject& object) {
  if (object.data.size() != ref.size()) {
    return absl::DataLossError(absl::StrCat(
        "object '", ref.key(), "' is ", object.data.size(),
        " bytes; dagd recorded ", ref.size(), " when it was written"));
  }
  const uint32_t crc = crc32c::Value(object.data);
  if (ref.crc32c() != 0 && crc != ref.crc32c()) {
    return absl::DataLossError(absl::StrCat(
        "object '", ref.key(), "' does not match its CRC-32C (recorded ",
        ref.crc32c(), ", read ", crc, ")"));
  }
  return absl::OkStatus();
}

}  // namespace dagd
