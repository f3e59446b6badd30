#include "server/auth/read_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace dagd {

absl::StatusOr<std::string> ReadFlagFile(absl::string_view flag,
                                         const std::string& path) {
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
  return text.str();
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
