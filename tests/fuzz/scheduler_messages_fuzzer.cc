// The scheduler core fed what workers, clients and time do to it, decoded
// from the input: workers registering (with attempts and results they say
// they hold), heartbeats, start notices and results (success, failure,
// held or bucket outputs, lost inputs) for the attempts dagd handed out or
// for forged ones, disconnects, small jobs submitted, jobs cancelled, the
// clock moving, queries, tenants' shares changed, and turns (Tick,
// Schedule, TakeOutput) as the coordinator's loop runs them. Workers
// register as the coordinator lets them in (printable names, few slots).
//
// Checks, after every step: the task counts add up over the jobs in
// memory. After every turn: the slot ledger agrees with the workers' own
// counts; assignments go only to connected workers, each for the
// task's current attempt, sealed for that worker; each task's result is
// written once (again only after a result held by a worker was lost);
// only final task states are written; a job's final status counts only
// final tasks and comes once, after which nothing of the job is written;
// a job leaves memory exactly when its final status was written, and each
// tenant's load counts its jobs in memory; no worker has more slots busy
// than it has, and no task is assigned or running on a worker that is
// gone.
//
// DAGD_FUZZ_TRACE=1 prints the steps an input decodes to, and what each
// turn sent and ended.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "proto/object_location.h"
#include "proto/states.h"
#include "server/attempt_seal.h"
#include "server/job_compiler.h"
#include "server/scheduler.h"
#include "server/tenant.h"
#include "storage/object_store.h"
#include "storage/write_set.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzzed_output.h"
#include "tests/testutil/fake_clock.h"

namespace dagd {
namespace {

constexpr const char* kFunctions[] = {"const", "add", "fail", "sleep", "rare"};
constexpr size_t kNumFunctions = sizeof(kFunctions) / sizeof(kFunctions[0]);
constexpr int kMaxSteps = 400;
constexpr uint32_t kMaxTasks = 6;
constexpr size_t kMaxSent = 64;  // assignments remembered for reports
constexpr char kBucket[] = "bucket";

enum class Op {
  kSubmit,
  kRegister,
  kHeartbeat,
  kStarted,
  kResult,
  kDisconnect,
  kCancel,
  kAdvance,
  kTurn,
  kQuery,
  kRelease,
  kShares,
  kMaxValue = kShares,  // for ConsumeEnum
};

struct KnownJob {
  uint64_t seq = 0;
  uint32_t tasks = 0;
  std::string tenant;
  uint64_t spec_bytes = 0;
  bool final_written = false;  // its final status was in a turn's writes
};

struct ConnectedWorker {
  WorkerId id = 0;
  std::string name;
  std::string instance;  // empty: holds no results
  uint64_t report_order = 0;
};

// An assignment a turn sent, to report on (honestly or not).
struct Sent {
  WorkerId worker = 0;
  v1::TaskRef ref;
};

class Harness {
 public:
  explicit Harness(FuzzedDataProvider& in)
      : in_(in), trace_(std::getenv("DAGD_FUZZ_TRACE") != nullptr) {
    options_.grant_depth = in_.ConsumeBool() ? 64 : 0;
    options_.max_result_bytes = in_.ConsumeBool() ? 16 : 0;
    options_.max_recomputes = in_.ConsumeIntegralInRange<uint32_t>(0, 3);
    if (in_.ConsumeBool()) {
      options_.object_store.set_bucket(kBucket);
      options_.object_store.set_inline_max_bytes(8);
    }
    options_.max_stored_result_bytes = in_.ConsumeBool() ? 64 : 0;
    options_.lambda_function = "fn-lambda";
    options_.lambda_allowed_functions = {"fn-x"};
    if (in_.ConsumeBool()) options_.lambda_burst_after = absl::Seconds(1);
    scheduler_ = std::make_unique<Scheduler>(options_, &clock_,
                                             [this] { return random_; });
  }

