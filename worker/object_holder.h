// The results this worker holds for dagd: outputs over the inline limit
// stay on the worker that made them (Holder in types.proto) until dagd
// releases them (CoordinatorBatch.release). They live in memory up to a
// byte budget (--object_memory); beyond it the least recently used ones are
// spilled to files (--spill_dir) and read back on demand. Peers read them
// through the DataService (worker/data_service.h); this worker's own tasks
// read them in place.
#ifndef DAGD_WORKER_OBJECT_HOLDER_H_
#define DAGD_WORKER_OBJECT_HOLDER_H_

#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "worker/spill_files.h"

namespace dagd {

// One held object as a reader sees it. `data` is shared with the holder
// (never copied for a reader) and stays valid for as long as the reader
// keeps it, even once the holder spilled or released the object.
struct HeldObject {
  std::shared_ptr<const std::string> data;
  std::string content_type;
  uint32_t crc32c = 0;  // of *data, Castagnoli
};

// What is known of a held object without reading it.
struct HeldInfo {
  uint64_t size = 0;
  std::string content_type;
  uint32_t crc32c = 0;
};

struct ObjectHolderStats {
  uint64_t objects = 0;
  uint64_t memory_bytes = 0;   // of objects in memory
  uint64_t spilled_bytes = 0;  // of objects in spill files
  // Of every object, wherever it is (one both in memory and in its spill
  // file, after a read brought it back, counts once).
  uint64_t held_bytes = 0;
  uint64_t spills = 0;    // objects written to a spill file, ever
  uint64_t restores = 0;  // objects read back from one, ever
};

// Thread-safe: task threads Put and Get, the data service's threads Get,
// the stream reader Releases, the heartbeat reads stats.
//
// Memory: objects in memory count against `memory_limit` until they are
// spilled; a reader still holding an evicted object's bytes keeps them
// alive outside that count. An object larger than the whole budget goes
// straight to its file and is never kept in memory. Spill files are
// written and read without the lock held, so a large spill never stalls
// other readers; an object being spilled is still served from memory.
// A spilled object that is read comes back into memory (as the most
// recently used) and keeps its file, so spilling it again costs no write.
class ObjectHolder {
 public:
  // `spill` receives what does not fit in `memory_limit` bytes.
  ObjectHolder(uint64_t memory_limit, std::unique_ptr<SpillFiles> spill);
  // Removes every spill file.
  ~ObjectHolder();
  ObjectHolder(const ObjectHolder&) = delete;
  ObjectHolder& operator=(const ObjectHolder&) = delete;

  // Holds `data` under `key` (replacing an object held under it), then
  // spills the least recently used objects until memory is within the
  // budget. Returns the object as held, with its CRC-32C. When spilling
  // fails and memory stays over the budget, the object is not held:
  // RESOURCE_EXHAUSTED naming the spill directory and the reason.
  absl::StatusOr<HeldObject> Put(const std::string& key, std::string data,
                                 std::string content_type);

  // The object under `key`, read back from its spill file if need be (a
  // blocking read, checked against the CRC-32C taken at Put: DATA_LOSS on a
  // mismatch). NOT_FOUND when no object is held under `key`. Readers of a
  // spilled object while it is read back wait for that one read and share
  // its bytes, and so do later ones while any reader still has them: a
  // thousand readers of a 1 GiB object hold 1 GiB, not 1 TiB.
  absl::StatusOr<HeldObject> Get(const std::string& key);

  // Like Get, but never reads a file: nullopt unless the object is in
  // memory now (held, or a reader's bytes). For callers that must not
  // block (gRPC reactions).
  std::optional<HeldObject> GetIfInMemory(const std::string& key);

  // Size and content type of the object under `key`, without reading it;
  // NOT_FOUND when none is held. Never blocks on a file.
  absl::StatusOr<HeldInfo> Stat(const std::string& key) const;

  // Bytes [offset, offset + length) of the object under `key` (fewer at
  // its end): copied from memory, or read from its spill file alone,
  // without bringing the whole object back (a blocking read; no CRC check,
  // which covers whole objects: the reader checks it). NOT_FOUND when none
  // is held or it is released meanwhile; OUT_OF_RANGE past the end.
  absl::StatusOr<std::string> ReadRange(const std::string& key, uint64_t offset,
                                        uint64_t length);

  // Frees the object's memory and file. Releasing a key not held is a
  // no-op.
  void Release(const std::string& key);

  // Keys of every object held (Register.held), in no order.
  std::vector<std::string> Keys() const;

  ObjectHolderStats stats() const;
  const std::string& spill_location() const { return spill_location_; }
  uint64_t memory_limit() const { return memory_limit_; }

 private:
  // Why reading spill file `id` of `key` failed (`read`): the key was
  // released meanwhile (NOT_FOUND), or the file could not be read.
  absl::Status SpillReadError(const std::string& key, uint64_t id,
                              const absl::Status& read);
  // One read of a spilled object back into memory, which the readers
  // that come while it is under way wait for.
  struct Load {
    absl::Notification done;
    absl::StatusOr<HeldObject> object;  // set before done
  };
  struct Entry {
    std::shared_ptr<Load> loading;  // its file is being read back
    // Its bytes, while some reader has them and `data` is null (dropped
    // from memory, or never kept: over the whole budget).
    std::weak_ptr<const std::string> shared;
    uint64_t id = 0;  // its spill file; unique per Put, so a replaced or
                      // released object's late spill never hits a new one
    uint64_t size = 0;
    std::string content_type;
    uint32_t crc32c = 0;
    std::shared_ptr<const std::string> data;  // null: only in its file
    bool on_disk = false;                     // its file is complete
    bool spilling = false;  // its file is being written (data still set)
    std::list<std::string>::iterator lru;  // valid when in lru_
  };

  // Spills least recently used objects until memory is within the budget.
  // An error: a write failed, and memory may still be over the budget.
  absl::Status Evict() ABSL_LOCKS_EXCLUDED(mu_);
  // Writes `data` to file `id` outside the lock, then records the outcome
  // for `key` (if still the same object).
  absl::Status Spill(const std::string& key, uint64_t id,
                     std::shared_ptr<const std::string> data)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Drops `entry` from memory accounting and the LRU list.
  void DropFromMemory(Entry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes `key` out of the counts and the map; returns the id of its spill
  // file to remove (outside the lock), if it has one.
  std::optional<uint64_t> Forget(const std::string& key)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Touch(Entry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Get's read of spill file `id` of `key`, for its Load's readers:
  // checked, and kept in memory if it fits (then `*restored`: the caller
  // evicts what made room).
  absl::StatusOr<HeldObject> ReadBack(const std::string& key, uint64_t id,
                                      uint64_t size, uint32_t crc,
                                      std::string content_type, bool* restored)
      ABSL_LOCKS_EXCLUDED(mu_);
  static HeldObject ObjectOf(const Entry& entry);
  // The bytes a reader still has of an object out of memory, if any.
  static std::optional<HeldObject> SharedOf(const Entry& entry);

  const uint64_t memory_limit_;
  const std::unique_ptr<SpillFiles> spill_;
  const std::string spill_location_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  // Keys of objects in memory and not being spilled, most recently used
  // first: eviction takes from the back.
  std::list<std::string> lru_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t memory_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // data set, spilling too
  uint64_t spilling_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t spilled_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // on_disk
  uint64_t held_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t spills_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t restores_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace dagd

#endif  // DAGD_WORKER_OBJECT_HOLDER_H_
