// A private directory that is removed with everything in it when the object
// goes away; one per exec attempt, so attempts never see each other's files.
#ifndef DAGD_WORKER_TEMP_DIR_H_
#define DAGD_WORKER_TEMP_DIR_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dagd {

class TempDir {
 public:
  // Creates "<$TMPDIR or /tmp>/<prefix>XXXXXX" with mode 0700.
  static absl::StatusOr<std::unique_ptr<TempDir>> Create(
      absl::string_view prefix);
  // Creates "<parent>/<prefix>XXXXXX" with mode 0700; `parent` must exist.
  static absl::StatusOr<std::unique_ptr<TempDir>> CreateIn(
      absl::string_view parent, absl::string_view prefix);
  ~TempDir();

  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  const std::string path_;
};

// Reads a whole regular file, never following a symbolic link in its last
// component: a task's program may have put a link to a file only the
// worker may read where its output goes (under --exec_user it owns the
// folder), or a FIFO, which would block the read for good, or a device.
// NOT_FOUND if it does not exist; FAILED_PRECONDITION naming it if it is
// no regular file; OUT_OF_RANGE if it is (or grows, as it is read) larger
// than `max_bytes`; RESOURCE_EXHAUSTED if larger than the memory this worker
// may use
// (`max_bytes` 0: that is the only limit).
absl::StatusOr<std::string> ReadFile(const std::string& path,
                                     uint64_t max_bytes = 0);
// Reads at most the last `max_bytes` of a regular file, as ReadFile
// opens it ("" if it does not exist or is no regular file).
std::string ReadFileTail(const std::string& path, size_t max_bytes);
// Creates or truncates `path` and writes `data` to it.
absl::Status WriteFile(const std::string& path, absl::string_view data);

}  // namespace dagd

#endif  // DAGD_WORKER_TEMP_DIR_H_
