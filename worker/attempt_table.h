// The attempts a worker holds (queued or running), so that a cancel from
// the coordinator, or shutdown, can reach them, and heartbeats can say how
// many slots are busy.
#ifndef DAGD_WORKER_ATTEMPT_TABLE_H_
#define DAGD_WORKER_ATTEMPT_TABLE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "dagd/v1/worker_service.pb.h"
#include "worker/cancellation.h"

namespace dagd {

// Thread-safe.
class AttemptTable {
 public:
  // Identifies an attempt: job id, task index, attempt number.
  using Key = std::tuple<std::string, uint32_t, uint32_t>;
  static Key KeyOf(const v1::TaskRef& ref);

  // Adds an attempt occupying `slots` and returns its token, or nullptr if
  // the same attempt is already held (a duplicate assignment). A grant-ahead
  // follower is added with 0 slots: it runs on its predecessor's.
  std::shared_ptr<CancellationToken> Add(const v1::TaskRef& ref,
                                         uint32_t slots);
  void Remove(const v1::TaskRef& ref);
  // Removes `from` and gives its slots to `to` (which runs on them next),
  // so busy_slots() does not change while a chain moves on.
  void PassSlots(const v1::TaskRef& from, const v1::TaskRef& to);
  bool Contains(const v1::TaskRef& ref) const;
  // Returns false if the attempt is not held (finished, or never seen).
  bool Cancel(const v1::TaskRef& ref, CancelReason reason);
  void CancelAll(CancelReason reason);

  uint32_t busy_slots() const;
  size_t size() const;
  // Every attempt held, in key order, as it was added (seal included: dagd
  // takes an attempt over after a restart only with it).
  std::vector<v1::TaskRef> Refs() const;
  // Waits until no attempt is held; false if some still are after
  // `timeout`.
  bool WaitUntilEmpty(absl::Duration timeout) const;

 private:
  struct Entry {
    std::shared_ptr<CancellationToken> token;
    uint32_t slots;
    uint64_t seal;  // TaskRef.seal
  };

  mutable absl::Mutex mu_;
  std::map<Key, Entry> attempts_ ABSL_GUARDED_BY(mu_);
  uint32_t busy_slots_ ABSL_GUARDED_BY(mu_) = 0;  // sum of entries' slots
};

}  // namespace dagd

#endif  // DAGD_WORKER_ATTEMPT_TABLE_H_
