// Reading the files dagd's flags name (--tokens_file, --policy_file): one
// entry per line, whitespace-separated fields, `#` starting a comment.
#ifndef DAGD_SERVER_AUTH_READ_FILE_H_
#define DAGD_SERVER_AUTH_READ_FILE_H_

#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dagd {

// The whole file at `path`. NOT_FOUND or PERMISSION_DENIED naming `flag`,
// the path and the system's reason when it cannot be read, INVALID_ARGUMENT
// for a directory.
absl::StatusOr<std::string> ReadFlagFile(absl::string_view flag,
                                         const std::string& path);

// For a file reread on SIGHUP: FAILED_PRECONDITION when `text` is empty or
// whitespace alone, most likely a file caught between its truncation and
// its writing (taking it would drop every entry in use). A file meant to
// hold no entries can say so with a comment.
absl::Status RefuseEmptyReread(absl::string_view flag, const std::string& path,
                               absl::string_view text);

// One line of such a file that holds fields.
struct FileLine {
  absl::string_view source;  // e.g. "--tokens_file '/etc/dagd/tokens'"
  int number = 0;            // from 1
  std::vector<absl::string_view> fields;
  // INVALID_ARGUMENT "SOURCE line NUMBER: WHAT".
  absl::Status Error(absl::string_view what) const;
};

// Calls `take` with each line of `text` that holds fields, in order, and
// stops at the first error it returns.
absl::Status ForEachLine(absl::string_view text, absl::string_view source,
                         absl::FunctionRef<absl::Status(const FileLine&)> take);

}  // namespace dagd

#endif  // DAGD_SERVER_AUTH_READ_FILE_H_
