// Reading the files dagd's flags name (--tokens_file, --policy_file).
#ifndef DAGD_SERVER_AUTH_READ_FILE_H_
#define DAGD_SERVER_AUTH_READ_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dagd {

// The whole file at `path`. NOT_FOUND or PERMISSION_DENIED naming `flag`,
// the path and the system's reason when it cannot be read.
absl::StatusOr<std::string> ReadFlagFile(absl::string_view flag,
                                         const std::string& path);

}  // namespace dagd

#endif  // DAGD_SERVER_AUTH_READ_FILE_H_
