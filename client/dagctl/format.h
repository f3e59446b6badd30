// dagctl's output: pure functions from responses to text, kept apart from
// the commands so tests check the exact text without a server.
#ifndef DAGD_CLIENT_DAGCTL_FORMAT_H_
#define DAGD_CLIENT_DAGCTL_FORMAT_H_

#include <google/protobuf/message.h>
#include <google/protobuf/timestamp.pb.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "client/dagctl/progress.h"
#include "dagd/v1/job_service.pb.h"

namespace dagd::dagctl {

// "SUCCEEDED", "UPSTREAM_FAILED": the enum names without their prefixes.
std::string JobStateName(v1::JobState state);
std::string TaskStateName(v1::TaskState state);

// UTC, to the second: "2024-05-01 12:00:03Z"; "-" when unset.
std::string FormatTimestamp(const google::protobuf::Timestamp& t);
// "850ms", "12.3s", "2m5s", "1h2m".
std::string FormatElapsed(absl::Duration d);
// From started_at (else submitted_at) to finished_at (else `now`).
absl::Duration JobElapsed(const v1::JobStatus& status, absl::Time now);
// Tasks in a terminal state, from the counts.
uint32_t DoneTasks(const v1::JobStatus& status);

// The proto3 JSON mapping on one line, fields with default values included
// so scripts need not know proto3's defaults.
std::string ToJson(const google::protobuf::Message& message);

// Columns separated by two spaces; the first row is the header.
std::string FormatTable(const std::vector<std::vector<std::string>>& rows);

// `dagctl status`: a block of "key  value" lines, then failed and waiting
// tasks.
std::string FormatJobStatus(const v1::JobStatus& status, absl::Time now);
// One line for `dagctl watch`:
// "RUNNING  1200/2047 done  4 running  0 failed  12.3s".
std::string FormatProgress(const Progress& progress, absl::Duration elapsed);
// The line `watch` redraws on a terminal:
// "[#########-----------] 45% 920/2047 done  12 running  1 failed  elapsed
// 3.2s  ETA 3.9s". The bar is `bar_width` characters between the brackets;
// it and the percentage are rounded, but show full only when every task is
// done. A missing `eta` shows as "ETA -".
inline constexpr int kProgressBarWidth = 20;
std::string FormatProgressBar(const Progress& progress, absl::Duration elapsed,
                              std::optional<absl::Duration> eta,
                              int bar_width = kProgressBarWidth);
// The end of `watch` and `submit --wait`: "job j1 SUCCEEDED: 3/3 tasks done
// in 1.2s", then the failed tasks.
std::string FormatOutcome(const v1::JobStatus& status, absl::Time now);

// Text a task wrote (an error: an exec program's stderr, a traceback) as
// dagctl shows it: control characters other than tab and line breaks (ESC,
// CR, BEL) as \xNN, so that it cannot drive the terminal, and each line
// after the first indented by `indent`, so that none passes for a line of
// dagctl's own.
std::string Shown(absl::string_view text, absl::string_view indent);
std::string FormatCancel(const std::string& job_id,
                         const v1::CancelJobResponse& response);
std::string FormatJobsTable(const std::vector<v1::JobStatus>& jobs);
// "512 B", "3.2 MiB", "40 GiB": sizes for people.
std::string FormatBytes(uint64_t bytes);

std::string FormatWorkersTable(const v1::ListWorkersResponse& response);
// Each task on a line, then its waiting reason and one line per attempt.
std::string FormatTasks(const v1::ListTasksResponse& response);

}  // namespace dagd::dagctl

#endif  // DAGD_CLIENT_DAGCTL_FORMAT_H_
