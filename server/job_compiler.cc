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
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/time_util.h"
#include "server/control_chars.h"

namespace dagd {
namespace {

using google::protobuf::Duration;
using google::protobuf::util::TimeUtil;

constexpr uint32_t kMaxAttempts = 1000;
constexpr int kMaxCycleNames = 20;

// How a task is named in messages: its id, or its position when it has none.
std::string TaskName(absl::string_view id, uint32_t i) {
  if (id.empty()) return absl::StrCat("task #", i, " (no id)");
  if (HasControl(id)) {
    return absl::StrCat("task #", i, " ('", absl::CHexEscape(id), "')");
  }
  return absl::StrCat("task '", id, "'");
}

absl::Status TaskError(absl::string_view id, uint32_t i,
                       absl::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat(TaskName(id, i), ": ", problem));
}

absl::Status TaskError(const v1::TaskSpec& task, uint32_t i,
                       absl::string_view problem) {
  return TaskError(task.id(), i, problem);
}

// Parses the task's executor and keeps it in the job's table of distinct
// executors (its index in `*index`; `indexes` finds each by its text, so a
// job of many distinct executors costs no more per task than one of few).
// Lambda executors need a dagd that dispatches to Lambda.
absl::Status CompileExecutor(
    const v1::TaskSpec& task, uint32_t i, const JobLimits& limits,
    CompiledJob& job, absl::flat_hash_map<std::string, uint32_t>& indexes,
    uint32_t* index) {
  *index = 0;
  const std::string& text = task.executor();
  if (text.empty()) return absl::OkStatus();
  absl::StatusOr<Executor> executor = Executor::Parse(text);
  if (!executor.ok()) return TaskError(task, i, executor.status().message());
  if (executor->kind == Executor::Kind::kLambda && !limits.lambda) {
    return TaskError(
        task, i,
        absl::StrCat("executor '", text,
                     "': this dagd does not dispatch to Lambda (start it "
                     "with --lambda_function)"));
  }
  if (executor->kind == Executor::Kind::kLambda && !executor->name.empty() &&
      !limits.any_lambda_function &&
      std::find(limits.lambda_functions.begin(), limits.lambda_functions.end(),
                executor->name) == limits.lambda_functions.end()) {
    return TaskError(
        task, i,
        absl::StrCat("executor '", text, "': Lambda function '", executor->name,
                     "' is not one this dagd may invoke (its "
                     "--lambda_function, or --lambda_allowed_functions)"));
  }
  auto [it, inserted] =
      indexes.try_emplace(executor->ToString(), job.executors.size());
  if (inserted) job.executors.push_back(*std::move(executor));
  *index = it->second;
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

absl::Status CheckJobBytes(uint64_t bytes, const JobLimits& limits) {
  if (bytes > limits.max_job_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("job: is ", bytes, " bytes encoded, over the limit of ",
                     limits.max_job_bytes, " (--max_job_bytes)"));
  }
  return absl::OkStatus();
}

absl::Status CheckHeader(const v1::JobSpec& header) {
  if (std::string problem = DurationProblem(header.deadline(), "deadline");
      !problem.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("job: ", problem));
  }
  if (HasControl(header.name())) {
    return absl::InvalidArgumentError(
        absl::StrCat("job: name '", absl::CHexEscape(header.name()),
                     "' holds control characters"));
  }
  return absl::OkStatus();
}

absl::Status CheckRetry(const v1::TaskSpec& task, uint32_t i) {
  const v1::RetryPolicy& retry = task.retry();
  if (retry.max_attempts() > kMaxAttempts) {
    return TaskError(task, i,
                     absl::StrCat("retry.max_attempts ", retry.max_attempts(),
                                  " is over the limit of ", kMaxAttempts));
  }
  for (const auto& [backoff, field] :
       {std::pair<const Duration*, const char*>{&retry.initial_backoff(),
                                                "retry.initial_backoff"},
        {&retry.max_backoff(), "retry.max_backoff"}}) {
    if (std::string problem = DurationProblem(*backoff, field);
        !problem.empty()) {
      return TaskError(task, i, problem);
    }
  }
  if (retry.multiplier() != 0 &&
      (!std::isfinite(retry.multiplier()) || retry.multiplier() < 1)) {
    return TaskError(task, i, "retry.multiplier must be at least 1");
  }
  return absl::OkStatus();
}

