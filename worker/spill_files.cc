#include "worker/spill_files.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "storage/base/large_buffer.h"
#include "worker/temp_dir.h"

namespace dagd {
namespace {

// The status for a failed system call on `path`: a full disk or quota is
// RESOURCE_EXHAUSTED (more memory or disk helps), the rest INTERNAL.
absl::Status Errno(absl::string_view what, const std::string& path, int error) {
  std::string message =
      absl::StrCat("cannot ", what, " ", path, ": ", strerror(error));
  if (error == ENOSPC || error == EDQUOT) {
    return absl::ResourceExhaustedError(std::move(message));
  }
  if (error == ENOENT) return absl::NotFoundError(std::move(message));
  return absl::InternalError(std::move(message));
}

class SpillDirectory : public SpillFiles {
 public:
  explicit SpillDirectory(std::unique_ptr<TempDir> dir)
      : dir_(std::move(dir)) {}

  absl::Status Write(uint64_t id, absl::string_view data) override {
    const std::string path = PathOf(id);
    const int fd =
        open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return Errno("create", path, errno);
    size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = write(fd, data.data() + done, data.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        const int error = errno;
        close(fd);
        unlink(path.c_str());
        return Errno("write", path, error);
      }
      done += static_cast<size_t>(n);
    }
    // No fsync: a spill file is worth nothing after the process ends.
    if (close(fd) != 0) {
      const int error = errno;
      unlink(path.c_str());
      return Errno("write", path, error);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> Read(uint64_t id, uint64_t size) override {
    const std::string path = PathOf(id);
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Errno("open", path, errno);
    struct stat info;
    if (fstat(fd, &info) != 0) {
      const int error = errno;
      close(fd);
      return Errno("stat", path, error);
    }
    if (static_cast<uint64_t>(info.st_size) != size) {
      close(fd);
      return absl::DataLossError(absl::StrCat(
          "spill file ", path, " is ", info.st_size, " bytes, not ", size));
    }
    std::string data = LargeString(size);
    data.resize(size);
    const absl::Status read = ReadFully(fd, path, 0, data);
    close(fd);
    if (!read.ok()) return read;
    return data;
  }

  absl::StatusOr<std::string> ReadAt(uint64_t id, uint64_t offset,
                                     uint64_t length) override {
    const std::string path = PathOf(id);
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Errno("open", path, errno);
    std::string data(length, '\0');
    const absl::Status read = ReadFully(fd, path, offset, data);
    close(fd);
    if (!read.ok()) return read;
    return data;
  }

  void Remove(uint64_t id) override { unlink(PathOf(id).c_str()); }

  std::string Describe() const override { return dir_->path(); }

 private:
  // Fills `data` from `fd` at `offset`; DATA_LOSS when the file ends
  // first.
  static absl::Status ReadFully(int fd, const std::string& path,
                                uint64_t offset, std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
      const ssize_t n =
          pread(fd, data.data() + done, data.size() - done, offset + done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Errno("read", path, errno);
      if (n == 0) {
        return absl::DataLossError(
            absl::StrCat("spill file ", path, " ends at ", offset + done,
                         " bytes, before ", offset + data.size()));
      }
      done += static_cast<size_t>(n);
    }
    return absl::OkStatus();
  }

  std::string PathOf(uint64_t id) const {
    return absl::StrCat(dir_->path(), "/", id);
  }

  const std::unique_ptr<TempDir> dir_;  // removed with its files at the end
};

}  // namespace

absl::StatusOr<std::unique_ptr<SpillFiles>> MakeSpillDirectory(
    const std::string& parent) {
  absl::StatusOr<std::unique_ptr<TempDir>> dir =
      parent.empty() ? TempDir::Create("dagd-spill-")
                     : TempDir::CreateIn(parent, "dagd-spill-");
  if (!dir.ok()) return dir.status();
  return std::make_unique<SpillDirectory>(*std::move(dir));
}

}  // namespace dagd