  void Run() {
    for (int step = 0; step < kMaxSteps && in_.remaining_bytes() > 0; ++step) {
      random_ = in_.ConsumeIntegral<uint8_t>() / 256.0;  // jitter, [0, 1)
      switch (in_.ConsumeEnum<Op>()) {
        case Op::kSubmit:
          Submit();
          break;
        case Op::kRegister:
          Register();
          break;
        case Op::kHeartbeat:
          Heartbeat();
          break;
        case Op::kStarted:
          Started();
          break;
        case Op::kResult:
          Result();
          break;
        case Op::kDisconnect:
          Disconnect();
          break;
        case Op::kCancel:
          Cancel();
          break;
        case Op::kAdvance: {
          const int64_t ms = in_.ConsumeIntegralInRange<int64_t>(0, 40'000);
          Trace("advance ", ms, " ms");
          clock_.Advance(absl::Milliseconds(ms));
          break;
        }
        case Op::kTurn:
          Turn();
          break;
        case Op::kQuery:
          Query();
          break;
        case Op::kRelease:
          Release();
          break;
        case Op::kShares:
          Shares();
          break;
      }
      CheckCounts();
    }
    Turn();
  }

 private:
  // ---- Steps ---------------------------------------------------------------

  void Submit() {
    const uint32_t n = in_.ConsumeIntegralInRange<uint32_t>(1, kMaxTasks);
    const uint8_t flags = in_.ConsumeIntegral<uint8_t>();
    v1::JobSpec spec;
    spec.set_name("job");
    spec.set_priority(in_.ConsumeIntegralInRange<int>(-1, 1));
    if (flags & 1) spec.set_max_parallelism(1 + ((flags >> 6) & 1));
    if (flags & 2) spec.set_continue_on_failure(true);
    if (flags & 4) {
      spec.mutable_deadline()->set_seconds(
          in_.ConsumeIntegralInRange<int>(1, 120));
    }
    for (uint32_t i = 0; i < n; ++i) AddTask(spec, i);
    JobLimits limits;
    limits.lambda = true;
    limits.lambda_functions = {"fn-x"};
    absl::StatusOr<CompiledJob> job = CompileJob(std::move(spec), limits);
    FUZZ_CHECK(job.ok(), job.status().ToString());
    const uint64_t seq = next_seq_++;
    v1::JobStatus status;
    status.set_job_id(JobIdFromSeq(seq));
    status.set_name("job");
    status.set_priority(job->header->priority());
    status.set_state(v1::JOB_PENDING);
    status.set_total_tasks(n);
    status.set_tenant(flags & 8 ? "a" : "b");
    *status.mutable_submitted_at() =
        google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
            absl::ToUnixNanos(clock_.Now()));
    Trace("submit ", JobIdFromSeq(seq), ": ", job->size(), " tasks");
    const uint64_t spec_bytes = job->spec_bytes;
    scheduler_->AddJob(seq, *std::move(job), std::move(status));
    jobs_.push_back(KnownJob{seq, n, flags & 8 ? "a" : "b", spec_bytes});
    if (flags & 16) scheduler_->SetWatched(seq, Scheduler::Watch::kAllEvents);
    if (flags & 32) scheduler_->SetWatched(seq, Scheduler::Watch::kEnd);
  }