// Checks what can be checked of one task without looking at the others.
absl::Status CheckTaskFields(const v1::TaskSpec& task, uint32_t i) {
  if (task.id().empty()) return TaskError(task, i, "id is empty");
  if (task.fn().empty()) return TaskError(task, i, "fn is empty");
  for (const auto& [text, field] :
       {std::pair<const std::string*, const char*>{&task.id(), "id"},
        {&task.fn(), "fn"},
        {&task.executor(), "executor"},
        {&task.exclusive_group(), "exclusive_group"}}) {
    if (HasControl(*text)) {
      return TaskError(task, i,
                       absl::StrCat(field, " '", absl::CHexEscape(*text),
                                    "' holds control characters"));
    }
  }
  if (task.has_args()) {
    if (std::string problem = ArgsProblem(task.args(), kMaxArgsDepth);
        !problem.empty()) {
      return TaskError(task, i, problem);
    }
  }
  for (const auto& [name, amount] : task.resources().amounts()) {
    if (name.empty() || HasControl(name)) {
      return TaskError(task, i,
                       "resources.amounts has an empty name or one with "
                       "control characters");
    }
    if (!std::isfinite(amount) || amount < 0) {
      return TaskError(
          task, i,
          absl::StrCat("resources.amounts '", name,
                       "' must be a finite number >= 0, not ", amount));
    }
  }
  for (const auto& [key, value] : task.resources().labels()) {
    if (key.empty()) {
      return TaskError(task, i, "resources.labels has an empty name");
    }
    if (HasControl(key)) {
      return TaskError(
          task, i,
          absl::StrCat("resources.labels: the name '", absl::CHexEscape(key),
                       "' holds control characters"));
    }
    if (HasControl(value)) {
      return TaskError(
          task, i,
          absl::StrCat("resources.labels '", key, "': the value '",
                       absl::CHexEscape(value), "' holds control characters"));
    }
  }
  if (std::string problem = DurationProblem(task.timeout(), "timeout");
      !problem.empty()) {
    return TaskError(task, i, problem);
  }
  if (!std::isfinite(task.cost()) || task.cost() < 0) {
    return TaskError(task, i, "cost must be a finite number >= 0");
  }
  return CheckRetry(task, i);
}

// Resolves every `inputs` and `after` entry to an index and builds the edge
// arrays. `index` maps ids to positions.
absl::Status BuildEdges(const TaskIdIndex& index, const JobTasks& tasks,
                        CompiledJob& job) {
  const uint32_t n = job.size();
  // (from, to): edges of `inputs`, then of `after`.
  std::vector<std::pair<uint32_t, uint32_t>> edges, after_edges;
  job.input_begin.assign(n + 1, 0);
  absl::Status error;
  auto resolve = [&](uint32_t i, absl::string_view dep,
                     absl::string_view field) -> uint32_t {
    // Most often a task's input is the task listed just before it (chains,
    // graphs listed in order): its encoding is at hand, where a lookup in
    // the index of a big job is a cache miss or two (8 of a ten-million-
    // task job's 22 s of compiling). Ids are unique by now.
    const uint32_t from =
        i > 0 && tasks.id(i - 1) == dep ? i - 1 : index.Find(dep);
    if (from == TaskIdIndex::kNone) {
      // Escaped as a task's id is (TaskName): no task checked this name.
      error = TaskError(tasks.id(i), i,
                        absl::StrCat(field, " '", EscapedIfControl(dep),
                                     "' names no task in the job"));
    } else if (from == i) {
      error = TaskError(
          tasks.id(i), i,
          absl::StrCat("depends on itself (", field, " '", dep, "')"));
    } else {
      return from;
    }
    return TaskIdIndex::kNone;
  };
  for (uint32_t i = 0; i < n && error.ok(); ++i) {
    job.input_begin[i] = job.inputs.size();
    // Inputs, then `after`, each in order: as a parser would list them.
    for (uint32_t field :
         {v1::TaskSpec::kInputsFieldNumber, v1::TaskSpec::kAfterFieldNumber}) {
      absl::Status scanned = ForEachLengthDelimited(
          tasks.encoded(i), [&](uint32_t f, absl::string_view dep) {
            if (f != field || !error.ok()) return;
            const bool input = f == v1::TaskSpec::kInputsFieldNumber;
            const uint32_t from = resolve(i, dep, input ? "input" : "after");
            if (from == TaskIdIndex::kNone) return;
            if (input) {
              job.inputs.push_back(from);
              edges.emplace_back(from, i);
            } else {
              after_edges.emplace_back(from, i);
            }
          });
      if (!scanned.ok()) return TaskError(tasks.id(i), i, scanned.message());
    }
  }
  if (!error.ok()) return error;
  job.input_begin[n] = job.inputs.size();
  // Counting sort of the edges by source gives the flat successor lists,
  // each task's readers first.
  job.succ_begin.assign(n + 1, 0);
  for (const auto* list : {&edges, &after_edges}) {
    for (const auto& [from, to] : *list) {
      ++job.succ_begin[from + 1];
      ++job.dep_count[to];
    }
  }
  for (uint32_t i = 0; i < n; ++i) job.succ_begin[i + 1] += job.succ_begin[i];
  job.succ.resize(edges.size() + after_edges.size());
  std::vector<uint32_t> fill(job.succ_begin.begin(), job.succ_begin.end() - 1);
  for (const auto& [from, to] : edges) job.succ[fill[from]++] = to;
  if (!after_edges.empty()) {
    job.readers_end = fill;
    for (const auto& [from, to] : after_edges) job.succ[fill[from]++] = to;
    // Listed task by task, in order: already sorted by `to`.
    job.after_begin.assign(n + 1, 0);
    for (const auto& [from, to] : after_edges) ++job.after_begin[to + 1];
    for (uint32_t i = 0; i < n; ++i) {
      job.after_begin[i + 1] += job.after_begin[i];
    }
    job.after.reserve(after_edges.size());
    for (const auto& [from, to] : after_edges) job.after.push_back(from);
  }
  return absl::OkStatus();
}

