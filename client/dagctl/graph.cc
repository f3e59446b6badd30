#include "client/dagctl/graph.h"

#include <array>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/dagctl/format.h"

namespace dagd::dagctl {
namespace {

// Title of the graph: the job, and the tasks per state with their colours,
// in the order of the TaskState enum.
std::string Legend(absl::string_view job_id,
                   const v1::ListTasksResponse& response) {
  std::array<int, v1::TaskState_ARRAYSIZE> counts{};
  int unknown = 0;
  for (const v1::TaskStatus& task : response.tasks()) {
    if (v1::TaskState_IsValid(task.state())) {
      ++counts[task.state()];
    } else {
      ++unknown;
    }
  }
  std::vector<std::string> parts;
  for (int state = 0; state < v1::TaskState_ARRAYSIZE; ++state) {
    const int count =
        counts[state] + (state == v1::TASK_STATE_UNSPECIFIED ? unknown : 0);
    if (count == 0) continue;
    const auto task_state = static_cast<v1::TaskState>(state);
    parts.push_back(absl::StrCat(TaskStateName(task_state), " ", count, " (",
                                 StateColor(task_state), ")"));
  }
  std::string legend =
      absl::StrCat("job ", job_id, ": ", response.tasks_size(),
                   response.tasks_size() == 1 ? " task" : " tasks");
  if (!parts.empty())
    absl::StrAppend(&legend, "\n", absl::StrJoin(parts, ", "));
  return legend;
}

}  // namespace

std::string DotQuote(absl::string_view s) {
  std::string out = "\"";
  out.reserve(s.size() + 2);
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += c;
    }
  }
  out += '"';
  return out;
}

absl::string_view StateColor(v1::TaskState state) {
  switch (state) {
    case v1::TASK_PENDING:
      return "lightgrey";
    case v1::TASK_READY:
      return "lightyellow";
    case v1::TASK_ASSIGNED:
    case v1::TASK_RUNNING:
      return "lightblue";
    case v1::TASK_SUCCEEDED:
      return "palegreen";
    case v1::TASK_FAILED:
      return "salmon";
    case v1::TASK_UPSTREAM_FAILED:
      return "orange";
    case v1::TASK_CANCELLED:
      return "grey";
    default:
      return "white";
  }
}

std::string FormatDot(absl::string_view job_id,
                      const v1::ListTasksResponse& response) {
  std::string out = absl::StrCat(
      "digraph ", DotQuote(job_id),
      " {\n  label=", DotQuote(Legend(job_id, response)),
      ";\n"
      "  labelloc=t;\n"
      "  fontname=\"Helvetica\";\n"
      "  node [shape=box, style=filled, fontname=\"Helvetica\"];\n");
  for (const v1::TaskStatus& task : response.tasks()) {
    // The label is quoted as a whole so that the "\n" between id and fn is
    // the only line break dot sees.
    const std::string label = DotQuote(
        task.fn().empty() ? task.task_id()
                          : absl::StrCat(task.task_id(), "\n", task.fn()));
    absl::StrAppend(&out, "  ", DotQuote(task.task_id()), " [label=", label,
                    ", fillcolor=", StateColor(task.state()),
                    ", tooltip=", DotQuote(TaskStateName(task.state())),
                    "];\n");
  }
  for (const v1::TaskStatus& task : response.tasks()) {
    const std::string to = DotQuote(task.task_id());
    for (const std::string& input : task.inputs()) {
      absl::StrAppend(&out, "  ", DotQuote(input), " -> ", to, ";\n");
    }
    for (const std::string& after : task.after()) {
      absl::StrAppend(&out, "  ", DotQuote(after), " -> ", to,
                      " [style=dashed];\n");
    }
  }
  absl::StrAppend(&out, "}\n");
  return out;
}

}  // namespace dagd::dagctl
