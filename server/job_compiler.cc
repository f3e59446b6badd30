#include "server/job_compiler.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/time_util.h"

namespace dagd {
namespace {

using google::protobuf::Duration;
using google::protobuf::util::TimeUtil;

constexpr uint32_t kMaxAttempts = 1000;
constexpr int kMaxCycleNames = 20;

// How a task is named in messages: its id, or its position when it has none.
// Bytes below 0x20 and DEL: in a log line or on a terminal they forge
// lines and move the cursor.
bool HasControl(absl::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

std::string TaskName(const v1::JobSpec& spec, uint32_t i) {
  const std::string& id = spec.tasks(i).id();
  if (id.empty()) return absl::StrCat("task #", i, " (no id)");
  if (HasControl(id)) {
    return absl::StrCat("task #", i, " ('", absl::CHexEscape(id), "')");
  }
  return absl::StrCat("task '", id, "'");
}

absl::Status TaskError(const v1::JobSpec& spec, uint32_t i,
                       absl::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat(TaskName(spec, i), ": ", problem));
}

// Parses the task's executor and keeps it in the job's table of distinct
// executors. Lambda executors need a dagd that dispatches to Lambda.
absl::Status CompileExecutor(uint32_t i, const JobLimits& limits,
                             CompiledJob& job) {
  const std::string& text = job.spec->tasks(i).executor();
  if (text.empty()) return absl::OkStatus();
  absl::StatusOr<Executor> executor = Executor::Parse(text);
  if (!executor.ok()) {
    return TaskError(*job.spec, i, executor.status().message());
  }
  if (executor->kind == Executor::Kind::kLambda && !limits.lambda) {
    return TaskError(
        *job.spec, i,
        absl::StrCat("executor '", text,
                     "': this dagd does not dispatch to Lambda (start it "
                     "with --lambda_function)"));
  }
  if (executor->kind == Executor::Kind::kLambda && !executor->name.empty() &&
      std::find(limits.lambda_functions.begin(), limits.lambda_functions.end(),
                executor->name) == limits.lambda_functions.end()) {
    return TaskError(
        *job.spec, i,
        absl::StrCat("executor '", text, "': Lambda function '", executor->name,
                     "' is not one this dagd may invoke (its "
                     "--lambda_function, or --lambda_allowed_functions)"));
  }
  if (job.executors.empty()) job.executors.emplace_back();  // any worker: 0
  auto it = std::find(job.executors.begin(), job.executors.end(), *executor);
  if (it == job.executors.end()) {
    it = job.executors.insert(job.executors.end(), *std::move(executor));
  }
  if (job.executor_of.empty()) job.executor_of.resize(job.spec->tasks_size());
  job.executor_of[i] = static_cast<uint32_t>(it - job.executors.begin());
  return absl::OkStatus();
}

// The longest duration a job may ask for: longer ones are typos or
// attacks, and overflow clocks (INT64_MAX seconds once became 384 ms).
constexpr int64_t kMaxDurationSeconds = int64_t{3650} * 24 * 3600;

// Why `d` (field `field`) is out of range; empty when it is not.
std::string DurationProblem(const Duration& d, absl::string_view field) {
  if (d.seconds() < 0 || d.nanos() < 0) {
    return absl::StrCat(field, " must not be negative");
  }
  if (d.seconds() > kMaxDurationSeconds || d.nanos() > 999'999'999) {
    return absl::StrCat(field, " is ", d.seconds(),
                        "s, over the limit of 3650 days");
  }
  return "";
}

// The deepest args nesting a task may have: deeper ones fail the
// protobuf parsers of workers (at 100) far from the cause.
constexpr int kMaxArgsDepth = 32;

// Why `value` cannot be a task's args; empty when it can. Args are JSON:
// the Lambda invocation and the Python runner carry them as JSON, which
// has no NaN or infinities (protobuf writes them as the strings "NaN" and
// "Infinity"). Deeper than `budget` levels is refused too.
std::string ArgsProblem(const google::protobuf::Value& value, int budget) {
  if (budget < 0) {
    return absl::StrCat("args nest more than ", kMaxArgsDepth, " levels deep");
  }
  if (value.has_number_value() && !std::isfinite(value.number_value())) {
    return absl::StrCat("args hold the number ", value.number_value(),
                        ", which JSON cannot carry");
  }
  if (value.has_struct_value()) {
    for (const auto& [key, field] : value.struct_value().fields()) {
      std::string problem = ArgsProblem(field, budget - 1);
      if (!problem.empty()) return problem;
    }
  } else if (value.has_list_value()) {
    for (const google::protobuf::Value& item : value.list_value().values()) {
      std::string problem = ArgsProblem(item, budget - 1);
      if (!problem.empty()) return problem;
    }
  }
  return "";
}

absl::Status CheckJobFields(const v1::JobSpec& spec, const JobLimits& limits,
                            uint64_t* bytes_out) {
  if (spec.tasks_size() == 0) {
    return absl::InvalidArgumentError("job: has no tasks");
  }
  if (static_cast<uint64_t>(spec.tasks_size()) > limits.max_tasks_per_job) {
    return absl::InvalidArgumentError(absl::StrCat(
        "job: has ", spec.tasks_size(), " tasks, over the limit of ",
        limits.max_tasks_per_job, " (--max_tasks_per_job)"));
  }
  const uint64_t bytes = spec.ByteSizeLong();
  *bytes_out = bytes;
  if (bytes > limits.max_job_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("job: is ", bytes, " bytes encoded, over the limit of ",
                     limits.max_job_bytes, " (--max_job_bytes)"));
  }
  if (std::string problem = DurationProblem(spec.deadline(), "deadline");
      !problem.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("job: ", problem));
  }
  if (HasControl(spec.name())) {
    return absl::InvalidArgumentError(
        absl::StrCat("job: name '", absl::CHexEscape(spec.name()),
                     "' holds control characters"));
  }
  return absl::OkStatus();
}

