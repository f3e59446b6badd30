// dagctl's exit codes, so scripts can tell a failed job from a typo from a
// server that is down.
#ifndef DAGD_CLIENT_DAGCTL_EXIT_CODE_H_
#define DAGD_CLIENT_DAGCTL_EXIT_CODE_H_

#include "absl/status/status.h"
#include "dagd/v1/types.pb.h"

namespace dagd::dagctl {

enum ExitCode : int {
  kExitOk = 0,
  kExitJobFailed = 1,    // the job FAILED or was CANCELLED
  kExitUsage = 2,        // bad usage, invalid job, unknown job or task
  kExitUnreachable = 3,  // UNAVAILABLE, DEADLINE_EXCEEDED
  kExitServerError = 4,  // any other error (INTERNAL, RESOURCE_EXHAUSTED...)
  kExitDenied = 5,       // UNAUTHENTICATED, PERMISSION_DENIED
};

// The exit code for a failed call. The caller's input was wrong
// (INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION,
// OUT_OF_RANGE) → kExitUsage; the server could not be reached or did not
// answer in time → kExitUnreachable; the caller's token is missing, unknown
// or not allowed to → kExitDenied; OK → kExitOk.
ExitCode ExitCodeForStatus(const absl::Status& status);

// kExitJobFailed for FAILED and CANCELLED, kExitOk for every other state.
ExitCode ExitCodeForJobState(v1::JobState state);

}  // namespace dagd::dagctl

#endif  // DAGD_CLIENT_DAGCTL_EXIT_CODE_H_
