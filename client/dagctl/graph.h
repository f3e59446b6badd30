// `dagctl graph`: a job's task graph as a Graphviz DOT document, so that
// `dagctl graph JOB | dot -Tsvg > job.svg` draws it.
//
// Pure functions from a ListTasksResponse to text; the command in
// commands.cc only fetches the tasks. The dependencies come from the
// `inputs` and `after` fields of each TaskStatus; a server that does not
// fill them in yields the tasks without edges.
#ifndef DAGD_CLIENT_DAGCTL_GRAPH_H_
#define DAGD_CLIENT_DAGCTL_GRAPH_H_

#include <string>

#include "absl/strings/string_view.h"
#include "dagd/v1/job_service.pb.h"

namespace dagd::dagctl {

// Above this many tasks `dagctl graph` still prints the graph, but warns on
// stderr that `dot` may take long to lay it out.
inline constexpr int kLargeGraphTasks = 5000;

// `s` as a DOT quoted string, quotes included: '"' and '\' are escaped, and
// line breaks become the label escape "\n", so any task id or function name
// is safe and, in a label, shows as written.
std::string DotQuote(absl::string_view s);

// The fill colour (an X11 colour name dot knows) of a task in `state`:
// PENDING lightgrey, READY lightyellow, ASSIGNED and RUNNING lightblue,
// SUCCEEDED palegreen, FAILED salmon, UPSTREAM_FAILED orange, CANCELLED
// grey, anything else white.
absl::string_view StateColor(v1::TaskState state);

// The whole document: a node per task, labelled "id\nfn" and filled by
// state, then for each task an edge from each of its inputs (solid) and each
// of its `after` dependencies (dashed). The graph's title names the job and
// counts the tasks per state, which doubles as the colour legend.
std::string FormatDot(absl::string_view job_id,
                      const v1::ListTasksResponse& response);

}  // namespace dagd::dagctl

#endif  // DAGD_CLIENT_DAGCTL_GRAPH_H_
