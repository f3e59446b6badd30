// A job file's bytes, the way they reach the scheduler: parsed as dagctl
// reads a job file (ParseJobSpecJson) and, as raw gRPC clients may send
// anything, also as a binary JobSpec; compiled as dagd compiles a
// submission (CompileJob); and a compiled job run on the scheduler core
// with workers that can run it, every task succeeding.
//
// Checks: every error is INVALID_ARGUMENT with a message; a job that
// compiles without Lambda compiles with it too; the compiled job's index
// form is consistent with its spec; and the scheduler finishes a job whose
// tasks all succeed as SUCCEEDED, each task run once.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "client/job_file.h"
#include "dagd/v1/types.pb.h"
#include "proto/states.h"
#include "server/job_compiler.h"
#include "server/scheduler.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/testutil/fake_clock.h"

namespace dagd {
namespace {

constexpr char kLambdaFunction[] = "fn-lambda";

void CheckError(const absl::Status& status, absl::string_view what) {
  FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument,
             absl::StrCat(what, " failed with ", status.ToString()));
  FUZZ_CHECK(!status.message().empty(), absl::StrCat(what, ": no message"));
}

// The index form says what the spec says.
void CheckCompiled(const v1::JobSpec& spec, const CompiledJob& job) {
  const uint32_t n = job.size();
  FUZZ_CHECK(n == static_cast<uint32_t>(spec.tasks_size()) &&
                 n == job.tasks->size() && n == job.kind_of.size(),
             "size");
  FUZZ_CHECK(job.succ_begin.size() == n + 1 && job.input_begin.size() == n + 1,
             "offset arrays");
  FUZZ_CHECK(job.rank.size() == n, "ranks");
  FUZZ_CHECK(job.succ_begin[0] == 0 && job.succ_begin[n] == job.succ.size(),
             "successor offsets");
  FUZZ_CHECK(job.input_begin[0] == 0 && job.input_begin[n] == job.inputs.size(),
             "input offsets");
  uint64_t edges = 0;
  for (uint32_t i = 0; i < n; ++i) {
    const v1::TaskSpec& task = spec.tasks(i);
    // The encoded task is the task, and its kind and priority are its own.
    const v1::TaskSpec kept = job.tasks->Get(i);
    FUZZ_CHECK(kept.id() == task.id() && job.tasks->id(i) == task.id() &&
                   kept.inputs_size() == task.inputs_size() &&
                   kept.after_size() == task.after_size() &&
                   kept.args().DebugString() == task.args().DebugString() &&
                   kept.code() == task.code(),
               absl::StrCat("encoded task ", i));
    FUZZ_CHECK(job.kind_of[i] < job.kinds.size() &&
                   job.kind(i).fn == task.fn() &&
                   job.kind(i).exclusive_group == task.exclusive_group() &&
                   job.kind(i).resources.slots() == task.resources().slots(),
               absl::StrCat("kind of task ", i));
    FUZZ_CHECK(job.priority_of(i) == task.priority(),
               absl::StrCat("priority of task ", i));
    FUZZ_CHECK(job.succ_begin[i] <= job.succ_begin[i + 1], "successor order");
    FUZZ_CHECK(job.input_begin[i + 1] - job.input_begin[i] ==
                   static_cast<uint32_t>(task.inputs_size()),
               absl::StrCat("inputs of task ", i));
    FUZZ_CHECK(job.dep_count[i] == static_cast<uint32_t>(task.inputs_size() +
                                                         task.after_size()),
               absl::StrCat("dependencies of task ", i));
    for (uint32_t e = job.input_begin[i]; e < job.input_begin[i + 1]; ++e) {
      FUZZ_CHECK(job.inputs[e] < n && job.inputs[e] != i, "input index");
      FUZZ_CHECK(
          spec.tasks(job.inputs[e]).id() == task.inputs(e - job.input_begin[i]),
          "input names another task");
    }
    for (uint32_t e = job.succ_begin[i]; e < job.succ_begin[i + 1]; ++e) {
      FUZZ_CHECK(job.succ[e] < n, "successor index");
      // The longest path from a task includes its successors'.
      FUZZ_CHECK(job.rank[job.succ[e]] <= job.rank[i], "rank of a successor");
    }
    FUZZ_CHECK(job.rank[i] > 0 && !std::isnan(job.rank[i]), "rank");
    edges += job.dep_count[i];
  }
  FUZZ_CHECK(edges == job.succ.size(), "edge count");
  for (const TaskKind& kind : job.kinds) {
    FUZZ_CHECK(kind.executor < job.executors.size(), "executor index");
  }
}

// Workers that can run every task of `job`: one per distinct executor,
// each offering every function, pool label and amount the job asks for.
std::vector<WorkerSpec> WorkersFor(const CompiledJob& job) {
  WorkerSpec base;
  std::set<std::string> fns;
  std::set<std::pair<std::string, std::string>> labels;
  std::map<std::string, double> amounts;
  for (const TaskKind& kind : job.kinds) {
    fns.insert(kind.fn);
    base.slots = std::max(base.slots, kind.resources.slots());
    for (const auto& label : kind.resources.labels()) labels.insert(label);
    for (const auto& [name, amount] : kind.resources.amounts()) {
      amounts[name] = std::max(amounts[name], amount);
    }
  }
  base.functions.assign(fns.begin(), fns.end());
  base.labels.assign(labels.begin(), labels.end());
  base.resources.assign(amounts.begin(), amounts.end());
  base.accepts_grants = true;
  std::vector<WorkerSpec> workers;
  for (const Executor& executor : job.executors) {
    WorkerSpec& spec = workers.emplace_back(base);
    spec.name = absl::StrCat("worker-", workers.size());
    if (executor.kind == Executor::Kind::kPool) spec.pool = executor.name;
    if (executor.kind == Executor::Kind::kLambda) {
      spec.pool = std::string(kLambdaPool);
      spec.lambda = true;
      spec.any_function = true;
    }
  }
  return workers;
}

// Runs `job` with every task succeeding at once; it must end SUCCEEDED,
// each task having run once.
void RunToTheEnd(CompiledJob job) {
  FakeClock clock;
  SchedulerOptions options;
  options.lambda_function = kLambdaFunction;
  Scheduler scheduler(options, &clock, [] { return 0.5; });
  const std::vector<WorkerSpec> workers = WorkersFor(job);
  for (size_t w = 0; w < workers.size(); ++w) {
    scheduler.AddWorker(w + 1, workers[w]);
  }
  const uint32_t n = job.size();
  constexpr uint64_t kSeq = 1;
  v1::JobStatus status;
  status.set_job_id(JobIdFromSeq(kSeq));
  status.set_state(v1::JOB_PENDING);
  scheduler.AddJob(kSeq, std::move(job), status);
  std::vector<int> runs(n, 0);
  std::optional<v1::JobState> final_state;
  // Each turn runs at least the best ready task.
  for (uint32_t turn = 0; turn <= n + 1 && !final_state; ++turn) {
    scheduler.Tick();
    scheduler.Schedule();
    TurnOutput out = scheduler.TakeOutput();
    for (const auto& [seq, job_status] : out.writes.job_statuses) {
      if (IsFinal(job_status.state())) final_state = job_status.state();
    }
    for (auto& [worker, batch] : out.sends) {
      // In batch order: a task granted ahead comes after its predecessor.
      for (const v1::Assignment& a : batch.assignments()) {
        FUZZ_CHECK(a.task().task_index() < n, "assignment index");
        ++runs[a.task().task_index()];
        v1::TaskResult result;
        *result.mutable_task() = a.task();
        result.set_ok(true);
        result.mutable_output()->set_data("1");
        result.mutable_output()->set_content_type("application/json");
        scheduler.OnTaskResult(worker, std::move(result));
      }
    }
  }
  if (!final_state) {
    scheduler.Tick();
    scheduler.Schedule();
    for (const auto& [seq, job_status] :
         scheduler.TakeOutput().writes.job_statuses) {
      if (IsFinal(job_status.state())) final_state = job_status.state();
    }
  }
  FUZZ_CHECK(final_state.has_value(), "the job did not finish");
  FUZZ_CHECK(*final_state == v1::JOB_SUCCEEDED,
             absl::StrCat("the job ended ", v1::JobState_Name(*final_state)));
  for (uint32_t i = 0; i < n; ++i) {
    FUZZ_CHECK(runs[i] == 1,
               absl::StrCat("task ", i, " ran ", runs[i], " times"));
  }
  FUZZ_CHECK(!scheduler.HasJob(kSeq), "a finished job stays in memory");
}

void CompileAndRun(const v1::JobSpec& spec) {
  absl::StatusOr<CompiledJob> plain = CompileJob(spec, JobLimits{});
  JobLimits lambda;
  lambda.lambda = true;
  lambda.lambda_functions = {kLambdaFunction, "other"};
  absl::StatusOr<CompiledJob> with_lambda = CompileJob(spec, lambda);
  if (!plain.ok()) CheckError(plain.status(), "CompileJob");
  if (!with_lambda.ok()) {
    CheckError(with_lambda.status(), "CompileJob with Lambda");
    FUZZ_CHECK(!plain.ok(), "compiles without Lambda but not with it");
    return;
  }
  CheckCompiled(spec, *with_lambda);
  RunToTheEnd(*std::move(with_lambda));
}

}  // namespace
}  // namespace dagd

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using dagd::v1::JobSpec;
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<JobSpec> spec = dagd::ParseJobSpecJson(text);
  if (spec.ok()) {
    dagd::CompileAndRun(*spec);
  } else {
    dagd::CheckError(spec.status(), "ParseJobSpecJson");
  }
  JobSpec binary;
  if (binary.ParseFromArray(data, static_cast<int>(size))) {
    dagd::CompileAndRun(binary);
  }
  return 0;
}
