// Reads and deletes results kept in the object store, and reads results
// workers hold (from their DataService), off the coordinator's loop: such a
// request takes milliseconds to seconds, and the loop must never wait for
// one.
#ifndef DAGD_SERVER_RESULT_OBJECTS_H_
#define DAGD_SERVER_RESULT_OBJECTS_H_

#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "dagd/v1/types.pb.h"
#include "server/background_queue.h"
#include "storage/data_client.h"
#include "storage/meta_store.h"
#include "storage/object_store.h"

namespace dagd {

// Thread-safe. Requests run on `threads` threads of its own, in the order
// they were made (several at once when threads > 1).
class ResultObjects {
 public:
  using ReadDone = absl::AnyInvocable<void(absl::StatusOr<StoredObject>)>;

  // `store` (null: no object store), `held` (null: held results cannot
  // be read) and `meta` (null: results stored by dagd itself cannot be
  // read) are not owned and must outlive this. Destruction finishes the
  // requests in progress; of those still queued, reads answer UNAVAILABLE
  // and deletes are skipped (see Delete).
  ResultObjects(ObjectStore* store, DataClient* held, MetaStore* meta = nullptr,
                int threads = 4);

  // Whether results kept in an object store can be read and deleted.
  bool has_store() const { return store_ != nullptr; }

  // Reads the object `ref` names and checks it against the size and
  // CRC-32C recorded with it (DATA_LOSS when they differ). `done` runs on
  // one of this object's threads.
  void Read(v1::ObjectRef ref, ReadDone done);

  // Bytes [offset, offset + length) of the object `ref` names, for a
  // stream that checks the CRC-32C itself once it has read them all.
  using RangeDone = absl::AnyInvocable<void(absl::StatusOr<std::string>)>;
  void ReadRange(v1::ObjectRef ref, uint64_t offset, uint64_t length,
                 RangeDone done);

  // Deletes the objects kept in the object store, in the background
  // (held ones are released by the scheduler, not here). A failure is logged
  // and the object left behind: it costs storage, not correctness (nothing
  // refers to it any more); an S3 lifecycle rule on the prefix is the backstop.
  void Delete(std::vector<v1::ObjectRef> refs);

  // For people: where the objects are.
  std::string Describe() const {
    return store_ != nullptr ? store_->Describe() : "no object store";
  }

 private:
  // The read for a ref with a holder, or an error when there is none.
  absl::StatusOr<StoredObject> ReadHeld(const v1::ObjectRef& ref);
  absl::StatusOr<std::string> ReadHeldRange(const v1::ObjectRef& ref,
                                            uint64_t offset, uint64_t length);
  // Whether a held output that `read` did not find is to be read from
  // dagd's store instead (copied there, then freed on its holder).
  bool MovedToStore(const v1::ObjectRef& ref, const absl::Status& read) const;
  // The same for an output dagd stored itself (ObjectRef.stored).
  absl::StatusOr<std::string> ReadStoredRange(const v1::ObjectRef& ref,
                                              uint64_t offset, uint64_t length);
  absl::StatusOr<StoredObject> ReadStored(const v1::ObjectRef& ref);

  // The same from the object store.
  absl::StatusOr<StoredObject> ReadBucket(const v1::ObjectRef& ref);
  absl::StatusOr<std::string> ReadBucketRange(const v1::ObjectRef& ref,
                                              uint64_t offset, uint64_t length);

  ObjectStore* const store_;
  DataClient* const held_;
  MetaStore* const meta_;
  BackgroundQueue queue_;
};

}  // namespace dagd

#endif  // DAGD_SERVER_RESULT_OBJECTS_H_
