// An in-memory ObjectStore for tests, with injectable failures.
#ifndef DAGD_TESTS_TESTUTIL_FAKE_OBJECT_STORE_H_
#define DAGD_TESTS_TESTUTIL_FAKE_OBJECT_STORE_H_

#include <map>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "storage/object_store.h"

namespace dagd {

class FakeObjectStore : public ObjectStore {
 public:
  absl::Status Put(absl::string_view key, absl::string_view data,
                   absl::string_view content_type) override {
    absl::MutexLock lock(&mu_);
    if (fail_next_.has_value()) return TakeFailure();
    objects_[std::string(key)] =
        StoredObject{std::string(data), std::string(content_type)};
    return absl::OkStatus();
  }
  absl::StatusOr<StoredObject> Get(absl::string_view key) override {
    absl::MutexLock lock(&mu_);
    if (fail_next_.has_value()) return TakeFailure();
    auto it = objects_.find(std::string(key));
    if (it == objects_.end()) {
      return absl::NotFoundError(absl::StrCat("no key '", key, "'"));
    }
    return it->second;
  }
  absl::Status Delete(absl::string_view key) override {
    absl::MutexLock lock(&mu_);
    objects_.erase(std::string(key));
    return absl::OkStatus();
  }
  std::string Describe() const override { return "mem://fake"; }

  // The next Put or Get fails with `status`.
  void FailNext(absl::Status status) {
    absl::MutexLock lock(&mu_);
    fail_next_ = std::move(status);
  }
  std::optional<StoredObject> Find(const std::string& key) {
    absl::MutexLock lock(&mu_);
    auto it = objects_.find(key);
    if (it == objects_.end()) return std::nullopt;
    return it->second;
  }

 private:
  absl::Status TakeFailure() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    absl::Status status = *std::move(fail_next_);
    fail_next_.reset();
    return status;
  }

  absl::Mutex mu_;
  std::map<std::string, StoredObject> objects_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Status> fail_next_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dagd

#endif  // DAGD_TESTS_TESTUTIL_FAKE_OBJECT_STORE_H_
