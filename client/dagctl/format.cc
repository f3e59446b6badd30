#include "client/dagctl/format.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "client/proto_time.h"

namespace dagd::dagctl {
namespace {

std::string StripPrefix(const std::string& name, absl::string_view prefix) {
  return std::string(absl::StripPrefix(name, prefix));
}

// Key/value lines with the values aligned.
}  // namespace

std::string Shown(absl::string_view text, absl::string_view indent) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      absl::StrAppend(&out, "\n", indent);
    } else if ((u < 0x20 && c != '\t') || u == 0x7f) {
      absl::StrAppendFormat(&out, "\\x%02x", u);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

namespace {

void AppendField(std::string* out, absl::string_view key,
                 absl::string_view value) {
  absl::StrAppendFormat(out, "%-10s %s\n", key, value);
}

void AppendNotes(
    std::string* out, absl::string_view title,
    const google::protobuf::RepeatedPtrField<v1::TaskNote>& notes) {
  if (notes.empty()) return;
  absl::StrAppend(out, title, ":\n");
  for (const v1::TaskNote& note : notes) {
    absl::StrAppend(out, "  ", note.task_id(), ": ", Shown(note.text(), "    "),
                    "\n");
  }
}

std::string FormatCounts(const v1::JobStatus& status) {
  std::vector<std::string> parts;
  for (const v1::TaskStateCount& count : status.counts()) {
    if (count.count() == 0) continue;
    parts.push_back(
        absl::StrCat(TaskStateName(count.state()), " ", count.count()));
  }
  return parts.empty() ? "-" : absl::StrJoin(parts, ", ");
}

// round(done * scale / total), but below `scale` until every task is done
// and above 0 once one is (where the scale leaves room for both).
int Scaled(const Progress& progress, int scale) {
  if (progress.total == 0 || progress.done == 0) return 0;
  if (progress.done >= progress.total) return scale;
  if (scale < 2) return 0;
  const uint64_t rounded =
      (uint64_t{progress.done} * scale + progress.total / 2) / progress.total;
  return std::clamp(static_cast<int>(rounded), 1, scale - 1);
}

}  // namespace

std::string JobStateName(v1::JobState state) {
  if (state == v1::JOB_STATE_UNSPECIFIED) return "UNKNOWN";
  const std::string& name = v1::JobState_Name(state);
  return name.empty() ? absl::StrCat("STATE_", static_cast<int>(state))
                      : StripPrefix(name, "JOB_");
}

std::string TaskStateName(v1::TaskState state) {
  if (state == v1::TASK_STATE_UNSPECIFIED) return "UNKNOWN";
  const std::string& name = v1::TaskState_Name(state);
  return name.empty() ? absl::StrCat("STATE_", static_cast<int>(state))
                      : StripPrefix(name, "TASK_");
}

std::string FormatTimestamp(const google::protobuf::Timestamp& t) {
  if (!HasTimestamp(t)) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%SZ", FromProtoTimestamp(t),
                          absl::UTCTimeZone());
}

// Attempt times need milliseconds: backoffs and short tasks are shorter than
// a second.
std::string FormatTimestampMillis(const google::protobuf::Timestamp& t) {
  if (!HasTimestamp(t)) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%E3SZ", FromProtoTimestamp(t),
                          absl::UTCTimeZone());
}

std::string FormatElapsed(absl::Duration d) {
  if (d < absl::ZeroDuration()) d = absl::ZeroDuration();
  if (d < absl::Seconds(1)) {
    return absl::StrCat(absl::ToInt64Milliseconds(d), "ms");
  }
  if (d < absl::Minutes(1)) {
    return absl::StrFormat("%.1fs", absl::ToDoubleSeconds(absl::Trunc(
                                        d, absl::Milliseconds(100))));
  }
  if (d < absl::Hours(1)) {
    return absl::StrCat(absl::ToInt64Minutes(d), "m",
                        absl::ToInt64Seconds(d) % 60, "s");
  }
  return absl::StrCat(absl::ToInt64Hours(d), "h", absl::ToInt64Minutes(d) % 60,
                      "m");
}

absl::Duration JobElapsed(const v1::JobStatus& status, absl::Time now) {
  const google::protobuf::Timestamp& start = HasTimestamp(status.started_at())
                                                 ? status.started_at()
                                                 : status.submitted_at();
  if (!HasTimestamp(start)) return absl::ZeroDuration();
  const absl::Time end = HasTimestamp(status.finished_at())
                             ? FromProtoTimestamp(status.finished_at())
                             : now;
  return std::max(end - FromProtoTimestamp(start), absl::ZeroDuration());
}

