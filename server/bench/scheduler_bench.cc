// Throughput of the scheduler core alone: no gRPC, no store, no threads.
//
// Each iteration submits one job (AddJob) and drives it to its end the way
// the coordinator's loop does: Tick(), Schedule(), TakeOutput() per turn,
// then every assignment of that turn is reported back as succeeded with a
// one-byte payload. Two fake workers with 64 slots each run every function.
// Compiling the job (CompileJob) and copying the compiled job happen with
// the timer paused: they are submission costs of their own, measured by
// BM_CompileJob. Freeing each turn's TurnOutput and the finished job (which
// TakeOutput() does) is timed: the coordinator's thread pays for both.
//
// items_per_second counts task state transitions: PENDING->READY,
// READY->ASSIGNED and ASSIGNED->SUCCEEDED (the fake workers send no
// TaskStarted, so RUNNING is skipped). ASSIGNED and SUCCEEDED are counted
// from the core's output (assignments sent, task statuses written); READY
// equals ASSIGNED because no task fails or is lost, so it is enqueued once.
// An iteration whose counts differ from 3 per task fails the benchmark.
// Rates are per CPU second of the benchmark thread (Google Benchmark's
// default), which is steadier than wall time on a shared machine.
//
// Run (from the build directory):
//   bin/scheduler_bench --benchmark_repetitions=3
//       --benchmark_report_aggregates_only=true

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "server/job_compiler.h"
#include "server/scheduler.h"
#include "storage/base/clock.h"

namespace dagd {
namespace {

// The default fleet: two workers of 64 slots, as dagbench's local workers.
constexpr uint32_t kWorkers = 2;
constexpr uint32_t kSlotsPerWorker = 64;

std::string TaskId(int i) { return absl::StrCat("t", i); }

v1::TaskSpec* AddConst(v1::JobSpec& job, int id, double value) {
  v1::TaskSpec* task = job.add_tasks();
  task->set_id(TaskId(id));
  task->set_fn("const");
  (*task->mutable_args()->mutable_struct_value()->mutable_fields())["value"]
      .set_number_value(value);
  return task;
}

// A balanced binary tree of `leaves` const leaves (a power of two) summed
// pairwise by leaves - 1 adds. Heap numbering: node i has children 2i and
// 2i+1; leaves are listed first, then adds from the bottom up.
v1::JobSpec Tree(int leaves) {
  v1::JobSpec job;
  job.set_name("tree");
  for (int i = leaves; i < 2 * leaves; ++i) AddConst(job, i, 1);
  for (int i = leaves - 1; i >= 1; --i) {
    v1::TaskSpec* task = job.add_tasks();
    task->set_id(TaskId(i));
    task->set_fn("add");
    task->add_inputs(TaskId(2 * i));
    task->add_inputs(TaskId(2 * i + 1));
  }
  return job;
}

// `width` const tasks and one add of all of them.
v1::JobSpec Wide(int width) {
  v1::JobSpec job;
  job.set_name("wide");
  v1::TaskSpec sum;
  sum.set_id("sum");
  sum.set_fn("add");
  for (int i = 0; i < width; ++i) {
    AddConst(job, i, 1);
    sum.add_inputs(TaskId(i));
  }
  *job.add_tasks() = std::move(sum);
  return job;
}

// `length` adds, each of the previous one's output (the first of none).
v1::JobSpec Chain(int length) {
  v1::JobSpec job;
  job.set_name("chain");
  for (int i = 0; i < length; ++i) {
    v1::TaskSpec* task = job.add_tasks();
    task->set_id(TaskId(i));
    task->set_fn("add");
    if (i > 0) task->add_inputs(TaskId(i - 1));
  }
  return job;
}

// `chains` independent chains of `length` identity tasks each.
v1::JobSpec Chains(int chains, int length) {
  v1::JobSpec job;
  job.set_name("chains");
  job.mutable_tasks()->Reserve(chains * length);
  for (int c = 0; c < chains; ++c) {
    for (int i = 0; i < length; ++i) {
      const int id = c * length + i;
      v1::TaskSpec* task = job.add_tasks();
      task->set_id(TaskId(id));
      task->set_fn("identity");
      if (i > 0) task->add_inputs(TaskId(id - 1));
    }
  }
  return job;
}

CompiledJob MustCompile(v1::JobSpec spec) {
  absl::StatusOr<CompiledJob> job = CompileJob(std::move(spec), JobLimits{});
  if (!job.ok()) {
    // A programmer error in the shapes above, not a measurement.
    fprintf(stderr, "scheduler_bench: %s\n", job.status().ToString().c_str());
    abort();
  }
  return *std::move(job);
}

// What driving one job to its end produced, as seen from outside the core.
// The harness's clock: one thread reads and moves it, so it needs none of
// the test FakeClock's atomics (whose conversions cost a visible share of a
// one-task turn).
class BenchClock : public Clock {
 public:
  absl::Time Now() override { return now_; }
  void Advance(absl::Duration d) { now_ += d; }

