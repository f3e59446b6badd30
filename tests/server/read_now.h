// ResultObjects::Read made synchronous, for tests.
#ifndef DAGD_TESTS_SERVER_READ_NOW_H_
#define DAGD_TESTS_SERVER_READ_NOW_H_

#include <utility>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "server/result_objects.h"

namespace dagd {

// Reads `ref` through `objects` and waits for the answer.
inline absl::StatusOr<StoredObject> ReadNow(ResultObjects& objects,
                                            const v1::ObjectRef& ref) {
  absl::StatusOr<StoredObject> out;
  absl::Notification done;
  objects.Read(ref, [&](absl::StatusOr<StoredObject> object) {
    out = std::move(object);
    done.Notify();
  });
  done.WaitForNotification();
  return out;
}

}  // namespace dagd

#endif  // DAGD_TESTS_SERVER_READ_NOW_H_
