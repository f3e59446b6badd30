// Reading job files: the proto3 JSON mapping of dagd.v1.JobSpec.
//
// Parsing is Protobuf's own JSON support; this file only turns its terse
// errors into ones a user can act on: the line and column of a syntax error,
// the name (and task) of an unknown field.
#ifndef DAGD_CLIENT_JOB_FILE_H_
#define DAGD_CLIENT_JOB_FILE_H_

#include <istream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dagd/v1/types.pb.h"

namespace dagd {

// Parses a JSON job. Unknown fields are rejected. Every error is
// INVALID_ARGUMENT, and its message says where the problem is:
//   "line 4, column 17: expected ',' or '}', found '\"'"
//   "unknown field \"argz\" in tasks[2] (task \"sum\"); known fields: ..."
// Graph checks (unique ids, resolvable inputs, cycles) are the server's.
absl::StatusOr<v1::JobSpec> ParseJobSpecJson(absl::string_view text);

// Reads and parses the job file at `path`; "-" reads `stdin_stream`. Errors
// start with the path ("<stdin>" for "-"). A file that cannot be opened keeps
// the errno-derived code (NOT_FOUND for a missing file).
absl::StatusOr<v1::JobSpec> ReadJobFile(const std::string& path,
                                        std::istream& stdin_stream);
// As above, with the process's standard input for "-".
absl::StatusOr<v1::JobSpec> ReadJobFile(const std::string& path);

}  // namespace dagd

#endif  // DAGD_CLIENT_JOB_FILE_H_