uint32_t DoneTasks(const v1::JobStatus& status) {
  uint32_t done = 0;
  for (const v1::TaskStateCount& count : status.counts()) {
    switch (count.state()) {
      case v1::TASK_SUCCEEDED:
      case v1::TASK_FAILED:
      case v1::TASK_UPSTREAM_FAILED:
      case v1::TASK_CANCELLED:
        done += count.count();
        break;
      default:
        break;
    }
  }
  return done;
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string json;
  // Printing a well-formed message cannot fail: no Any fields to resolve.
  static_cast<void>(
      google::protobuf::util::MessageToJsonString(message, &json, options));
  return json;
}

std::string FormatTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      absl::StrAppend(&line, row[i]);
      if (i + 1 < row.size()) {
        line.append(widths[i] - row[i].size() + 2, ' ');
      }
    }
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

std::string FormatJobStatus(const v1::JobStatus& status, absl::Time now) {
  std::string out;
  AppendField(&out, "job",
              status.name().empty()
                  ? status.job_id()
                  : absl::StrCat(status.job_id(), " (", status.name(), ")"));
  AppendField(&out, "state", JobStateName(status.state()));
  AppendField(
      &out, "tasks",
      absl::StrCat(DoneTasks(status), "/", status.total_tasks(), " done"));
  AppendField(&out, "counts", FormatCounts(status));
  AppendField(&out, "priority", absl::StrCat(status.priority()));
  AppendField(&out, "submitted", FormatTimestamp(status.submitted_at()));
  AppendField(&out, "started", FormatTimestamp(status.started_at()));
  AppendField(&out, "finished", FormatTimestamp(status.finished_at()));
  AppendField(&out, "elapsed", FormatElapsed(JobElapsed(status, now)));
  if (!status.request_id().empty()) {
    AppendField(&out, "request", status.request_id());
  }
  if (!status.error().empty()) {
    AppendField(&out, "error", Shown(status.error(), "           "));
  }
  AppendNotes(&out, "failed tasks", status.failures());
  AppendNotes(&out, "waiting tasks", status.waiting());
  return out;
}

std::string FormatProgress(const Progress& progress, absl::Duration elapsed) {
  return absl::StrCat(JobStateName(progress.state), "  ", progress.done, "/",
                      progress.total, " done  ", progress.running, " running  ",
                      progress.failed, " failed  ", FormatElapsed(elapsed));
}

std::string FormatProgressBar(const Progress& progress, absl::Duration elapsed,
                              std::optional<absl::Duration> eta,
                              int bar_width) {
  bar_width = std::max(bar_width, 1);
  const int filled = Scaled(progress, bar_width);
  return absl::StrCat(
      "[", std::string(filled, '#'), std::string(bar_width - filled, '-'), "] ",
      Scaled(progress, 100), "% ", progress.done, "/", progress.total,
      " done  ", progress.running, " running  ", progress.failed,
      " failed  elapsed ", FormatElapsed(elapsed), "  ETA ",
      eta.has_value() ? FormatElapsed(*eta) : "-");
}

std::string FormatOutcome(const v1::JobStatus& status, absl::Time now) {
  std::string out = absl::StrCat(
      "job ", status.job_id(), " ", JobStateName(status.state()), ": ",
      DoneTasks(status), "/", status.total_tasks(), " tasks done in ",
      FormatElapsed(JobElapsed(status, now)), "\n");
  if (!status.error().empty()) {
    absl::StrAppend(&out, Shown(status.error(), "  "), "\n");
  }
  AppendNotes(&out, "failed tasks", status.failures());
  return out;
}

std::string FormatCancel(const std::string& job_id,
                         const v1::CancelJobResponse& response) {
  if (response.cancelled()) return absl::StrCat("cancelled job ", job_id, "\n");
  return absl::StrCat("job ", job_id, " had already finished (",
                      JobStateName(response.state()), "); nothing changed\n");
}

std::string FormatJobsTable(const std::vector<v1::JobStatus>& jobs) {
  std::vector<std::vector<std::string>> rows = {
      {"ID", "NAME", "STATE", "DONE", "SUBMITTED"}};
  for (const v1::JobStatus& job : jobs) {
    rows.push_back({job.job_id(), job.name().empty() ? "-" : job.name(),
                    JobStateName(job.state()),
                    absl::StrCat(DoneTasks(job), "/", job.total_tasks()),
                    FormatTimestamp(job.submitted_at())});
  }
  return FormatTable(rows);
}

std::string FormatBytes(uint64_t bytes) {
  if (bytes < 1024) return absl::StrCat(bytes, " B");
  constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = bytes;
  int unit = -1;
  while (value >= 1024 && unit < 3) {
    value /= 1024;
    ++unit;
  }
  // One literal per call: absl checks the format at compile time, and
  // clang does that only for a constant expression.
  if (value < 10) return absl::StrFormat("%.1f %s", value, kUnits[unit]);
  return absl::StrFormat("%.0f %s", value, kUnits[unit]);
}