// Names the tasks on one cycle among the tasks Kahn's algorithm could not
// order (`left[i]` is true for those). Each such task has a predecessor that
// is also left, so walking predecessors must revisit a task: the walk from
// that task onwards is a cycle.
absl::Status CycleError(const CompiledJob& job, const JobTasks& tasks,
                        const std::vector<bool>& left) {
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
  auto name = [&](uint32_t t) { return absl::StrCat("'", tasks.id(t), "'"); };
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
absl::StatusOr<std::vector<uint32_t>> TopologicalOrder(const CompiledJob& job,
                                                       const JobTasks& tasks) {
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
  return CycleError(job, tasks, left);
}

}  // namespace

absl::Status CheckRequestId(absl::string_view request_id) {
  if (request_id.size() > kMaxRequestIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("request_id: is ", request_id.size(),
                     " bytes, over the limit of ", kMaxRequestIdBytes));
  }
  if (HasControl(request_id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("request_id '", absl::CHexEscape(request_id),
                     "' holds control characters"));
  }
  return absl::OkStatus();
}

absl::Status TooManyTasks(uint64_t tasks, const JobLimits& limits) {
  return absl::InvalidArgumentError(
      absl::StrCat("job: has ", tasks, " tasks, over the limit of ",
                   limits.max_tasks_per_job, " (--max_tasks_per_job)"));
}

JobCompiler::JobCompiler(const JobLimits& limits) : limits_(limits) {}

absl::Status JobCompiler::Begin(uint64_t bytes, uint32_t tasks) {
  job_.spec_bytes = bytes;
  if (absl::Status s = CheckJobBytes(bytes, limits_); !s.ok()) return s;
  if (tasks > limits_.max_tasks_per_job) return TooManyTasks(tasks, limits_);
  tasks_->Reserve(tasks);
  job_.kind_of.reserve(tasks);
  job_.rank.reserve(tasks);
  return absl::OkStatus();
}

absl::Status JobCompiler::AddTask(const v1::TaskSpec& task) {
  const uint32_t i = tasks_->size();
  if (i == limits_.max_tasks_per_job) {
    return absl::InvalidArgumentError(
        absl::StrCat("job: has more than ", limits_.max_tasks_per_job,
                     " tasks, over the limit (--max_tasks_per_job)"));
  }
  if (absl::Status s = CheckTaskFields(task, i); !s.ok()) return s;
  uint32_t kind = 0;
  if (absl::Status s = KindOf(i, task, &kind); !s.ok()) return s;
  job_.kind_of.push_back(kind);
  if (task.priority() != 0 || !job_.priority.empty()) {
    job_.priority.resize(i, 0);
    job_.priority.push_back(task.priority());
  }
  if (task.output()) job_.marked_outputs.push_back(i);
  // The task's own cost for now; Finish adds its successors' longest path.
  job_.rank.push_back(task.cost() > 0 ? task.cost() : 1.0);
  tasks_->Add(task);
  return absl::OkStatus();
}