absl::Status CheckRetry(const v1::JobSpec& spec, uint32_t i) {
  const v1::RetryPolicy& retry = spec.tasks(i).retry();
  if (retry.max_attempts() > kMaxAttempts) {
    return TaskError(spec, i,
                     absl::StrCat("retry.max_attempts ", retry.max_attempts(),
                                  " is over the limit of ", kMaxAttempts));
  }
  for (const auto& [backoff, field] :
       {std::pair<const Duration*, const char*>{&retry.initial_backoff(),
                                                "retry.initial_backoff"},
        {&retry.max_backoff(), "retry.max_backoff"}}) {
    if (std::string problem = DurationProblem(*backoff, field);
        !problem.empty()) {
      return TaskError(spec, i, problem);
    }
  }
  if (retry.multiplier() != 0 &&
      (!std::isfinite(retry.multiplier()) || retry.multiplier() < 1)) {
    return TaskError(spec, i, "retry.multiplier must be at least 1");
  }
  return absl::OkStatus();
}

// Checks what can be checked of one task without looking at the others.
absl::Status CheckTaskFields(const v1::JobSpec& spec, uint32_t i,
                             const JobLimits& limits) {
  const v1::TaskSpec& task = spec.tasks(i);
  if (task.id().empty()) return TaskError(spec, i, "id is empty");
  if (task.fn().empty()) return TaskError(spec, i, "fn is empty");
  for (const auto& [text, field] :
       {std::pair<const std::string*, const char*>{&task.id(), "id"},
        {&task.fn(), "fn"},
        {&task.executor(), "executor"},
        {&task.exclusive_group(), "exclusive_group"}}) {
    if (HasControl(*text)) {
      return TaskError(spec, i,
                       absl::StrCat(field, " '", absl::CHexEscape(*text),
                                    "' holds control characters"));
    }
  }
  if (task.has_args()) {
    if (std::string problem = ArgsProblem(task.args(), kMaxArgsDepth);
        !problem.empty()) {
      return TaskError(spec, i, problem);
    }
  }
  for (const auto& [name, amount] : task.resources().amounts()) {
    if (name.empty() || HasControl(name)) {
      return TaskError(spec, i,
                       "resources.amounts has an empty name or one with "
                       "control characters");
    }
    if (!std::isfinite(amount) || amount < 0) {
      return TaskError(
          spec, i,
          absl::StrCat("resources.amounts '", name,
                       "' must be a finite number >= 0, not ", amount));
    }
  }
  for (const auto& [key, value] : task.resources().labels()) {
    if (key.empty()) {
      return TaskError(spec, i, "resources.labels has an empty name");
    }
    if (HasControl(key) || HasControl(value)) {
      return TaskError(spec, i,
                       absl::StrCat("resources.labels '", absl::CHexEscape(key),
                                    "' holds control characters"));
    }
  }
  if (std::string problem = DurationProblem(task.timeout(), "timeout");
      !problem.empty()) {
    return TaskError(spec, i, problem);
  }
  if (!std::isfinite(task.cost()) || task.cost() < 0) {
    return TaskError(spec, i, "cost must be a finite number >= 0");
  }
  return CheckRetry(spec, i);
}