  void AddTask(v1::JobSpec& spec, uint32_t i) {
    v1::TaskSpec* task = spec.add_tasks();
    task->set_id(absl::StrCat("t", i));
    task->set_fn(
        kFunctions[in_.ConsumeIntegralInRange<size_t>(0, kNumFunctions - 1)]);
    if (i > 0) {
      // Earlier tasks only: the graph has no cycle.
      const uint16_t deps = in_.ConsumeIntegral<uint16_t>();
      for (uint32_t j = 0; j < i; ++j) {
        if (deps & (1u << j)) task->add_inputs(absl::StrCat("t", j));
        if (deps & (1u << (j + 8))) task->add_after(absl::StrCat("t", j));
      }
    }
    const uint8_t flags = in_.ConsumeIntegral<uint8_t>();
    if (flags & 1) task->set_priority(1);
    if (flags & 2) task->mutable_resources()->set_slots(2);
    if (flags & 4) task->set_exclusive_group("g");
    if (flags & 8) {
      task->mutable_retry()->set_max_attempts(3);
      task->mutable_retry()->mutable_initial_backoff()->set_seconds(1);
    }
    if (flags & 16)
      (*task->mutable_resources()->mutable_labels())["zone"] = "a";
    if (flags & 32)
      (*task->mutable_resources()->mutable_amounts())["mem"] = 1.5;
    if (flags & 64) {
      const int where = in_.ConsumeIntegralInRange<int>(0, 2);
      task->set_executor(where == 0   ? "pool:p"
                         : where == 1 ? "lambda"
                                      : "lambda:fn-x");
    }
    if (flags & 128) task->mutable_timeout()->set_seconds(5);
  }

  void Register() {
    const int k = in_.ConsumeIntegralInRange<int>(0, 3);
    const uint16_t flags = in_.ConsumeIntegral<uint16_t>();
    WorkerSpec spec;
    // Names repeat: a worker reconnecting keeps its name, and its seals.
    spec.name = absl::StrCat("worker-", k);
    spec.slots = in_.ConsumeIntegralInRange<uint32_t>(0, 4);
    for (size_t f = 0; f < kNumFunctions; ++f) {
      if (flags & (1u << f)) spec.functions.push_back(kFunctions[f]);
    }
    if (flags & 32) spec.pool = "p";
    if (flags & 64) spec.labels = {{"zone", "a"}};
    if (flags & 128) spec.resources = {{"mem", 2.0}};
    spec.accepts_grants = (flags & 256) != 0;
    if (flags & 512) {
      spec.instance = absl::StrCat("inst-", k);
      spec.data_address = absl::StrCat("10.0.0.", k, ":7000");
    }
    if (flags & 1024) {
      // dagd's Lambda dispatcher, as it registers itself.
      spec.name = "lambda";
      spec.pool = std::string(kLambdaPool);
      spec.lambda = true;
      spec.any_function = true;
    }
    spec.foreign = (flags & 2048) != 0;
    const int running = in_.ConsumeIntegralInRange<int>(0, 3);
    for (int r = 0; r < running; ++r)
      spec.running.push_back(PickRef(spec.name));
    const int held = in_.ConsumeIntegralInRange<int>(0, 3);
    for (int h = 0; h < held; ++h) {
      const v1::TaskRef ref = PickRef(spec.name);
      spec.held.push_back(
          in_.ConsumeBool()
              ? ResultObjectKey(ref.job_id(), ref.task_index(), ref.attempt())
              : in_.ConsumeRandomLengthString(16));
      if (flags & 4096) spec.reporting.push_back(spec.held.back());
    }
    const WorkerId id = next_worker_++;
    Trace("register ", WorkerIdName(id), " '", spec.name, "': ", spec.slots,
          " slots, flags ", flags, ", ", spec.running.size(), " running, ",
          spec.held.size(), " held");
    workers_.push_back(ConnectedWorker{id, spec.name, spec.instance, 0});
    scheduler_->AddWorker(id, std::move(spec));
  }

  void Heartbeat() {
    v1::Heartbeat heartbeat;
    heartbeat.set_busy_slots(in_.ConsumeIntegralInRange<uint32_t>(0, 4));
    heartbeat.set_held_bytes(in_.ConsumeIntegral<uint32_t>());
    heartbeat.set_spilled_bytes(in_.ConsumeIntegral<uint16_t>());
    heartbeat.set_fetched_bytes(in_.ConsumeIntegral<uint32_t>());
    heartbeat.set_transfer_seconds(in_.ConsumeIntegral<uint8_t>() / 16.0);
    const WorkerId reporter = PickReporter();
    Trace("heartbeat from ", WorkerIdName(reporter));
    scheduler_->OnHeartbeat(reporter, heartbeat);
  }

