#include "client/dagctl/exit_code.h"

namespace dagd::dagctl {

ExitCode ExitCodeForStatus(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return kExitUsage;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return kExitUnreachable;
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      return kExitDenied;
    default:
      return kExitServerError;
  }
}

ExitCode ExitCodeForJobState(v1::JobState state) {
  return state == v1::JOB_FAILED || state == v1::JOB_CANCELLED ? kExitJobFailed
                                                               : kExitOk;
}

}  // namespace dagd::dagctl