 private:
  absl::Time now_ = absl::FromUnixSeconds(1'700'000'000);
};

struct RunCounts {
  uint64_t assigned = 0;   // READY -> ASSIGNED: assignments sent
  uint64_t succeeded = 0;  // ASSIGNED -> SUCCEEDED: task statuses written
  uint64_t turns = 0;
  bool finished = false;  // the job's final status was written
};

// The scheduler, its clock and `workers` idle workers, kept across
// iterations: a finished job leaves the core's memory at the TakeOutput()
// that hands over its end, so each iteration starts from the same state.
class Harness {
 public:
  explicit Harness(uint32_t workers = kWorkers,
                   uint32_t slots = kSlotsPerWorker, Fill fill = Fill::kSpread)
      : scheduler_(OptionsOf(fill), &clock_, [] { return 0.0; }) {
    for (WorkerId id = 1; id <= workers; ++id) {
      WorkerSpec spec;
      spec.name = absl::StrCat("bench-worker-", id);
      spec.slots = slots;
      spec.functions = {"const", "add", "identity"};
      scheduler_.AddWorker(id, std::move(spec));
    }
  }

  static SchedulerOptions OptionsOf(Fill fill) {
    SchedulerOptions options;
    options.fill = fill;
    return options;
  }

  // Submits `job` and runs it to its end: the timed part. Not inlined, so
  // a profiler (perf, callgrind --toggle-collect) can isolate it.
  ABSL_ATTRIBUTE_NOINLINE RunCounts Run(CompiledJob job) {
    const uint64_t seq = next_seq_++;
    v1::JobStatus status;
    status.set_job_id(JobIdFromSeq(seq));
    status.set_name(job.header->name());
    status.set_state(v1::JOB_PENDING);
    status.set_total_tasks(job.size());
    scheduler_.AddJob(seq, std::move(job), std::move(status));
    RunCounts counts;
    while (!counts.finished) {
      clock_.Advance(absl::Milliseconds(1));
      scheduler_.Tick();
      scheduler_.Schedule();
      TurnOutput out = scheduler_.TakeOutput();
      ++counts.turns;
      for (const WriteSet::TaskWrite& w : out.writes.task_statuses) {
        if (w.status.state() == v1::TASK_SUCCEEDED) ++counts.succeeded;
      }
      for (const auto& [job_seq, s] : out.writes.job_statuses) {
        if (job_seq == seq && s.state() == v1::JOB_SUCCEEDED) {
          counts.finished = true;
        }
      }
      uint64_t sent = 0;
      for (auto& [worker, batch] : out.sends) {
        for (v1::Assignment& a : *batch.mutable_assignments()) {
          Report(worker, a);
          ++sent;
        }
      }
      counts.assigned += sent;
      if (sent == 0 && !counts.finished) break;  // stuck: a bug, reported
    }
    return counts;
  }

 private:
  // What a worker sends for an attempt that succeeded.
  void Report(WorkerId worker, v1::Assignment& a) {
    v1::TaskResult result;
    result.set_allocated_task(a.release_task());
    result.set_ok(true);
    result.mutable_output()->set_data("1");
    result.mutable_output()->set_content_type("application/json");
    const int64_t now_ms = absl::ToUnixMillis(clock_.Now());
    result.set_started_unix_ms(now_ms);
    result.set_finished_unix_ms(now_ms);
    scheduler_.OnTaskResult(worker, std::move(result));
  }

