#include "server/auth/read_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace dagd {

absl::StatusOr<std::string> ReadFlagFile(absl::string_view flag,
                                         const std::string& path) {
  // A directory opens as a stream that reads as empty: no entries at all.
  struct stat info;
  if (stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " '", path, "' is a directory, not a file"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int error = errno;
    std::string message = absl::StrCat("--", flag, " '", path,
                                       "': cannot read: ", strerror(error));
    if (error == EACCES) return absl::PermissionDeniedError(message);
    return absl::NotFoundError(message);
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return absl::UnavailableError(
        absl::StrCat("--", flag, " '", path, "': reading failed"));
  }
  return text.str();
}

absl::Status RefuseEmptyReread(absl::string_view flag, const std::string& path,
                               absl::string_view text) {
  if (!absl::StripAsciiWhitespace(text).empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "--", flag, " '", path,
      "' is empty (being written? write a new file and rename it over the "
      "old one); to leave it without entries, write a comment line"));
}

absl::Status FileLine::Error(absl::string_view what) const {
  return absl::InvalidArgumentError(
      absl::StrCat(source, " line ", number, ": ", what));
}

absl::Status ForEachLine(
    absl::string_view text, absl::string_view source,
    absl::FunctionRef<absl::Status(const FileLine&)> take) {
  FileLine line;
  line.source = source;
  for (absl::string_view raw : absl::StrSplit(text, '\n')) {
    ++line.number;
    if (size_t hash = raw.find('#'); hash != absl::string_view::npos) {
      raw = raw.substr(0, hash);
    }
    line.fields =
        absl::StrSplit(raw, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (line.fields.empty()) continue;
    if (absl::Status s = take(line); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace dagd
