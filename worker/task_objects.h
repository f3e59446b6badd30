// Task inputs and outputs that travel through the object store (S3)
// because they are too large to travel inline: the store the coordinator
// names at registration, and the reads and writes a task needs from it.
// Shared by the long-running worker and the Lambda runtime.
#ifndef DAGD_WORKER_TASK_OBJECTS_H_
#define DAGD_WORKER_TASK_OBJECTS_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "dagd/v1/types.pb.h"
#include "google/protobuf/map.h"
#include "storage/object_store.h"

namespace dagd {

// `status` from the object store, re-worded as `message`: retryable when
// the store says it is worth retrying (UNAVAILABLE, DEADLINE_EXCEEDED, a
// short or corrupt read), else permanent (a missing object or missing
// permissions stays so).
absl::Status StoreFailure(const absl::Status& status,
                          absl::string_view message);

// Reads what `ref` names and checks its size and CRC-32C. Errors as
// StoreFailure, naming `what` ("input #2") and the key.
absl::StatusOr<StoredObject> FetchObject(ObjectStore& store,
                                         const v1::ObjectRef& ref,
                                         absl::string_view what);

// Writes `data` at `key` and returns its reference (in `bucket`). Errors
// as StoreFailure, naming `what`.
absl::StatusOr<v1::ObjectRef> PutObject(ObjectStore& store,
                                        absl::string_view bucket,
                                        std::string key, absl::string_view data,
                                        absl::string_view content_type,
                                        absl::string_view what);

// The positions named in an input_refs map, in order: the first bad input
// is then the one reported.
std::vector<uint32_t> SortedPositions(
    const google::protobuf::Map<uint32_t, v1::ObjectRef>& refs);

// The store a long-running worker's tasks use: the one dagd named in its
// last Registered. Thread-safe: task threads read it while a reconnect
// may change it.
class TaskObjectStore {
 public:
  using Factory = std::function<absl::StatusOr<std::unique_ptr<ObjectStore>>(
      const v1::ObjectStoreConfig&)>;

  struct Current {
    v1::ObjectStoreConfig config;        // no bucket: none
    std::shared_ptr<ObjectStore> store;  // null when `error` is set
    absl::Status error;                  // why the named store cannot be used
  };

  explicit TaskObjectStore(Factory make);

  // From Registered. A changed configuration makes a new client; the
  // error, if it cannot, is returned (for the log) and kept: tasks that
  // need the store then fail with it.
  absl::Status Configure(const v1::ObjectStoreConfig& config);

  std::shared_ptr<const Current> Get() const;

 private:
  const Factory make_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const Current> current_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dagd

#endif  // DAGD_WORKER_TASK_OBJECTS_H_