// Resolves every `inputs` and `after` entry to an index and builds the edge
// arrays. `index` maps ids to positions.
absl::Status BuildEdges(
    const absl::flat_hash_map<absl::string_view, uint32_t>& index,
    CompiledJob& job) {
  const v1::JobSpec& spec = *job.spec;
  const uint32_t n = job.size();
  std::vector<std::pair<uint32_t, uint32_t>> edges;  // (from, to)
  job.input_begin.assign(n + 1, 0);
  auto resolve = [&](uint32_t i, const std::string& dep,
                     absl::string_view field) -> absl::StatusOr<uint32_t> {
    auto it = index.find(dep);
    if (it == index.end()) {
      return TaskError(
          spec, i,
          absl::StrCat(field, " '", dep, "' names no task in the job"));
    }
    if (it->second == i) {
      return TaskError(
          spec, i, absl::StrCat("depends on itself (", field, " '", dep, "')"));
    }
    return it->second;
  };
  for (uint32_t i = 0; i < n; ++i) {
    job.input_begin[i] = job.inputs.size();
    for (const std::string& dep : spec.tasks(i).inputs()) {
      absl::StatusOr<uint32_t> from = resolve(i, dep, "input");
      if (!from.ok()) return from.status();
      job.inputs.push_back(*from);
      edges.emplace_back(*from, i);
    }
    for (const std::string& dep : spec.tasks(i).after()) {
      absl::StatusOr<uint32_t> from = resolve(i, dep, "after");
      if (!from.ok()) return from.status();
      edges.emplace_back(*from, i);
    }
  }
  job.input_begin[n] = job.inputs.size();
  // Counting sort of the edges by source gives the flat successor lists.
  job.succ_begin.assign(n + 1, 0);
  job.dep_count.assign(n, 0);
  for (const auto& [from, to] : edges) {
    ++job.succ_begin[from + 1];
    ++job.dep_count[to];
  }
  for (uint32_t i = 0; i < n; ++i) job.succ_begin[i + 1] += job.succ_begin[i];
  job.succ.resize(edges.size());
  std::vector<uint32_t> fill(job.succ_begin.begin(), job.succ_begin.end() - 1);
  for (const auto& [from, to] : edges) job.succ[fill[from]++] = to;
  return absl::OkStatus();
}