  void Started() {
    const WorkerId reporter = PickReporter();
    v1::TaskStarted started;
    *started.mutable_task() = PickRef(NameOf(reporter));
    started.set_started_unix_ms(absl::ToUnixMillis(clock_.Now()));
    Trace("started from ", WorkerIdName(reporter), ": ",
          started.task().ShortDebugString());
    scheduler_->OnTaskStarted(reporter, started);
  }

  void Result() {
    const WorkerId reporter = PickReporter();
    ConnectedWorker* worker = Connected(reporter);
    v1::TaskResult result;
    *result.mutable_task() = PickRef(NameOf(reporter));
    const uint8_t order = in_.ConsumeIntegral<uint8_t>();
    result.set_report_order(worker != nullptr ? ++worker->report_order : order);
    if (in_.ConsumeBool()) {
      result.set_started_unix_ms(absl::ToUnixMillis(clock_.Now()) -
                                 in_.ConsumeIntegralInRange<int64_t>(0, 5));
    }
    result.set_finished_unix_ms(absl::ToUnixMillis(clock_.Now()));
    if (in_.ConsumeBool()) {
      result.set_ok(true);
      SetFuzzedOutput(in_, kBucket, worker ? worker->instance : "", result);
    } else {
      result.set_error(in_.ConsumeRandomLengthString(16));
      result.set_permanent(in_.ConsumeBool());
      const int lost = in_.ConsumeIntegralInRange<int>(0, 2);
      for (int l = 0; l < lost; ++l) {
        result.add_lost_inputs(in_.ConsumeIntegralInRange<uint32_t>(0, 3));
      }
    }
    Trace("result from ", WorkerIdName(reporter), ": ",
          result.ShortDebugString());
    scheduler_->OnTaskResult(reporter, std::move(result));
  }

  void Disconnect() {
    const size_t i = Pick(workers_.size());
    if (workers_.empty()) return;
    const WorkerId id = workers_[i].id;
    workers_.erase(workers_.begin() + i);
    departed_.push_back(id);
    Trace("disconnect ", WorkerIdName(id));
    scheduler_->RemoveWorker(id);
    FUZZ_CHECK(!scheduler_->HasWorker(id), "a removed worker stays");
  }

  void Cancel() {
    const uint64_t seq = PickSeq();
    const bool known = scheduler_->HasJob(seq);
    absl::StatusOr<v1::CancelJobResponse> response = scheduler_->CancelJob(seq);
    Trace("cancel ", JobIdFromSeq(seq), ": ",
          response.ok() ? response->ShortDebugString()
                        : response.status().ToString());
    FUZZ_CHECK(response.ok() == known, response.status().ToString());
  }

  void Turn() {
    scheduler_->Tick();
    scheduler_->Schedule();
    TurnOutput out = scheduler_->TakeOutput();
    if (trace_) TraceTurn(out);
    for (WorkerId id : out.timed_out_workers) {
      FUZZ_CHECK(!scheduler_->HasWorker(id), "a timed-out worker stays");
      for (size_t i = 0; i < workers_.size(); ++i) {
        if (workers_[i].id != id) continue;
        workers_.erase(workers_.begin() + i);
        departed_.push_back(id);
        break;
      }
    }
    CheckAssignments(out);
    CheckWrites(out);
    CheckJobsInMemory();
    CheckTenantLoads();
    CheckSlots();
    // dagd's output keeper copies held outputs into its store, and says so.
    const bool keep_outputs = in_.ConsumeBool();
    for (const OutputToKeep& keep : out.keep) {
      if (keep.check_record || !keep_outputs) continue;
      KeptOutput kept;
      kept.stored = keep.ref;
      kept.stored.clear_holder();
      kept.stored.set_stored(true);
      kept.stored.set_output(false);
      scheduler_->OnOutputKept(keep, std::move(kept));
    }
  }

