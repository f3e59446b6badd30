// Where payloads too large to travel inline (task results over
// --inline_max_bytes, large Lambda inputs and outputs) are kept: an S3
// bucket in production. RocksDB keeps only their size, checksum and key.
#ifndef DAGD_STORAGE_OBJECT_STORE_H_
#define DAGD_STORAGE_OBJECT_STORE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "dagd/v1/types.pb.h"

namespace dagd {

struct StoredObject {
  std::string data;
  std::string content_type;
};

// Thread-safe. Keys are relative to the store's bucket and prefix.
//
// Errors: NOT_FOUND for a missing key (Get); UNAVAILABLE for failures worth
// retrying (network, throttling, 5xx); PERMISSION_DENIED /
// UNAUTHENTICATED for credential problems; other codes for the rest, with
// the service's error code and message in the status message.
class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  virtual absl::Status Put(absl::string_view key, absl::string_view data,
                           absl::string_view content_type) = 0;
  virtual absl::StatusOr<StoredObject> Get(absl::string_view key) = 0;
  // Bytes [offset, offset + length) of the object, fewer at its end;
  // OUT_OF_RANGE when offset is past the end. The default reads the whole
  // object; stores that can read a range do.
  virtual absl::StatusOr<std::string> GetRange(absl::string_view key,
                                               uint64_t offset,
                                               uint64_t length);
  // Deleting a missing key is not an error.
  virtual absl::Status Delete(absl::string_view key) = 0;
  // For people and logs: "s3://bucket/prefix".
  virtual std::string Describe() const = 0;
};

// Checks `object` against the size and CRC-32C recorded in `ref` when it
// was written (a zero crc32c is not checked): DATA_LOSS naming the key and
// both values when they differ.
absl::Status CheckObject(const v1::ObjectRef& ref, const StoredObject& object);

// The key of an attempt's output when it is over the inline limit
// (relative to the store's prefix): a worker holds it under this key, and
// writes it to the object store under a key within it
// (WrittenResultObjectKey; the Lambda dispatcher's retries of one attempt
// each under one more part, ".../tryN"). dagd accepts no other key for the
// attempt, so deleting a job's objects can only ever delete what its own
// attempts wrote.
inline std::string ResultObjectKey(absl::string_view job_id,
                                   uint32_t task_index, uint32_t attempt) {
  return absl::StrCat("results/", job_id, "/", task_index, "/", attempt);
}

// Where `writer` puts an attempt's output in the object store: under the
// attempt's key (dagd accepts no key outside it), then the writer's name,
// one of its own per process (a dagd-worker's instance; a dagd run's for
// the Lambda invocations it makes). One attempt can run twice: attempts
// are numbered from what the store kept and workers report, so a dagd
// restarted after a crash may make an attempt's number again while the
// first still runs (on a worker back after --recovery_grace, or a Lambda
// invocation the crash lost). Under one key, the later write would
// replace the output the earlier one reported.
inline std::string WrittenResultObjectKey(absl::string_view job_id,
                                          uint32_t task_index, uint32_t attempt,
                                          absl::string_view writer) {
  std::string key = ResultObjectKey(job_id, task_index, attempt);
  // No name (an older writer's way): the attempt's key itself.
  if (!writer.empty()) absl::StrAppend(&key, "/", writer);
  return key;
}

// Whether `key` is `base` or a key under it ("BASE/..."): where dagd
// accepts an attempt's output (base: its ResultObjectKey), or where a writer
// was told to write it.
inline bool IsKeyWithin(absl::string_view key, absl::string_view base) {
  return key == base ||
         (key.size() > base.size() + 1 && key.substr(0, base.size()) == base &&
          key[base.size()] == '/');
}

// The parts of a ResultObjectKey; nullopt for any other key.
struct ResultKeyParts {
  std::string job_id;
  uint32_t task_index = 0;
  uint32_t attempt = 0;
};
std::optional<ResultKeyParts> ParseResultObjectKey(absl::string_view key);

// Where dagd puts input `position` of a Lambda attempt whose invocation
// would be over Lambda's payload limit; deleted when the call ends.
inline std::string InputObjectKey(absl::string_view job_id, uint32_t task_index,
                                  uint32_t attempt, uint32_t position) {
  return absl::StrCat("inputs/", job_id, "/", task_index, "/", attempt, "/",
                      position);
}

}  // namespace dagd

#endif  // DAGD_STORAGE_OBJECT_STORE_H_
