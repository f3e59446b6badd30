// Where payloads too large to travel inline (task results over
// --inline_max_bytes, large Lambda inputs and outputs) are kept: an S3
// bucket in production. RocksDB keeps only their size, checksum and key.
#ifndef DAGD_STORAGE_OBJECT_STORE_H_
#define DAGD_STORAGE_OBJECT_STORE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

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
  // Deleting a missing key is not an error.
  virtual absl::Status Delete(absl::string_view key) = 0;
  // For people and logs: "s3://bucket/prefix".
  virtual std::string Describe() const = 0;
};

}  // namespace dagd

#endif  // DAGD_STORAGE_OBJECT_STORE_H_