  void TraceTurn(const TurnOutput& out) {
    Trace("turn:");
    for (const auto& [id, batch] : out.sends) {
      Trace("  to ", WorkerIdName(id), ": ", batch.ShortDebugString());
    }
    for (const auto& [seq, status] : out.writes.job_statuses) {
      Trace("  ", status.job_id(), " ", v1::JobState_Name(status.state()));
    }
    for (WorkerId id : out.timed_out_workers) {
      Trace("  ", WorkerIdName(id), " timed out");
    }
  }

  template <typename... Parts>
  void Trace(const Parts&... parts) {
    if (trace_) std::fprintf(stderr, "%s\n", absl::StrCat(parts...).c_str());
  }

  // The policy file's weights and running-slots caps, reread (SIGHUP).
  void Shares() {
    absl::flat_hash_map<std::string, TenantShare> named;
    for (const char* tenant : {"a", "b"}) {
      const uint8_t share = in_.ConsumeIntegral<uint8_t>();
      if (share & 1) continue;  // not named: the others' share
      named[tenant] = ShareOf(share >> 1);
    }
    const TenantShare others = ShareOf(in_.ConsumeIntegral<uint8_t>());
    Trace("shares: ", named.size(), " named");
    scheduler_->SetTenantShares(std::move(named), others);
  }

  // Weight 1-4 (bits 0-1), a running-slots cap of 0 (none) to 3 (bits 2-3).
  static TenantShare ShareOf(uint8_t bits) {
    TenantShare share;
    share.weight = 1 + (bits & 3u);
    share.max_running_slots = (bits >> 2) & 3u;
    return share;
  }

  void Query() {
    const uint64_t seq = PickSeq();
    const std::string task_id =
        absl::StrCat("t", in_.ConsumeIntegralInRange<int>(0, kMaxTasks));
    const bool known = scheduler_->HasJob(seq);
    switch (in_.ConsumeIntegralInRange<int>(0, 4)) {
      case 0: {
        std::optional<v1::JobStatus> status = scheduler_->JobStatusOf(seq);
        FUZZ_CHECK(status.has_value() == known, "JobStatusOf");
        if (status) CheckJobCounts(*status, /*final=*/false);
        break;
      }
      case 1:
        FUZZ_CHECK(scheduler_->TaskStatusesOf(seq).has_value() == known,
                   "TaskStatusesOf");
        break;
      case 2:
        scheduler_->TaskStatusOf(seq, task_id).IgnoreError();
        break;
      case 3:
        scheduler_->ResultOf(seq, task_id).IgnoreError();
        break;
      default:
        scheduler_->NextWakeup();
        scheduler_->dropped_reports();
        break;
    }
  }

  void Release() {
    std::vector<v1::ObjectRef> refs(in_.ConsumeIntegralInRange<int>(0, 2));
    for (v1::ObjectRef& ref : refs) {
      const v1::TaskRef task = PickRef("");
      ref.mutable_holder()->set_instance(
          absl::StrCat("inst-", in_.ConsumeIntegralInRange<int>(0, 3)));
      ref.set_key(
          ResultObjectKey(task.job_id(), task.task_index(), task.attempt()));
    }
    scheduler_->ReleaseObjects(refs);
  }

  // ---- Choosing ------------------------------------------------------------
  // Each choice reads the same bytes whatever the state (how many workers,
  // jobs or assignments there are), so that an input means the same steps
  // when a change elsewhere makes the scheduler assign differently.

  // An index below `n` (0 when n is 0).
  size_t Pick(size_t n) {
    const uint8_t byte = in_.ConsumeIntegral<uint8_t>();
    return n == 0 ? 0 : byte % n;
  }

  // A job's sequence number, or one no job has.
  uint64_t PickSeq() { return Pick(next_seq_ + 1); }

