#include "worker/temp_dir.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/base/large_buffer.h"

namespace dagd {

absl::StatusOr<std::unique_ptr<TempDir>> TempDir::Create(
    absl::string_view prefix) {
  const char* base = getenv("TMPDIR");
  return CreateIn(base != nullptr && *base != '\0' ? base : "/tmp", prefix);
}

absl::StatusOr<std::unique_ptr<TempDir>> TempDir::CreateIn(
    absl::string_view parent, absl::string_view prefix) {
  std::string pattern = absl::StrCat(parent, "/", prefix, "XXXXXX");
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (mkdtemp(buffer.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("cannot create a directory like ",
                                            pattern, ": ", strerror(errno)));
  }
  return std::unique_ptr<TempDir>(new TempDir(buffer.data()));
}

TempDir::~TempDir() {
  std::error_code ignored;  // best effort: a leftover dir is not worth a crash
  std::filesystem::remove_all(path_, ignored);
}

namespace {

// An open regular file (ReadFile's rules), closed when it goes.
class RegularFile {
 public:
  // `max_bytes` 0: the memory this worker may use.
  static absl::StatusOr<RegularFile> Open(const std::string& path,
                                          uint64_t max_bytes = 0) {
    // O_NONBLOCK: opening a FIFO must not wait for a writer.
    const int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
                                          O_CLOEXEC | O_NOCTTY);
    if (fd < 0 && errno == ENOENT) {
      return absl::NotFoundError(absl::StrCat("cannot read ", path));
    }
    RegularFile file(fd);
    struct stat st;
    // One name only: a hard link to another's file is refused too.
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        st.st_nlink != 1) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " is not a regular file of one name (",
                       fd < 0 ? strerror(errno) : "a link, FIFO or device",
                       "): the worker does not read it"));
    }
    // What this worker cannot hold is not read (a sparse file of a
    // terabyte costs its writer nothing).
    if (static_cast<uint64_t>(st.st_size) > MemoryLimitBytes()) {
      return absl::ResourceExhaustedError(
          absl::StrCat(path, " is ", st.st_size,
                       " bytes, more than the memory this worker may use"));
    }
    if (max_bytes != 0 && static_cast<uint64_t>(st.st_size) > max_bytes) {
      return absl::OutOfRangeError(absl::StrCat(
          path, " is ", st.st_size, " bytes, over the limit of ", max_bytes));
    }
    file.size_ = st.st_size;
    file.max_bytes_ = max_bytes;
    return file;
  }
  RegularFile(RegularFile&& other) noexcept
      : fd_(std::exchange(other.fd_, -1)),
        size_(other.size_),
        max_bytes_(other.max_bytes_) {}
  RegularFile& operator=(RegularFile&&) = delete;
  ~RegularFile() {
    if (fd_ >= 0) close(fd_);
  }

  off_t size() const { return size_; }
  // Appends what is left from `offset` to `out`, up to the memory this
  // worker may use (a file that grows as it is read is not followed
  // further).
  absl::Status ReadFrom(off_t offset, std::string& out) const {
    char buffer[64 << 10];
    for (;;) {
      const ssize_t n = pread(fd_, buffer, sizeof(buffer), offset);
      if (n == 0) return absl::OkStatus();
      if (n < 0) {
        if (errno == EINTR) continue;
        return absl::InternalError(absl::StrCat("read: ", strerror(errno)));
      }
      if (out.size() + n > MemoryLimitBytes()) {
        return absl::ResourceExhaustedError(
            "it grew past the memory this worker may use as it was read");
      }
      if (max_bytes_ != 0 && out.size() + n > max_bytes_) {
        return absl::OutOfRangeError(absl::StrCat(
            "it grew, as it was read, past the limit of ", max_bytes_));
      }
      out.append(buffer, n);
      offset += n;
    }
  }

 private:
  explicit RegularFile(int fd) : fd_(fd) {}
  int fd_;
  off_t size_ = 0;
  uint64_t max_bytes_ = 0;  // 0: none
};

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path,
                                     uint64_t max_bytes) {
  absl::StatusOr<RegularFile> file = RegularFile::Open(path, max_bytes);
  if (!file.ok()) return file.status();
  std::string contents;
  if (absl::Status s = file->ReadFrom(0, contents); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat(path, ": ", s.message()));
  }
  return contents;
}

std::string ReadFileTail(const std::string& path, size_t max_bytes) {
  absl::StatusOr<RegularFile> file = RegularFile::Open(path);
  if (!file.ok()) return "";
  const off_t size = file->size();
  const off_t start =
      size > static_cast<off_t>(max_bytes) ? size - max_bytes : 0;
  std::string tail;
  if (!file->ReadFrom(start, tail).ok()) return "";
  if (tail.size() > max_bytes) tail.erase(0, tail.size() - max_bytes);
  return tail;
}

absl::Status WriteFile(const std::string& path, absl::string_view data) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(data.data(), data.size());
  file.close();
  if (!file) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace dagd
