// The dashboard's JSON shapes, from the coordinator's answers. Pure
// functions; the page's JavaScript (server/dashboard/assets/app.js) reads
// exactly these keys.
#ifndef DAGD_SERVER_DASHBOARD_DASHBOARD_JSON_H_
#define DAGD_SERVER_DASHBOARD_DASHBOARD_JSON_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "dagd/v1/job_service.pb.h"
#include "server/auth/principal.h"
#include "server/dashboard/json_writer.h"
#include "server/dashboard/task_cache.h"

namespace dagd {

// "RUNNING" for JOB_RUNNING, "UPSTREAM_FAILED" for TASK_UPSTREAM_FAILED.
std::string ShortName(v1::JobState state);
std::string ShortName(v1::TaskState state);

// {"id","name","tenant","state","priority","total","counts":{STATE:n},"submitted",
//  "started","finished" (ms or null),"error","failures":[{"task","text"}]}
void WriteJob(const v1::JobStatus& job, JsonWriter& out);
std::string JobJson(const v1::JobStatus& job);
// {"jobs":[job...],"next_page_token"}
std::string JobsJson(const std::vector<v1::JobStatus>& jobs,
                     const std::string& next_page_token);
std::string JobsJson(const v1::ListJobsResponse& jobs);
// {"workers":[{"id","name","pool","slots","busy","labels":{},"functions",
//  "runtimes","held_bytes","spilled_bytes","connected","last_seen",
//  "peer"}]}
std::string WorkersJson(const v1::ListWorkersResponse& workers);

// Jobs of up to this many tasks are drawn task by task; larger ones by
// group (function and depth).
inline constexpr size_t kMaxDrawnTasks = 2000;
// Task by task: {"grouped":false,"nodes":[{"id","fn","state","depth"}],
//   "edges":[[from,to]...]}; by group: {"grouped":true,"groups":[{"fn",
//   "depth","total","counts":{STATE:n}}],"edges":[[from,to,count]...]}.
std::string GraphJson(const TaskSnapshot& snapshot);
// {"bars":[{"task","fn","attempt","worker","row","start","end"(null while
//  running),"failed"}],"workers":[{"id","rows"}],"omitted"}
std::string StreamJson(const TaskSnapshot& snapshot, size_t limit);

// {"identities":bool,"name","tenant","role"}: who the page is, and whether
// dagd has identities at all (--tokens_file).
std::string WhoamiJson(const Principal& caller, bool identities);

// {"error":{"code":404,"status":"NOT_FOUND","field":"job_id","message"}}
std::string ErrorJson(int http_code, const absl::Status& status,
                      absl::string_view field);
// The HTTP code for a status from the coordinator.
int HttpCode(const absl::Status& status);

}  // namespace dagd

#endif  // DAGD_SERVER_DASHBOARD_DASHBOARD_JSON_H_