// Names the tasks on one cycle among the tasks Kahn's algorithm could not
// order (`left[i]` is true for those). Each such task has a predecessor that
// is also left, so walking predecessors must revisit a task: the walk from
// that task onwards is a cycle.
absl::Status CycleError(const CompiledJob& job, const std::vector<bool>& left) {
  const uint32_t n = job.size();
  // Predecessor lists of the tasks that are left.
  std::vector<uint32_t> pred(n, UINT32_MAX);
  for (uint32_t from = 0; from < n; ++from) {
    if (!left[from]) continue;
    for (uint32_t e = job.succ_begin[from]; e < job.succ_begin[from + 1]; ++e) {
      if (left[job.succ[e]]) pred[job.succ[e]] = from;
    }
  }
  uint32_t start = 0;
  while (!left[start]) ++start;
  std::vector<uint32_t> seen_at(n, UINT32_MAX);
  std::vector<uint32_t> walk;
  uint32_t v = start;
  while (seen_at[v] == UINT32_MAX) {
    seen_at[v] = walk.size();
    walk.push_back(v);
    v = pred[v];
  }
  // walk[seen_at[v]..] is v, then its predecessors going backwards; the
  // last one's predecessor is v again. Forwards, the cycle is v, then the
  // walk from its end back to just after v, then v.
  auto name = [&](uint32_t t) {
    return absl::StrCat("'", job.spec->tasks(t).id(), "'");
  };
  std::vector<std::string> names = {name(v)};
  for (size_t k = walk.size() - 1; k > seen_at[v]; --k) {
    if (names.size() == kMaxCycleNames) {
      names.push_back("...");
      break;
    }
    names.push_back(name(walk[k]));
  }
  names.push_back(name(v));
  return absl::InvalidArgumentError(
      absl::StrCat("job: has a cycle: ", absl::StrJoin(names, " -> ")));
}

// Kahn's algorithm: a topological order, or a cycle error.
absl::StatusOr<std::vector<uint32_t>> TopologicalOrder(const CompiledJob& job) {
  const uint32_t n = job.size();
  std::vector<uint32_t> remaining = job.dep_count;
  std::vector<uint32_t> order;
  order.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    if (remaining[i] == 0) order.push_back(i);
  }
  for (size_t head = 0; head < order.size(); ++head) {
    const uint32_t v = order[head];
    for (uint32_t e = job.succ_begin[v]; e < job.succ_begin[v + 1]; ++e) {
      if (--remaining[job.succ[e]] == 0) order.push_back(job.succ[e]);
    }
  }
  if (order.size() == n) return order;
  std::vector<bool> left(n);
  for (uint32_t i = 0; i < n; ++i) left[i] = remaining[i] > 0;
  return CycleError(job, left);
}

}  // namespace

absl::StatusOr<CompiledJob> CompileJob(v1::JobSpec spec,
                                       const JobLimits& limits) {
  uint64_t spec_bytes = 0;
  if (absl::Status s = CheckJobFields(spec, limits, &spec_bytes); !s.ok()) {
    return s;
  }
  CompiledJob job;
  job.spec_bytes = spec_bytes;
  job.spec = std::make_shared<const v1::JobSpec>(std::move(spec));
  const uint32_t n = job.spec->tasks_size();
  job.dep_count.resize(n);
  absl::flat_hash_map<absl::string_view, uint32_t> index;
  index.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    if (absl::Status s = CheckTaskFields(*job.spec, i, limits); !s.ok()) {
      return s;
    }
    if (absl::Status s = CompileExecutor(i, limits, job); !s.ok()) return s;
    auto [it, inserted] = index.emplace(job.spec->tasks(i).id(), i);
    if (!inserted) {
      return TaskError(
          *job.spec, i,
          absl::StrCat("duplicate id (also task #", it->second, ")"));
    }
  }
  if (absl::Status s = BuildEdges(index, job); !s.ok()) return s;
  absl::StatusOr<std::vector<uint32_t>> order = TopologicalOrder(job);
  if (!order.ok()) return order.status();
  job.rank.assign(n, 0);
  for (auto it = order->rbegin(); it != order->rend(); ++it) {
    const uint32_t v = *it;
    double longest = 0;
    for (uint32_t e = job.succ_begin[v]; e < job.succ_begin[v + 1]; ++e) {
      longest = std::max(longest, job.rank[job.succ[e]]);
    }
    const double cost = job.spec->tasks(v).cost();
    job.rank[v] = (cost > 0 ? cost : 1.0) + longest;
  }
  return job;
}

}  // namespace dagd
