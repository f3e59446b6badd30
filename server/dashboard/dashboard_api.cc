#include "server/dashboard/dashboard_api.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "server/audit.h"
#include "server/dashboard/dashboard_json.h"
#include "storage/write_set.h"

namespace dagd {
namespace {

// %XX and '+' decoded; a malformed escape is kept as it is.
std::string UrlDecode(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    int hi, lo;
    auto hex = [](char c) {
      if (c >= '0' && c <= '9') return c - '0';
      c = absl::ascii_tolower(c);
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    if (text[i] == '%' && i + 2 < text.size() && (hi = hex(text[i + 1])) >= 0 &&
        (lo = hex(text[i + 2])) >= 0) {
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (text[i] == '+') {
      out += ' ';
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string Param(
    const std::vector<std::pair<std::string, std::string>>& params,
    absl::string_view name) {
  for (const auto& [key, value] : params) {
    if (key == name) return value;
  }
  return "";
}

absl::StatusOr<uint32_t> PageSize(const std::string& text, uint32_t fallback,
                                  uint32_t max) {
  if (text.empty()) return fallback;
  uint32_t size;
  if (!absl::SimpleAtoi(text, &size) || size == 0 || size > max) {
    return absl::InvalidArgumentError(absl::StrCat(
        "page_size: '", text, "' is not a number from 1 to ", max));
  }
  return size;
}

// A state name as the page spells it ("FAILED", "failed" or "TASK_FAILED").
template <typename State>
absl::StatusOr<State> ParseState(const std::string& text,
                                 bool (*parse)(const std::string&, State*),
                                 absl::string_view prefix,
                                 absl::string_view choices) {
  std::string name = absl::AsciiStrToUpper(text);
  if (!absl::StartsWith(name, prefix)) name = absl::StrCat(prefix, name);
  State state;
  if (!parse(name, &state) || static_cast<int>(state) == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "state: '", text, "' is not a state (one of ", choices, ")"));
  }
  return state;
}

constexpr absl::string_view kJobStates =
    "PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED";
constexpr absl::string_view kTaskStates =
    "PENDING, READY, ASSIGNED, RUNNING, SUCCEEDED, FAILED, UPSTREAM_FAILED, "
    "CANCELLED";

ApiResponse Ok(std::string body) { return ApiResponse{200, std::move(body)}; }

// The field an INVALID_ARGUMENT names in its message ("page_size: ..."),
// else `fallback`.
absl::string_view FieldOf(const absl::Status& status,
                          absl::string_view fallback) {
  absl::string_view message = status.message();
  size_t colon = message.find(':');
  if (colon == absl::string_view::npos || colon == 0 || colon > 20) {
    return fallback;
  }
  absl::string_view field = message.substr(0, colon);
  for (char c : field) {
    if (!absl::ascii_islower(c) && c != '_') return fallback;
  }
  return field;
}

}  // namespace

ApiResponse ErrorResponse(const absl::Status& status, absl::string_view field) {
  const int code = HttpCode(status);
  return ApiResponse{code, ErrorJson(code, status, field)};
}

std::optional<ApiResponse> RefuseParameters(absl::string_view query) {
  auto params = ParseQuery(query, {});
  if (params.ok()) return std::nullopt;
  return ErrorResponse(params.status(), FieldOf(params.status(), "query"));
}

ApiResponse WrongMethod(const HttpRequest& request, absl::string_view allowed) {
  return ApiResponse{
      405, ErrorJson(405,
                     absl::InvalidArgumentError(absl::StrCat(
                         request.method, " ", request.path, ": use ", allowed)),
                     "method")};
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseQuery(
    absl::string_view query, const std::vector<absl::string_view>& known) {
  std::vector<std::pair<std::string, std::string>> params;
  for (absl::string_view part : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(part, absl::MaxSplits('=', 1));
    std::string key = UrlDecode(kv.first);
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          key, ": not a parameter here (",
          known.empty() ? "it takes none"
                        : absl::StrCat("known: ", absl::StrJoin(known, ", ")),
          ")"));
    }
    for (const auto& [seen, value] : params) {
      if (seen == key) {
        return absl::InvalidArgumentError(
            absl::StrCat(key, ": given more than once"));
      }
    }
    params.emplace_back(std::move(key), UrlDecode(kv.second));
  }
  return params;
}

DashboardApi::DashboardApi(DashboardSource* source, TaskCache* tasks,
                           JobAccess* access, Options options)
    : source_(source), tasks_(tasks), access_(access), options_(options) {}

ApiResponse DashboardApi::Handle(const HttpRequest& request,
                                 const Principal& caller) {
  absl::string_view path = request.path;
  const bool get = request.method == "GET" || request.method == "HEAD";
  auto wrong_method = [&](absl::string_view allowed) {
    return WrongMethod(request, allowed);
  };
  // Each route checks its method, then (but ListJobs and Tasks, which take
  // some) that no parameter is given: the same order as the event streams'.
  auto refused = [&] { return RefuseParameters(request.query); };
  if (path == "/api/jobs") {
    return get ? ListJobs(request.query, caller) : wrong_method("GET");
  }
  if (path == "/api/workers") {
    if (!get) return wrong_method("GET");
    if (auto refusal = refused()) return *refusal;
    return Workers();
  }
  if (absl::ConsumePrefix(&path, "/api/jobs/")) {
    std::vector<absl::string_view> parts = absl::StrSplit(path, '/');
    const std::string job_id(parts[0]);
    if (job_id.empty()) {
      return ErrorResponse(absl::InvalidArgumentError("job_id: empty"),
                           "job_id");
    }
    const absl::string_view what = parts.size() == 2 ? parts[1] : "";
    if (parts.size() == 1) {
      if (!get) return wrong_method("GET");
      if (auto refusal = refused()) return *refusal;
      return GetJob(job_id, caller);
    }
    if (parts.size() == 2 && what == "cancel") {
      if (request.method != "POST") return wrong_method("POST");
      if (auto refusal = refused()) return *refusal;
      if (request.Header(kRequestedByHeader) != kRequestedByDashboard) {
        return ErrorResponse(
            absl::PermissionDeniedError(
                absl::StrCat(kRequestedByHeader, ": a cancel must carry '",
                             kRequestedByHeader, ": ", kRequestedByDashboard,
                             "' (so that other web sites cannot send one)")),
            kRequestedByHeader);
      }
      // The role first, as JobService: a reader learns nothing of which
      // jobs exist from a cancel.
      // Audited as JobService's cancels are, refused ones included.
      if (absl::Status s = NeedRole(caller, Role::kSubmit, "cancel"); !s.ok()) {
        Audit(caller, "cancel", job_id, s);
        return ErrorResponse(s, "role");
      }
      if (absl::Status s = access_->Check(caller, job_id); !s.ok()) {
        Audit(caller, "cancel", job_id, s);
        return ErrorResponse(s, "job_id");
      }
      return Cancel(caller, job_id);
    }
    if (parts.size() == 2 && !get) return wrong_method("GET");
    if (what == "tasks") return Tasks(job_id, request.query, caller);
    if (what == "graph" || what == "stream") {
      if (auto refusal = refused()) return *refusal;
      if (absl::Status s = access_->Check(caller, job_id); !s.ok()) {
        return ErrorResponse(s, "job_id");
      }
      return what == "graph" ? Graph(job_id) : Stream(job_id);
    }
  }
  return ErrorResponse(
      absl::NotFoundError(absl::StrCat("no API at ", request.path)), "path");
}

ApiResponse DashboardApi::ListJobs(absl::string_view query,
                                   const Principal& caller) {
  auto params = ParseQuery(query, {"state", "page_size", "page_token"});
  if (!params.ok())
    return ErrorResponse(params.status(), FieldOf(params.status(), ""));
  absl::StatusOr<uint32_t> size =
      PageSize(Param(*params, "page_size"), options_.default_page_size,
               options_.max_page_size);
  if (!size.ok()) return ErrorResponse(size.status(), "page_size");
  std::string token = Param(*params, "page_token");
  uint64_t before;
  if (!token.empty() && !absl::SimpleAtoi(token, &before)) {
    return ErrorResponse(
        absl::InvalidArgumentError(absl::StrCat(
            "page_token: '", token, "' is not a token this API handed out")),
        "page_token");
  }
  std::optional<v1::JobState> filter;
  if (std::string state = Param(*params, "state"); !state.empty()) {
    absl::StatusOr<v1::JobState> parsed =
        ParseState<v1::JobState>(state, v1::JobState_Parse, "JOB_", kJobStates);
    if (!parsed.ok()) return ErrorResponse(parsed.status(), "state");
    filter = *parsed;
  }
  // Without a filter one ListJobs is the page. With one, pages are read
  // until it is full, at most max_jobs_scanned jobs.
  std::vector<v1::JobStatus> jobs;
  std::string next;
  uint32_t scanned = 0;
  while (true) {
    v1::ListJobsRequest request;
    request.set_page_size(filter ? options_.max_page_size : *size);
    request.set_page_token(token);
    if (caller.role != Role::kAdmin) request.set_tenant(caller.tenant);
    absl::StatusOr<v1::ListJobsResponse> page =
        AwaitReply<v1::ListJobsResponse>(
            [&](auto done) {
              source_->ListJobs(std::move(request), std::move(done));
            },
            options_.timeout);
    if (!page.ok()) return ErrorResponse(page.status(), "page_token");
    if (!filter) return Ok(JobsJson(*page));
    for (v1::JobStatus& job : *page->mutable_jobs()) {
      ++scanned;
      if (job.state() == *filter) jobs.push_back(std::move(job));
      if (jobs.size() == *size) {
        next = std::string(absl::StripPrefix(jobs.back().job_id(), "j"));
        return Ok(JobsJson(jobs, next));
      }
    }
    token = page->next_page_token();
    if (token.empty()) return Ok(JobsJson(jobs, ""));
    if (scanned >= options_.max_jobs_scanned) return Ok(JobsJson(jobs, token));
  }
}

ApiResponse DashboardApi::GetJob(const std::string& job_id,
                                 const Principal& caller) {
  absl::StatusOr<v1::JobStatus> job = AwaitReply<v1::JobStatus>(
      [&](auto done) { source_->GetJob(job_id, std::move(done)); },
      options_.timeout);
  if (!job.ok()) return ErrorResponse(job.status(), "job_id");
  access_->Remember(job_id, job->tenant());
  if (!caller.Sees(job->tenant())) {
    return ErrorResponse(NoJobError(job_id), "job_id");
  }
  return Ok(JobJson(*job));
}

ApiResponse DashboardApi::Graph(const std::string& job_id) {
  auto snapshot = tasks_->Get(job_id);
  if (!snapshot.ok()) return ErrorResponse(snapshot.status(), "job_id");
  const TaskSnapshot& tasks = **snapshot;
  return Ok(
      tasks.Rendered(TaskSnapshot::kGraph, [&] { return GraphJson(tasks); }));
}

ApiResponse DashboardApi::Stream(const std::string& job_id) {
  auto snapshot = tasks_->Get(job_id);
  if (!snapshot.ok()) return ErrorResponse(snapshot.status(), "job_id");
  const TaskSnapshot& tasks = **snapshot;
  return Ok(tasks.Rendered(TaskSnapshot::kStream, [&] {
    return StreamJson(tasks, options_.max_bars);
  }));
}

ApiResponse DashboardApi::Tasks(const std::string& job_id,
                                absl::string_view query,
                                const Principal& caller) {
  auto params = ParseQuery(query, {"state", "page_size", "page_token"});
  if (!params.ok())
    return ErrorResponse(params.status(), FieldOf(params.status(), ""));
  absl::StatusOr<uint32_t> size =
      PageSize(Param(*params, "page_size"), options_.default_page_size,
               options_.max_page_size);
  if (!size.ok()) return ErrorResponse(size.status(), "page_size");
  const std::string token = Param(*params, "page_token");
  size_t offset = 0;
  if (!token.empty() && !absl::SimpleAtoi(token, &offset)) {
    return ErrorResponse(
        absl::InvalidArgumentError(absl::StrCat(
            "page_token: '", token, "' is not a token this API handed out")),
        "page_token");
  }
  std::optional<v1::TaskState> filter;
  if (std::string state = Param(*params, "state"); !state.empty()) {
    absl::StatusOr<v1::TaskState> parsed = ParseState<v1::TaskState>(
        state, v1::TaskState_Parse, "TASK_", kTaskStates);
    if (!parsed.ok()) return ErrorResponse(parsed.status(), "state");
    filter = *parsed;
  }
  if (absl::Status s = access_->Check(caller, job_id); !s.ok()) {
    return ErrorResponse(s, "job_id");
  }
  auto snapshot = tasks_->Get(job_id);
  if (!snapshot.ok()) return ErrorResponse(snapshot.status(), "job_id");
  const std::vector<v1::TaskStatus>& tasks = (*snapshot)->tasks;
  std::vector<const v1::TaskStatus*> matching;
  for (const v1::TaskStatus& task : tasks) {
    if (!filter || task.state() == *filter) matching.push_back(&task);
  }
  if (offset > matching.size()) {
    return ErrorResponse(absl::InvalidArgumentError(absl::StrCat(
                             "page_token: '", token, "' is past the last of ",
                             matching.size(), " tasks")),
                         "page_token");
  }
  const size_t end = std::min(matching.size(), offset + *size);
  JsonWriter out;
  out.BeginObject().Key("tasks").BeginArray();
  for (size_t i = offset; i < end; ++i) {
    const v1::TaskStatus& task = *matching[i];
    out.BeginObject();
    out.Key("id").String(task.task_id());
    out.Key("fn").String(task.fn());
    out.Key("state").String(ShortName(task.state()));
    out.Key("attempts").Int(task.attempts_size());
    out.Key("worker").String(task.worker());
    out.Key("error").String(task.error());
    out.Key("waiting").String(task.waiting_reason());
    out.EndObject();
  }
  out.EndArray();
  out.Key("total").Int(matching.size());
  out.Key("next_page_token")
      .String(end < matching.size() ? absl::StrCat(end) : "");
  out.EndObject();
  return Ok(out.Take());
}

ApiResponse DashboardApi::Cancel(const Principal& caller,
                                 const std::string& job_id) {
  absl::StatusOr<v1::CancelJobResponse> cancelled =
      AwaitReply<v1::CancelJobResponse>(
          [&](auto done) { source_->Cancel(job_id, std::move(done)); },
          options_.timeout);
  Audit(caller, "cancel", job_id, cancelled.status());
  if (!cancelled.ok()) return ErrorResponse(cancelled.status(), "job_id");
  JsonWriter out;
  out.BeginObject();
  out.Key("state").String(ShortName(cancelled->state()));
  out.Key("cancelled").Bool(cancelled->cancelled());
  out.EndObject();
  return Ok(out.Take());
}

ApiResponse DashboardApi::Workers() {
  absl::StatusOr<v1::ListWorkersResponse> workers =
      AwaitReply<v1::ListWorkersResponse>(
          [&](auto done) { source_->ListWorkers(std::move(done)); },
          options_.timeout);
  if (!workers.ok()) return ErrorResponse(workers.status(), "");
  return Ok(WorkersJson(*workers));
}

}  // namespace dagd