absl::Status JobCompiler::KindOf(uint32_t i, const v1::TaskSpec& task,
                                 uint32_t* kind) {
  const bool plain = !task.has_resources() && task.executor().empty() &&
                     task.exclusive_group().empty();
  std::string key;
  if (plain) {
    // The common case: found by fn alone.
    if (auto it = plain_kinds_.find(task.fn()); it != plain_kinds_.end()) {
      *kind = it->second;
      return absl::OkStatus();
    }
    key = task.fn();
  }
  uint32_t executor = 0;
  if (absl::Status s =
          CompileExecutor(task, i, limits_, job_, executor_indexes_, &executor);
      !s.ok()) {
    return s;
  }
  absl::flat_hash_map<std::string, uint32_t>* kinds = &plain_kinds_;
  std::string resources;
  if (!plain) {
    // Every part length-prefixed, and the resources encoded with their maps
    // in key order: no two different kinds spell the same key.
    {
      google::protobuf::io::StringOutputStream stream(&resources);
      google::protobuf::io::CodedOutputStream out(&stream);
      out.SetSerializationDeterministic(true);
      task.resources().SerializeToCodedStream(&out);
    }
    key = absl::StrCat(task.fn().size(), ":", task.fn(), "/", executor, "/",
                       task.exclusive_group().size(), ":",
                       task.exclusive_group(), "/", resources);
    kinds = &other_kinds_;
  }
  auto [it, inserted] = kinds->try_emplace(std::move(key), job_.kinds.size());
  if (inserted) {
    job_.kinds.push_back(TaskKind{task.fn(), task.resources(), executor,
                                  task.exclusive_group()});
    // Placement tells kinds apart by all but their group.
    if (placement_kinds_
            .insert(absl::StrCat(task.fn().size(), ":", task.fn(), "/",
                                 executor, "/", resources))
            .second &&
        placement_kinds_.size() > limits_.max_task_kinds_per_job) {
      return TaskError(
          task, i,
          absl::StrCat("its fn, resources and executor make one kind of "
                       "task more than the ",
                       limits_.max_task_kinds_per_job,
                       " a job may have (--max_task_kinds_per_job)"));
    }
  }
  *kind = it->second;
  return absl::OkStatus();
}

absl::StatusOr<CompiledJob> JobCompiler::Finish(v1::JobSpec header) && {
  const uint32_t n = tasks_->size();
  if (n == 0) return absl::InvalidArgumentError("job: has no tasks");
  if (absl::Status s = CheckHeader(header); !s.ok()) return s;
  header.clear_tasks();
  const JobTasks& tasks = *tasks_;
  {
    const TaskIdIndex index(tasks);
    uint32_t earlier = 0;
    if (const uint32_t i = index.FirstDuplicate(&earlier);
        i != TaskIdIndex::kNone) {
      return TaskError(tasks.id(i), i,
                       absl::StrCat("duplicate id (also task #", earlier, ")"));
    }
    job_.dep_count.assign(n, 0);
    if (absl::Status s = BuildEdges(index, tasks, job_); !s.ok()) return s;
  }
  absl::StatusOr<std::vector<uint32_t>> order = TopologicalOrder(job_, tasks);
  if (!order.ok()) return order.status();
  for (auto it = order->rbegin(); it != order->rend(); ++it) {
    const uint32_t v = *it;
    double longest = 0;
    for (uint32_t e = job_.succ_begin[v]; e < job_.succ_begin[v + 1]; ++e) {
      longest = std::max(longest, job_.rank[job_.succ[e]]);
    }
    job_.rank[v] += longest;
  }
  job_.header = std::make_shared<const v1::JobSpec>(std::move(header));
  job_.tasks = std::move(tasks_);
  return std::move(job_);
}

absl::StatusOr<CompiledJob> CompileJob(v1::JobSpec spec,
                                       const JobLimits& limits) {
  JobCompiler compiler(limits);
  if (absl::Status s = compiler.Begin(spec.ByteSizeLong(), spec.tasks_size());
      !s.ok()) {
    return s;
  }
  for (const v1::TaskSpec& task : spec.tasks()) {
    if (absl::Status s = compiler.AddTask(task); !s.ok()) return s;
  }
  return std::move(compiler).Finish(std::move(spec));
}

absl::StatusOr<CompiledJob> CompileJob(v1::JobSpec header,
                                       const JobTasks& tasks,
                                       const JobLimits& limits) {
  JobCompiler compiler(limits);
  if (absl::Status s = compiler.Begin(tasks.bytes(), tasks.size()); !s.ok()) {
    return s;
  }
  v1::TaskSpec task;
  for (uint32_t i = 0; i < tasks.size(); ++i) {
    const absl::string_view encoded = tasks.encoded(i);
    if (!task.ParseFromArray(encoded.data(),
                             static_cast<int>(encoded.size()))) {
      // Stored bytes that do not parse are damage, not a bad job.
      return absl::DataLossError(
          absl::StrCat("task #", i, ": not an encoded TaskSpec"));
    }
    if (absl::Status s = compiler.AddTask(task); !s.ok()) return s;
  }
  return std::move(compiler).Finish(std::move(header));
}

}  // namespace dagd
