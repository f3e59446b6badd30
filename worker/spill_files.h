// Where the object holder (worker/object_holder.h) puts the objects that do
// not fit in its memory budget: one file per object, named by a number the
// holder gives. Behind an interface so that tests inject a full disk, a
// corrupt file or a slow read (as leveldb's Env does).
#ifndef DAGD_WORKER_SPILL_FILES_H_
#define DAGD_WORKER_SPILL_FILES_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dagd {

// Thread-safe: calls for different ids run at the same time; the holder
// never makes two calls for one id at once, except Remove during a Read
// (the read then still sees the file's bytes, as POSIX keeps an unlinked
// file open).
class SpillFiles {
 public:
  virtual ~SpillFiles() = default;

  // Writes file `id` whole (it does not exist yet). An error names the
  // file and the reason (a full disk: RESOURCE_EXHAUSTED).
  virtual absl::Status Write(uint64_t id, absl::string_view data) = 0;
  // Reads file `id`, which must hold `size` bytes: DATA_LOSS when it is
  // shorter or longer, NOT_FOUND when it is gone.
  virtual absl::StatusOr<std::string> Read(uint64_t id, uint64_t size) = 0;
  // Reads bytes [offset, offset + length) of file `id`, which must be
  // there: DATA_LOSS when the file is shorter, NOT_FOUND when it is gone.
  virtual absl::StatusOr<std::string> ReadAt(uint64_t id, uint64_t offset,
                                             uint64_t length) = 0;
  // Removes file `id`; a missing file is not an error.
  virtual void Remove(uint64_t id) = 0;
  // For messages: the directory.
  virtual std::string Describe() const = 0;
};

// Files in a private directory made now ("dagd-spill-XXXXXX", mode 0700)
// under `parent`, or under $TMPDIR (else /tmp) when `parent` is empty. The
// directory and everything in it is removed when the returned object is
// destroyed. A process killed with -9 leaves it behind.
absl::StatusOr<std::unique_ptr<SpillFiles>> MakeSpillDirectory(
    const std::string& parent);

}  // namespace dagd

#endif  // DAGD_WORKER_SPILL_FILES_H_