  // Mostly a connected worker; else one that left, or one that never was.
  WorkerId PickReporter() {
    const int pick = in_.ConsumeIntegralInRange<int>(0, 7);
    const size_t i = Pick(256);
    if (pick < 6 && !workers_.empty()) return workers_[i % workers_.size()].id;
    if (pick == 6 && !departed_.empty()) return departed_[i % departed_.size()];
    return 77;
  }

  ConnectedWorker* Connected(WorkerId id) {
    for (ConnectedWorker& w : workers_) {
      if (w.id == id) return &w;
    }
    return nullptr;
  }

  std::string NameOf(WorkerId id) {
    const ConnectedWorker* worker = Connected(id);
    return worker != nullptr ? worker->name : "worker-9";
  }

  // An attempt to report on, as `reporter` (a worker name) would: one dagd
  // sent, as it was sent or with another attempt number (sealed as dagd
  // would have for the reporter: it ran that attempt before a restart), or
  // one made up, with a job id that may not be one.
  v1::TaskRef PickRef(const std::string& reporter) {
    const int mode = in_.ConsumeIntegralInRange<int>(0, 5);
    const size_t sent = Pick(256);
    const uint64_t seq = PickSeq();
    const uint32_t task = in_.ConsumeIntegralInRange<uint32_t>(0, kMaxTasks);
    const uint32_t attempt = in_.ConsumeIntegralInRange<uint32_t>(0, 4);
    const bool sealed = in_.ConsumeBool();
    const uint64_t seal = in_.ConsumeIntegral<uint64_t>();
    v1::TaskRef ref;
    if (mode <= 3 && !sent_.empty()) {
      ref = sent_[sent % sent_.size()].ref;
      if (mode <= 2) return ref;
      ref.set_attempt(attempt);
    } else if (mode == 5) {
      ref.set_job_id(in_.ConsumeRandomLengthString(8));
      ref.set_task_index(static_cast<uint32_t>(seal >> 32));
      ref.set_attempt(attempt);
      ref.set_seal(seal);
      return ref;
    } else {
      ref.set_job_id(JobIdFromSeq(seq));
      ref.set_task_index(task);
      ref.set_attempt(attempt);
    }
    const std::optional<uint64_t> ref_seq = SeqFromJobId(ref.job_id());
    ref.set_seal(sealed && ref_seq
                     ? AttemptSeal(SipKey{}, *ref_seq, ref.task_index(),
                                   ref.attempt(), reporter)
                     : seal);
    return ref;
  }

  // ---- Checks --------------------------------------------------------------

  // After every step: counts over the jobs in memory and the workers.
  void CheckCounts() {
    const SchedulerCounts counts = scheduler_->Counts();
    uint64_t tasks = 0;
    uint64_t jobs = 0;
    for (const KnownJob& job : jobs_) {
      if (!scheduler_->HasJob(job.seq)) continue;
      tasks += job.tasks;
      ++jobs;
    }
    uint64_t counted = 0;
    for (uint64_t c : counts.tasks_by_state) counted += c;
    FUZZ_CHECK(counted == tasks,
               absl::StrCat(counted, " tasks counted of ", tasks));
    FUZZ_CHECK(counts.jobs_pending + counts.jobs_running <= jobs, "job counts");
    FUZZ_CHECK(counts.workers == workers_.size(),
               absl::StrCat(counts.workers, " workers of ", workers_.size()));
  }

  // After every turn (Workers() is too dear for every step): the slot
  // ledger against the workers' own counts.
  void CheckSlots() {
    const SchedulerCounts counts = scheduler_->Counts();
    uint64_t slots = 0;
    uint64_t busy = 0;
    for (const v1::WorkerInfo& info : scheduler_->Workers()) {
      FUZZ_CHECK(
          info.busy_slots() <= info.slots(),
          absl::StrCat("worker ", info.worker_id(), " has ", info.busy_slots(),
                       " of ", info.slots(), " slots busy"));
      slots += info.slots();
      busy += info.busy_slots();
    }
    FUZZ_CHECK(counts.slots_total == slots,
               absl::StrCat(counts.slots_total, " slots in all of ", slots));
    FUZZ_CHECK(counts.slots_busy == busy,
               absl::StrCat(counts.slots_busy, " slots busy in all, the ",
                            "workers say ", busy));
  }