  BenchClock clock_;
  Scheduler scheduler_;
  uint64_t next_seq_ = 1;
};

// Runs `compiled` once per iteration on `harness`, and reports its rates.
void RunJobs(benchmark::State& state, Harness& harness,
             const CompiledJob& compiled) {
  const uint64_t tasks = compiled.size();
  uint64_t transitions = 0;
  uint64_t turns = 0;
  for (auto _ : state) {
    state.PauseTiming();
    CompiledJob job = compiled;
    state.ResumeTiming();
    const RunCounts counts = harness.Run(std::move(job));
    if (!counts.finished || counts.assigned != tasks ||
        counts.succeeded != tasks) {
      state.SkipWithError(
          absl::StrCat("job did not run as expected: finished=",
                       counts.finished, " assigned=", counts.assigned,
                       " succeeded=", counts.succeeded, " of ", tasks)
              .c_str());
      return;
    }
    // READY (once per task: nothing failed or was lost) + ASSIGNED +
    // SUCCEEDED.
    transitions += counts.assigned + counts.assigned + counts.succeeded;
    turns += counts.turns;
  }
  state.SetItemsProcessed(static_cast<int64_t>(transitions));
  state.counters["transitions"] = benchmark::Counter(
      static_cast<double>(transitions), benchmark::Counter::kIsRate);
  state.counters["tasks"] =
      benchmark::Counter(static_cast<double>(tasks * state.iterations()),
                         benchmark::Counter::kIsRate);
  state.counters["tasks_per_job"] = static_cast<double>(tasks);
  state.counters["turns_per_job"] = benchmark::Counter(
      static_cast<double>(turns), benchmark::Counter::kAvgIterations);
}

void BM_RunJob(benchmark::State& state, v1::JobSpec (*shape)()) {
  const CompiledJob compiled = MustCompile(shape());
  Harness harness;
  RunJobs(state, harness, compiled);
}

// The wide shape on a fleet of state.range(0) workers sharing 2,000 slots
// (10 x 200 ... 1,000 x 2): what placing a task costs as the fleet grows,
// with the turns the same (2,000 placements each) so that only the number
// of workers to choose among differs. BM_FleetPacked: the same with
// --placement=pack, which searches for the most loaded worker with room.
void FleetOf(benchmark::State& state, Fill fill) {
  const CompiledJob compiled = MustCompile(Wide(10'000));
  const auto workers = static_cast<uint32_t>(state.range(0));
  Harness harness(workers, 2'000 / workers, fill);
  RunJobs(state, harness, compiled);
  state.counters["workers"] = static_cast<double>(state.range(0));
}
void BM_Fleet(benchmark::State& state) { FleetOf(state, Fill::kSpread); }
void BM_FleetPacked(benchmark::State& state) { FleetOf(state, Fill::kPack); }

v1::JobSpec TreeShape() { return Tree(1024); }
v1::JobSpec WideShape() { return Wide(10'000); }
v1::JobSpec ChainShape() { return Chain(1'000); }
v1::JobSpec BigShape() { return Chains(1'000, 1'000); }

// Submission's other half, outside the core: validating and compiling.
void BM_CompileJob(benchmark::State& state, v1::JobSpec (*shape)()) {
  const v1::JobSpec spec = shape();
  for (auto _ : state) {
    state.PauseTiming();
    v1::JobSpec copy = spec;
    state.ResumeTiming();
    CompiledJob job = MustCompile(std::move(copy));
    benchmark::DoNotOptimize(job);
  }
  state.counters["tasks"] = benchmark::Counter(
      static_cast<double>(spec.tasks_size()) * state.iterations(),
      benchmark::Counter::kIsRate);
}

BENCHMARK_CAPTURE(BM_RunJob, tree, TreeShape)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_RunJob, wide, WideShape)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_RunJob, chain, ChainShape)->Unit(benchmark::kMillisecond);
// One million tasks: a few seconds per iteration.
BENCHMARK_CAPTURE(BM_RunJob, big, BigShape)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

BENCHMARK(BM_Fleet)->Arg(10)->Arg(100)->Arg(1000)->Unit(
    benchmark::kMillisecond);
BENCHMARK(BM_FleetPacked)
    ->Arg(10)
    ->Arg(100)
    ->Arg(1000)
    ->Unit(benchmark::kMillisecond);

BENCHMARK_CAPTURE(BM_CompileJob, tree, TreeShape)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_CompileJob, big, BigShape)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

}  // namespace
}  // namespace dagd

BENCHMARK_MAIN();
