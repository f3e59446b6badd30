#include "server/dashboard/dashboard_json.h"

#include <algorithm>
#include <array>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "server/dashboard/task_stream.h"

namespace dagd {
namespace {

constexpr size_t kTaskStates = 9;  // TaskState values, UNSPECIFIED included

void WriteCounts(const std::array<uint32_t, kTaskStates>& counts,
                 JsonWriter& out) {
  out.BeginObject();
  for (size_t s = 1; s < kTaskStates; ++s) {
    if (counts[s] == 0) continue;
    out.Key(ShortName(static_cast<v1::TaskState>(s))).Int(counts[s]);
  }
  out.EndObject();
}

size_t StateIndex(v1::TaskState state) {
  const size_t s = static_cast<size_t>(state);
  return s < kTaskStates ? s : 0;
}

}  // namespace

std::string ShortName(v1::JobState state) {
  return std::string(absl::StripPrefix(v1::JobState_Name(state), "JOB_"));
}

std::string ShortName(v1::TaskState state) {
  return std::string(absl::StripPrefix(v1::TaskState_Name(state), "TASK_"));
}

void WriteJob(const v1::JobStatus& job, JsonWriter& out) {
  out.BeginObject();
  out.Key("id").String(job.job_id());
  out.Key("name").String(job.name());
  out.Key("tenant").String(job.tenant());
  out.Key("state").String(ShortName(job.state()));
  out.Key("priority").Int(job.priority());
  out.Key("total").Int(job.total_tasks());
  out.Key("counts").BeginObject();
  for (const v1::TaskStateCount& count : job.counts()) {
    if (count.count() == 0) continue;
    out.Key(ShortName(count.state())).Int(count.count());
  }
  out.EndObject();
  out.Key("submitted").Millis(job.submitted_at());
  out.Key("started").Millis(job.started_at());
  out.Key("finished").Millis(job.finished_at());
  out.Key("error").String(job.error());
  out.Key("failures").BeginArray();
  for (const v1::TaskNote& note : job.failures()) {
    out.BeginObject().Key("task").String(note.task_id());
    out.Key("text").String(note.text()).EndObject();
  }
  out.EndArray();
  out.EndObject();
}

std::string JobJson(const v1::JobStatus& job) {
  JsonWriter out;
  WriteJob(job, out);
  return out.Take();
}

std::string JobsJson(const std::vector<v1::JobStatus>& jobs,
                     const std::string& next_page_token) {
  JsonWriter out;
  out.BeginObject().Key("jobs").BeginArray();
  for (const v1::JobStatus& job : jobs) WriteJob(job, out);
  out.EndArray();
  out.Key("next_page_token").String(next_page_token);
  out.EndObject();
  return out.Take();
}

std::string JobsJson(const v1::ListJobsResponse& jobs) {
  return JobsJson({jobs.jobs().begin(), jobs.jobs().end()},
                  jobs.next_page_token());
}

std::string WorkersJson(const v1::ListWorkersResponse& workers) {
  JsonWriter out;
  out.BeginObject().Key("workers").BeginArray();
  for (const v1::WorkerInfo& w : workers.workers()) {
    out.BeginObject();
    out.Key("id").String(w.worker_id());
    out.Key("name").String(w.name());
    out.Key("pool").String(w.pool());
    out.Key("slots").Int(w.slots());
    out.Key("busy").Int(w.busy_slots());
    out.Key("tasks_finished").Int(static_cast<int64_t>(w.tasks_finished()));
    out.Key("draining").Bool(w.draining());
    out.Key("labels").BeginObject();
    // Sorted: a map's order would change the page from one answer to the
    // next.
    std::vector<std::pair<std::string, std::string>> labels(w.labels().begin(),
                                                            w.labels().end());
    std::sort(labels.begin(), labels.end());
    for (const auto& [key, value] : labels) out.Key(key).String(value);
    out.EndObject();
    out.Key("functions").Int(w.functions_size());
    out.Key("runtimes").BeginArray();
    for (const std::string& runtime : w.runtimes()) out.String(runtime);
    out.EndArray();
    out.Key("held_bytes").Int(static_cast<int64_t>(w.held_bytes()));
    out.Key("spilled_bytes").Int(static_cast<int64_t>(w.spilled_bytes()));
    out.Key("connected").Millis(w.connected_at());
    out.Key("last_seen").Millis(w.last_seen());
    out.Key("peer").String(w.peer());
    out.EndObject();
  }
  out.EndArray().EndObject();
  return out.Take();
}

std::string GraphJson(const TaskSnapshot& snapshot) {
  const JobLayout& layout = *snapshot.layout;
  const std::vector<v1::TaskStatus>& tasks = snapshot.tasks;
  JsonWriter out;
  out.BeginObject();
  if (tasks.size() <= kMaxDrawnTasks) {
    out.Key("grouped").Bool(false).Key("nodes").BeginArray();
    for (size_t i = 0; i < tasks.size(); ++i) {
      out.BeginObject();
      out.Key("id").String(tasks[i].task_id());
      out.Key("fn").String(tasks[i].fn());
      out.Key("state").String(ShortName(tasks[i].state()));
      out.Key("depth").Int(layout.depth(i));
      out.EndObject();
    }
    out.EndArray().Key("edges").BeginArray();
    for (const auto& [from, to] : layout.edges()) {
      out.BeginArray().Int(from).Int(to).EndArray();
    }
    out.EndArray();
  } else {
    out.Key("grouped").Bool(true).Key("groups").BeginArray();
    for (const JobLayout::Group& group : layout.groups()) {
      std::array<uint32_t, kTaskStates> counts{};
      for (uint32_t task : group.tasks) {
        ++counts[StateIndex(tasks[task].state())];
      }
      out.BeginObject();
      out.Key("fn").String(group.fn);
      out.Key("depth").Int(group.depth);
      out.Key("total").Int(group.tasks.size());
      out.Key("counts");
      WriteCounts(counts, out);
      out.EndObject();
    }
    out.EndArray().Key("edges").BeginArray();
    for (const JobLayout::GroupEdge& edge : layout.group_edges()) {
      out.BeginArray().Int(edge.from).Int(edge.to).Int(edge.count).EndArray();
    }
    out.EndArray();
  }
  out.Key("tasks").Int(tasks.size());
  out.EndObject();
  return out.Take();
}

std::string StreamJson(const TaskSnapshot& snapshot, size_t limit) {
  TaskStream stream = BuildTaskStream(snapshot.tasks, limit);
  JsonWriter out;
  out.BeginObject().Key("bars").BeginArray();
  for (const StreamBar& bar : stream.bars) {
    const v1::TaskStatus& task = snapshot.tasks[bar.task];
    out.BeginObject();
    out.Key("task").String(task.task_id());
    out.Key("fn").String(task.fn());
    out.Key("attempt").Int(bar.attempt);
    out.Key("worker").String(bar.worker);
    out.Key("row").Int(bar.row);
    out.Key("start").Int(bar.start_ms);
    out.Key("end");
    if (bar.end_ms < 0) {
      out.Null();
    } else {
      out.Int(bar.end_ms);
    }
    out.Key("failed").Bool(bar.failed);
    out.EndObject();
  }
  out.EndArray().Key("workers").BeginArray();
  for (const auto& [worker, rows] : stream.workers) {
    out.BeginObject().Key("id").String(worker).Key("rows").Int(rows);
    out.EndObject();
  }
  out.EndArray();
  out.Key("omitted").Int(stream.omitted);
  out.EndObject();
  return out.Take();
}

std::string WhoamiJson(const Principal& caller, bool identities) {
  JsonWriter out;
  out.BeginObject();
  out.Key("identities").Bool(identities);
  out.Key("name").String(caller.name);
  out.Key("tenant").String(caller.tenant);
  out.Key("role").String(RoleName(caller.role));
  out.EndObject();
  return out.Take();
}

int HttpCode(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAlreadyExists:
      return 409;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    case absl::StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

std::string ErrorJson(int http_code, const absl::Status& status,
                      absl::string_view field) {
  JsonWriter out;
  out.BeginObject().Key("error").BeginObject();
  out.Key("code").Int(http_code);
  out.Key("status").String(absl::StatusCodeToString(status.code()));
  out.Key("field").String(field);
  out.Key("message").String(status.message());
  out.EndObject().EndObject();
  return out.Take();
}

}  // namespace dagd