  // Every assignment: to a connected worker, for the task's current
  // attempt, sealed for that worker, once.
  void CheckAssignments(const TurnOutput& out) {
    absl::flat_hash_set<std::pair<uint64_t, uint32_t>> assigned;
    for (const auto& [id, batch] : out.sends) {
      if (batch.assignments().empty()) continue;
      FUZZ_CHECK(scheduler_->HasWorker(id), "an assignment to a lost worker");
      const std::string name = NameOf(id);
      for (const v1::Assignment& a : batch.assignments()) {
        const v1::TaskRef& ref = a.task();
        const std::optional<uint64_t> seq = SeqFromJobId(ref.job_id());
        FUZZ_CHECK(seq && scheduler_->HasJob(*seq),
                   "an assignment of a job not in memory");
        FUZZ_CHECK(assigned.insert({*seq, ref.task_index()}).second,
                   "a task assigned twice in a turn");
        absl::StatusOr<v1::TaskStatus> status =
            scheduler_->TaskStatusOf(*seq, a.task_id());
        FUZZ_CHECK(status.ok(), status.status().ToString());
        FUZZ_CHECK(status->state() == v1::TASK_ASSIGNED,
                   absl::StrCat("assigned task is ",
                                v1::TaskState_Name(status->state())));
        FUZZ_CHECK(!status->attempts().empty() &&
                       status->attempts().rbegin()->number() == ref.attempt(),
                   "an assignment of an attempt that is not the current one");
        FUZZ_CHECK(status->worker() == name, "assigned to another worker");
        FUZZ_CHECK(ref.seal() == AttemptSeal(SipKey{}, *seq, ref.task_index(),
                                             ref.attempt(), name),
                   "an attempt sealed for another worker");
        sent_.push_back(Sent{id, ref});
      }
    }
    if (sent_.size() > kMaxSent) {
      sent_.erase(sent_.begin(), sent_.end() - kMaxSent);
    }
  }

  KnownJob* FindKnown(uint64_t seq) {
    for (KnownJob& job : jobs_) {
      if (job.seq == seq) return &job;
    }
    return nullptr;
  }

  void CheckJobCounts(const v1::JobStatus& status, bool final) {
    uint64_t sum = 0;
    for (const v1::TaskStateCount& count : status.counts()) {
      sum += count.count();
      if (final) {
        FUZZ_CHECK(
            IsFinal(count.state()),
            absl::StrCat("job ", status.job_id(), " ended with ", count.count(),
                         " tasks ", v1::TaskState_Name(count.state())));
      }
    }
    FUZZ_CHECK(sum == status.total_tasks(),
               absl::StrCat("job ", status.job_id(), " counts ", sum,
                            " tasks of ", status.total_tasks()));
  }