std::string FormatWorkersTable(const v1::ListWorkersResponse& response) {
  // RUNTIMES only once some worker reports them: dagd before runtimes, and
  // workers before them, report none.
  const bool runtimes = std::any_of(
      response.workers().begin(), response.workers().end(),
      [](const v1::WorkerInfo& worker) { return worker.runtimes_size() > 0; });
  std::vector<std::string> header = {"ID",     "NAME",      "SLOTS",    "POOL",
                                     "LABELS", "RESOURCES", "FUNCTIONS"};
  if (runtimes) header.insert(header.end() - 1, "RUNTIMES");
  // What workers hold, once some worker serves results (--data_listen).
  const bool data =
      std::any_of(response.workers().begin(), response.workers().end(),
                  [](const v1::WorkerInfo& worker) {
                    return !worker.data_address().empty();
                  });
  if (data) header.insert(header.end() - 1, "HELD/SPILLED/SENT/FETCHED");
  std::vector<std::vector<std::string>> rows = {std::move(header)};
  for (const v1::WorkerInfo& worker : response.workers()) {
    // Sorted: protobuf maps iterate in no fixed order.
    std::map<std::string, std::string> labels(worker.labels().begin(),
                                              worker.labels().end());
    std::vector<std::string> resources;
    std::map<std::string, double> capacity(worker.resources().begin(),
                                           worker.resources().end());
    for (const auto& [name, total] : capacity) {
      auto free = worker.free_resources().find(name);
      const double used =
          total -
          (free == worker.free_resources().end() ? total : free->second);
      resources.push_back(absl::StrCat(name, "=", used, "/", total));
    }
    std::vector<std::string>& row = rows.emplace_back(std::vector<std::string>{
        worker.worker_id(), worker.name().empty() ? "-" : worker.name(),
        absl::StrCat(worker.busy_slots(), "/", worker.slots(),
                     worker.draining() ? " draining" : ""),
        worker.pool().empty() ? "-" : worker.pool(),
        labels.empty() ? "-"
                       : absl::StrJoin(labels, ",", absl::PairFormatter("=")),
        resources.empty() ? "-" : absl::StrJoin(resources, ",")});
    if (runtimes) {
      row.push_back(worker.runtimes().empty()
                        ? "-"
                        : absl::StrJoin(worker.runtimes(), ","));
    }
    if (data) {
      row.push_back(worker.data_address().empty()
                        ? "-"
                        : absl::StrCat(FormatBytes(worker.held_bytes()), "/",
                                       FormatBytes(worker.spilled_bytes()), "/",
                                       FormatBytes(worker.sent_bytes()), "/",
                                       FormatBytes(worker.fetched_bytes())));
    }
    row.push_back(worker.functions().empty()
                      ? "-"
                      : absl::StrJoin(worker.functions(), ","));
  }
  return FormatTable(rows);
}

std::string FormatTasks(const v1::ListTasksResponse& response) {
  std::string out;
  for (const v1::TaskStatus& task : response.tasks()) {
    absl::StrAppend(&out, task.task_id(), "  ", TaskStateName(task.state()),
                    task.fn().empty() ? "" : absl::StrCat("  ", task.fn()),
                    "\n");
    if (!task.waiting_reason().empty()) {
      absl::StrAppend(
          &out, "    waiting: ", Shown(task.waiting_reason(), "      "), "\n");
    }
    for (const v1::Attempt& attempt : task.attempts()) {
      absl::StrAppend(
          &out, "    attempt ", attempt.number(), "  worker ",
          attempt.worker().empty() ? "-" : attempt.worker(), "  started ",
          FormatTimestampMillis(attempt.started_at()), "  finished ",
          FormatTimestampMillis(attempt.finished_at()),
          attempt.error().empty()
              ? ""
              : absl::StrCat("  error: ", Shown(attempt.error(), "      ")),
          "\n");
      // Why it went there, on a line of its own: "placed on w1-2: holds 2
      // of 2 inputs", "granted ahead on w1-2 after task 'a'".
      if (!attempt.placement().empty()) {
        absl::StrAppend(&out, "      ", Shown(attempt.placement(), "      "),
                        "\n");
      }
    }
    // A task can fail without an attempt (e.g. its inputs could not be
    // fetched); show its error if no attempt already did.
    if (!task.error().empty() &&
        std::none_of(
            task.attempts().begin(), task.attempts().end(),
            [&](const v1::Attempt& a) { return a.error() == task.error(); })) {
      absl::StrAppend(&out, "    error: ", Shown(task.error(), "      "), "\n");
    }
  }
  return out;
}

}  // namespace dagd::dagctl
