#include "worker/temp_dir.h"

#include <stdlib.h>
#include <string.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"

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

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

std::string ReadFileTail(const std::string& path, size_t max_bytes) {
  std::ifstream file(path, std::ios::binary | std::ios::ate);
  if (!file) return "";
  std::streamoff size = file.tellg();
  std::streamoff start =
      size > static_cast<std::streamoff>(max_bytes) ? size - max_bytes : 0;
  file.seekg(start);
  std::string tail(static_cast<size_t>(size - start), '\0');
  file.read(tail.data(), tail.size());
  tail.resize(file.gcount());
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