  void CheckWrites(const TurnOutput& out) {
    // Nothing of a job after the turn that wrote its final status.
    auto not_over = [this](uint64_t seq, absl::string_view what) {
      const KnownJob* job = FindKnown(seq);
      FUZZ_CHECK(job != nullptr, absl::StrCat(what, " of an unknown job"));
      FUZZ_CHECK(!job->final_written,
                 absl::StrCat(what, " of job ", seq, " after its end"));
    };
    for (const auto& result : out.writes.results) {
      // Copies into dagd's store (OnOutputKept) replace a held result.
      if (result.result.ref != nullptr && result.result.ref->stored()) continue;
      not_over(result.seq, "a result");
      auto [it, first] =
          results_.try_emplace({result.seq, result.index}, false);
      FUZZ_CHECK(first || it->second,
                 absl::StrCat("task ", result.index, " of job ", result.seq,
                              " has its result written twice"));
      // A held result may be lost with its holder, and made again.
      it->second = result.result.ref != nullptr && IsHeld(*result.result.ref);
    }
    for (const auto& task : out.writes.task_statuses) {
      not_over(task.seq, "a task status");
      FUZZ_CHECK(IsFinal(task.status.state()),
                 absl::StrCat("a task status ",
                              v1::TaskState_Name(task.status.state()),
                              " was written"));
    }
    std::vector<uint64_t> ended;
    for (const auto& [seq, status] : out.writes.job_statuses) {
      not_over(seq, "a job status");
      if (!IsFinal(status.state())) continue;
      CheckJobCounts(status, /*final=*/true);
      ended.push_back(seq);
    }
    for (uint64_t seq : ended) FindKnown(seq)->final_written = true;
  }

  // Jobs leave memory exactly when their final status is written; the
  // tasks of those in memory run only on connected workers.
  void CheckJobsInMemory() {
    absl::flat_hash_set<std::string> names;
    for (const ConnectedWorker& w : workers_) names.insert(w.name);
    for (const KnownJob& job : jobs_) {
      FUZZ_CHECK(scheduler_->HasJob(job.seq) != job.final_written,
                 absl::StrCat("job ", job.seq,
                              job.final_written ? " ended and stays"
                                                : " left without an end"));
      std::optional<std::vector<v1::TaskStatus>> tasks =
          scheduler_->TaskStatusesOf(job.seq);
      if (!tasks) continue;
      for (const v1::TaskStatus& task : *tasks) {
        if (task.state() == v1::TASK_ASSIGNED ||
            task.state() == v1::TASK_RUNNING) {
          FUZZ_CHECK(names.contains(task.worker()),
                     absl::StrCat("task ", task.task_id(), " of job ", job.seq,
                                  " is ", v1::TaskState_Name(task.state()),
                                  " on '", task.worker(), "', which is gone"));
        }
      }
    }
  }

  // After a turn every job in memory is unfinished: what each tenant's
  // hold adds up (its quotas read it).
  void CheckTenantLoads() {
    for (const char* tenant : {"a", "b"}) {
      TenantLoad expected;
      for (const KnownJob& job : jobs_) {
        if (job.tenant != tenant || !scheduler_->HasJob(job.seq)) continue;
        ++expected.jobs;
        expected.tasks += job.tasks;
        expected.spec_bytes += job.spec_bytes;
      }
      const TenantLoad load = scheduler_->LoadOf(tenant);
      FUZZ_CHECK(
          load.jobs == expected.jobs && load.tasks == expected.tasks &&
              load.spec_bytes == expected.spec_bytes,
          absl::StrCat("tenant ", tenant, " holds ", load.jobs, " jobs, ",
                       load.tasks, " tasks, ", load.spec_bytes,
                       " bytes; its jobs in memory ", expected.jobs, ", ",
                       expected.tasks, ", ", expected.spec_bytes));
    }
  }

  FuzzedDataProvider& in_;
  const bool trace_;
  FakeClock clock_;
  double random_ = 0;
  SchedulerOptions options_;
  std::unique_ptr<Scheduler> scheduler_;
  uint64_t next_seq_ = 1;
  WorkerId next_worker_ = (uint64_t{1} << 32) + 1;
  std::vector<KnownJob> jobs_;
  std::vector<ConnectedWorker> workers_;
  std::vector<WorkerId> departed_;
  std::vector<Sent> sent_;
  // By (job, task): its result was written; true when it was held by a
  // worker (it may be lost and written again).
  absl::flat_hash_map<std::pair<uint64_t, uint32_t>, bool> results_;
};

}  // namespace
}  // namespace dagd

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  dagd::Harness harness(in);
  harness.Run();
  return 0;
}
