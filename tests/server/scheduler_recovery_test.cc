// Taking over attempts after a restart or a broken stream: running ones
// reported at Register, results of attempts this scheduler did not make,
// the recovery grace, and acknowledgements.

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "storage/object_store.h"
#include "tests/server/scheduler_fixture.h"

namespace dagd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr uint64_t kJob = 9;
constexpr WorkerId kBack = 3;  // a worker reconnecting as a new stream

// An attempt a dagd before the restart gave to the worker that is back.
v1::TaskRef Ref(uint32_t task, uint32_t attempt) {
  return SchedulerTest::SealedRef(kJob, task, attempt, kBack);
}

v1::Assignment AssignmentOf(uint32_t task, uint32_t attempt) {
  v1::Assignment a;
  *a.mutable_task() = Ref(task, attempt);
  return a;
}

class SchedulerRecoveryTest : public SchedulerTest {
 protected:
  // Restores job j9 as a restarted dagd would: `a` -> `b` -> `c`, nothing
  // finished (what ran before the restart is known only to workers).
  void RestoreChain() {
    Restore(kJob, R"({"tasks": [{"id": "a", "fn": "const",
                                 "retry": {"maxAttempts": 3}},
                                {"id": "b", "fn": "add", "inputs": ["a"]},
                                {"id": "c", "fn": "add", "inputs": ["b"]}]})");
    // The first turn after a restart starts the recovery grace.
    scheduler_.Tick();
  }

  // A registration listing `running`, with no kept results.
  void AddWorkerRunning(WorkerId id, std::vector<v1::TaskRef> running) {
    WorkerSpec spec = Worker(id, 1);
    spec.running = std::move(running);
    scheduler_.AddWorker(id, std::move(spec));
    scheduler_.OnKeptComplete(id);
  }

  // kWorker (pool gpu) runs A; its stream breaks, so A is ready again
  // while B (any worker) runs on kOther; kWorker's process is back as
  // kBack, still running A, which would take the job or tenant past its
  // limit: A is cancelled there, not taken over.
  void ExpectABackOnANewStreamCancelled() {
    std::vector<v1::Assignment> sent = Dispatch(kWorker);
    ASSERT_THAT(Ids(sent), ElementsAre("A"));
    const v1::TaskRef a = sent[0].task();
    scheduler_.RemoveWorker(kWorker);
    AddWorker(kOther, 1);
    ASSERT_THAT(Ids(Dispatch(kOther)), ElementsAre("B"));
    WorkerSpec back = GpuWorker();
    back.running = {a};
    scheduler_.AddWorker(kBack, back);
    Dispatch(kBack);
    ASSERT_EQ(last_cancels_.size(), 1u);
    EXPECT_EQ(last_cancels_[0].task_index(), a.task_index());
  }
  static WorkerSpec GpuWorker() {
    WorkerSpec gpu = Worker(kWorker, 1);
    gpu.pool = "gpu";
    return gpu;
  }

  void PassGrace() { clock_.Advance(SchedulerOptions().recovery_grace); }

  // One turn: what each worker was sent.
  absl::flat_hash_map<WorkerId, v1::CoordinatorBatch> Turn() {
    scheduler_.Tick();
    scheduler_.Schedule();
    return TakeSyncedOutput().sends;
  }

  // A one-task job, its task running on kWorker, a stream of process
  // "process-1"; the assignment.
  v1::Assignment RunningOnAStreamOfProcess1() {
    Submit(R"({"tasks": [{"id": "a", "fn": "sleep"}]})");
    WorkerSpec stream = Worker(kWorker, 1);
    stream.instance = "process-1";
    scheduler_.AddWorker(kWorker, stream);
    std::vector<v1::Assignment> sent = Dispatch(kWorker);
    EXPECT_EQ(sent.size(), 1u);
    return sent.empty() ? v1::Assignment() : sent[0];
  }

  // kBack, registering under kWorker's name as process `instance`, still
  // running `running`.
  void RegisterBack(const std::string& instance, const v1::TaskRef& running) {
    WorkerSpec spec = Worker(kBack, 1);
    spec.name = Worker(kWorker, 1).name;
    spec.instance = instance;
    spec.running.push_back(running);
    scheduler_.AddWorker(kBack, std::move(spec));
  }

  v1::TaskState StateOf(const std::string& task) {
    absl::StatusOr<v1::TaskStatus> status = scheduler_.TaskStatusOf(kJob, task);
    EXPECT_TRUE(status.ok()) << status.status();
    return status.ok() ? status->state() : v1::TASK_STATE_UNSPECIFIED;
  }
};

TEST_F(SchedulerRecoveryTest, RunningAttemptReportedAtRegisterIsTakenOver) {
  RestoreChain();
  // The worker ran attempt 4 of `a` when dagd died, and still does.
  AddWorkerRunning(kBack, {Ref(0, 4)});
  PassGrace();
  EXPECT_TRUE(Dispatch(kBack).empty());  // not sent again
  EXPECT_EQ(StateOf("a"), v1::TASK_RUNNING);
  EXPECT_EQ(scheduler_.adopted_attempts(), 1u);
  Report(kBack, AssignmentOf(0, 4), true, "40");
  std::vector<v1::Assignment> sent = Dispatch(kBack);
  ASSERT_THAT(Ids(sent), ElementsAre("b"));
  EXPECT_EQ(sent[0].inputs(0).data(), "40");
  EXPECT_EQ(scheduler_.dropped_reports(), 0u);
}

// A peer reporting attempts it was never given (a forged or another
// worker's seal): nothing of it is taken over, and the task runs as if the
// peer had said nothing.
TEST_F(SchedulerRecoveryTest,
       AttemptsAndResultsWithoutTheWorkersSealAreRefused) {
  RestoreChain();
  v1::TaskRef forged = Ref(0, 4);
  forged.set_seal(forged.seal() ^ 1);
  AddWorkerRunning(kBack, {forged});
  EXPECT_EQ(scheduler_.adopted_attempts(), 0u);
  ASSERT_EQ(last_cancels_.size(), 0u);  // sent with the next dispatch
  // A result sealed for another worker (of an attempt not the one just
  // refused, whose end would only close it).
  v1::Assignment stolen;
  *stolen.mutable_task() = SealedRef(kJob, 0, 5, /*id=*/kBack + 1);
  Report(kBack, stolen, true, "forged");
  EXPECT_EQ(scheduler_.dropped_reports(), 1u);
  EXPECT_EQ(StateOf("a"), v1::TASK_READY);
  PassGrace();
  std::vector<v1::Assignment> sent = Dispatch(kBack);
  ASSERT_THAT(Ids(sent), ElementsAre("a"));
  ASSERT_EQ(last_cancels_.size(), 1u);  // the forged running attempt
  // The real attempt's result is the one that counts.
  Report(kBack, sent[0], true, "40");
  EXPECT_EQ(StateOf("a"), v1::TASK_SUCCEEDED);
}

TEST_F(SchedulerRecoveryTest, NewAttemptsNumberPastReportedOnes) {
  RestoreChain();
  AddWorkerRunning(kBack, {Ref(0, 4)});
  Report(kBack, AssignmentOf(0, 4), false, "boom");  // attempt 4 failed
  // Past the grace and the retry's backoff, the worker still heard from.
  clock_.Advance(absl::Seconds(6));
  scheduler_.OnHeartbeat(kBack);
  std::vector<v1::Assignment> sent = Dispatch(kBack);
  ASSERT_THAT(Ids(sent), ElementsAre("a"));
  EXPECT_EQ(sent[0].task().attempt(), 5u);
}

TEST_F(SchedulerRecoveryTest, AttemptThatCannotBeTakenOverIsCancelled) {
  RestoreChain();
  // `b` waits for `a`: an attempt of it running on the worker has inputs
  // dagd does not know. It is cancelled, and its end frees nothing.
  AddWorkerRunning(kBack, {Ref(1, 1)});
  PassGrace();
  std::vector<v1::Assignment> sent = Dispatch(kBack);
  ASSERT_THAT(Ids(sent), ElementsAre("a"));  // the slot is free for `a`
  ASSERT_EQ(last_cancels_.size(), 1u);
  EXPECT_EQ(last_cancels_[0].task_index(), 1u);
  Report(kBack, AssignmentOf(1, 1), false, "cancelled");
  EXPECT_EQ(scheduler_.dropped_reports(), 0u);
  EXPECT_EQ(StateOf("b"), v1::TASK_PENDING);
  // Its report did not free the slot `a` holds.
  Submit(R"({"tasks": [{"id": "other", "fn": "const"}]})");
  EXPECT_TRUE(Dispatch(kBack).empty());
}

// After a restart, a worker back still running `b`, granted after `a`,
// with `a`'s result among those it kept: `b` waited for `a` when the
// worker registered, and not once its kept results were in. Taken over,
// not cancelled and run again.
TEST_F(SchedulerRecoveryTest, AGrantedAttemptWhoseInputCameKeptIsTakenOver) {
  RestoreChain();
  WorkerSpec spec = Worker(kBack, 1);
  spec.running = {Ref(1, 1)};
  scheduler_.AddWorker(kBack, std::move(spec));
  Report(kBack, AssignmentOf(0, 1), true, "40");  // kept, after Register
  scheduler_.OnKeptComplete(kBack);
  PassGrace();
  EXPECT_TRUE(Dispatch(kBack).empty());
  EXPECT_TRUE(last_cancels_.empty()) << last_cancels_[0].DebugString();
  EXPECT_EQ(StateOf("b"), v1::TASK_RUNNING);
  Report(kBack, AssignmentOf(1, 1), true, "41");
  EXPECT_THAT(Ids(Dispatch(kBack)), ElementsAre("c"));
  EXPECT_EQ(scheduler_.dropped_reports(), 0u);
}

// The same when the kept results come in more than one message: once one
// makes `b` ready, it is taken over before the pass could place it again
// (it would run twice at once), without waiting for kept_complete.
TEST_F(SchedulerRecoveryTest, AnUnsettledAttemptIsTakenOverOnceItsTaskIsReady) {
  RestoreChain();
  WorkerSpec spec = Worker(kBack, 2);
  spec.running = {Ref(1, 1)};
  spec.kept_complete = false;
  scheduler_.AddWorker(kBack, std::move(spec));
  AddWorker(kOther, 2);
  PassGrace();
  Report(kBack, AssignmentOf(0, 1), true, "40");  // kept, a later message
  other_sends_ = 0;
  EXPECT_TRUE(Dispatch(kBack).empty()) << "b placed again";
  EXPECT_EQ(other_sends_, 0) << "b placed again";
  EXPECT_TRUE(last_cancels_.empty());
  EXPECT_EQ(StateOf("b"), v1::TASK_RUNNING);
}

// A worker back on a new stream with an attempt whose task ran again
// elsewhere meanwhile, up to its job's max_parallelism: the attempt is
// cancelled, not taken over, or the job would run past its limit.
TEST_F(SchedulerRecoveryTest, NoTakeOverPastTheJobsMaxParallelism) {
  scheduler_.AddWorker(kWorker, GpuWorker());
  const uint64_t job = Submit(R"({"max_parallelism": 1, "tasks": [
      {"id": "A", "fn": "sleep", "executor": "pool:gpu"},
      {"id": "B", "fn": "sleep"}]})");
  ExpectABackOnANewStreamCancelled();
  std::optional<v1::JobStatus> status = scheduler_.JobStatusOf(job);
  ASSERT_TRUE(status.has_value());
  uint32_t running = 0;
  for (const v1::TaskStateCount& c : status->counts()) {
    if (c.state() == v1::TASK_ASSIGNED || c.state() == v1::TASK_RUNNING) {
      running += c.count();
    }
  }
  EXPECT_EQ(running, 1u);
}

// The same with the tenant's max_running_slots in place of the job's limit.
TEST_F(SchedulerRecoveryTest, NoTakeOverPastTheTenantsRunningSlots) {
  TenantShare one;
  one.max_running_slots = 1;
  scheduler_.SetTenantShares({{"alpha", one}}, TenantShare());
  scheduler_.AddWorker(kWorker, GpuWorker());
  v1::JobSpec spec;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(
          R"({"tasks": [{"id": "A", "fn": "sleep", "executor": "pool:gpu"},
                                {"id": "B", "fn": "sleep"}]})",
          &spec)
          .ok());
  absl::StatusOr<CompiledJob> compiled = CompileJob(std::move(spec), {});
  ASSERT_TRUE(compiled.ok());
  v1::JobStatus status;
  status.set_job_id(JobIdFromSeq(kJob));
  status.set_state(v1::JOB_PENDING);
  status.set_tenant("alpha");
  scheduler_.AddJob(kJob, *std::move(compiled), status);
  ExpectABackOnANewStreamCancelled();
  EXPECT_EQ(scheduler_.LoadOf("alpha").jobs, 1u);
  EXPECT_EQ(StateOf("A"), v1::TASK_READY);
}

TEST_F(SchedulerRecoveryTest, WorkOfAnotherStoreIsNeverTakenOver) {
  RestoreChain();
  WorkerSpec spec = Worker(kBack, 1);
  spec.foreign = true;
  scheduler_.AddWorker(kBack, std::move(spec));
  Report(kBack, AssignmentOf(0, 1), true, "from another store");
  EXPECT_EQ(StateOf("a"), v1::TASK_READY);
  EXPECT_EQ(scheduler_.adopted_attempts(), 0u);
}

TEST_F(SchedulerRecoveryTest, TakenOverAttemptHoldsItsSlotUntilItsResult) {
  RestoreChain();
  AddWorkerRunning(kBack, {Ref(0, 1)});
  Submit(R"({"tasks": [{"id": "other", "fn": "const"}]})");
  EXPECT_TRUE(Dispatch(kBack).empty());  // its one slot runs `a`
  Report(kBack, AssignmentOf(0, 1), true, "40");
  EXPECT_THAT(Ids(Dispatch(kBack)), ElementsAre("other"));
}

TEST_F(SchedulerRecoveryTest, ResultFinishedWhileDagdWasDownIsNotRunAgain) {
  RestoreChain();
  AddWorker(kBack, 1);
  // Its first batch: a result kept while dagd was down.
  Report(kBack, AssignmentOf(0, 2), true, "40");
  EXPECT_EQ(StateOf("a"), v1::TASK_SUCCEEDED);
  EXPECT_EQ(scheduler_.adopted_attempts(), 1u);
  PassGrace();
  std::vector<v1::Assignment> sent = Dispatch(kBack);
  ASSERT_THAT(Ids(sent), ElementsAre("b"));  // `a` is not run again
  ASSERT_EQ(last_writes_.results.size(), 1u);
  EXPECT_EQ(last_writes_.results[0].result.data, "40");
}

TEST_F(SchedulerRecoveryTest, RecoveredJobsWaitOutTheGraceOnly) {
  RestoreChain();
  AddWorker(kWorker, 1);
  EXPECT_TRUE(Dispatch(kWorker).empty());
  clock_.Advance(SchedulerOptions().recovery_grace - absl::Milliseconds(1));
  EXPECT_TRUE(Dispatch(kWorker).empty());
  clock_.Advance(absl::Milliseconds(1));
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ElementsAre("a"));
  // A job submitted after the restart does not wait.
  Submit(R"({"tasks": [{"id": "fresh", "fn": "const"}]})");
  AddWorker(kOther, 1);
  EXPECT_THAT(Ids(Dispatch(kOther)), ElementsAre("fresh"));
}

// After a restart, a new job's task waits out the grace for an exclusive
// group a recovered job's unfinished task is in: a worker not back yet may
// still run that one. It was placed at once, beside it.
TEST_F(SchedulerRecoveryTest, ANewJobWaitsForAGroupRecoveredWorkMayHold) {
  Restore(kJob,
          R"({"tasks": [{"id": "a", "fn": "sleep", "exclusiveGroup": "db"}]})");
  scheduler_.Tick();
  const uint64_t fresh = Submit(
      R"({"tasks": [{"id": "b", "fn": "sleep", "exclusiveGroup": "db"}]})");
  AddWorker(kOther, 1);
  EXPECT_THAT(Dispatch(kOther), IsEmpty());
  EXPECT_THAT(scheduler_.TaskStatusOf(fresh, "b")->waiting_reason(),
              HasSubstr("dagd recovered"));
  // The worker running a comes back within the grace: a is taken over,
  // and holds the group; b runs once a is done.
  const v1::TaskRef a = SealedRef(kJob, 0, 1, kWorker);
  AddWorkerRunning(kWorker, {a});
  PassGrace();
  EXPECT_THAT(Dispatch(kOther), IsEmpty());
  EXPECT_THAT(last_cancels_, IsEmpty());
  v1::Assignment done;
  *done.mutable_task() = a;
  Report(kWorker, done, true);
  EXPECT_THAT(Ids(Dispatch(kOther)), ElementsAre("b"));
}

TEST_F(SchedulerRecoveryTest, LateSuccessEndsTheNewerAttempt) {
  RestoreChain();
  AddWorker(kWorker, 1);
  PassGrace();
  std::vector<v1::Assignment> rerun = Dispatch(kWorker);
  ASSERT_THAT(Ids(rerun), ElementsAre("a"));
  // The worker that ran attempt 1 before the restart comes back late with
  // its result: it is taken, and the rerun is cancelled. (It offers only
  // `const`, so that `b` can only go to kWorker.)
  AddWorker(kBack, 1, {"const"});
  Report(kBack, AssignmentOf(0, 1), true, "41");
  EXPECT_EQ(StateOf("a"), v1::TASK_SUCCEEDED);
  Dispatch(kWorker);
  ASSERT_EQ(last_cancels_.size(), 1u);
  EXPECT_EQ(last_cancels_[0].attempt(), rerun[0].task().attempt());
  ASSERT_EQ(last_writes_.results.size(), 1u);
  EXPECT_EQ(last_writes_.results[0].result.data, "41");
  // The cancelled attempt's own end frees its slot and is not a result.
  Report(kWorker, rerun[0], true, "99");
  EXPECT_EQ(scheduler_.dropped_reports(), 0u);
  std::vector<v1::Assignment> next = Dispatch(kWorker);
  ASSERT_THAT(Ids(next), ElementsAre("b"));
  EXPECT_EQ(next[0].inputs(0).data(), "41");
}

TEST_F(SchedulerRecoveryTest, TaskWhoseInputsAreUnknownIsNotTakenOver) {
  RestoreChain();
  // `b` ran on the worker after `a`, but `a`'s result never reached dagd:
  // `b`'s inputs are not the stored ones, so its result is not used.
  AddWorker(kBack, 1);
  Report(kBack, AssignmentOf(1, 1), true, "7");
  EXPECT_EQ(StateOf("b"), v1::TASK_PENDING);
  EXPECT_EQ(scheduler_.adopted_attempts(), 0u);
  EXPECT_EQ(scheduler_.dropped_reports(), 1u);
}

TEST_F(SchedulerRecoveryTest, StreamBrokenWithoutRestartKeepsItsAttempt) {
  Submit(R"({"tasks": [{"id": "a", "fn": "sleep"}]})");
  AddWorker(kWorker, 1);
  std::vector<v1::Assignment> first = Dispatch(kWorker);
  ASSERT_EQ(first.size(), 1u);
  scheduler_.RemoveWorker(kWorker);
  // The same process (same name) reconnects as a new stream, still
  // running it.
  WorkerSpec spec = Worker(kBack, 1);
  spec.name = Worker(kWorker, 1).name;
  spec.running.push_back(first[0].task());
  scheduler_.AddWorker(kBack, std::move(spec));
  EXPECT_TRUE(Dispatch(kBack).empty());
  Report(kBack, first[0], true, "5");
  Dispatch(kBack);
  ASSERT_EQ(last_writes_.results.size(), 1u);
  EXPECT_EQ(last_writes_.results[0].result.data, "5");
  EXPECT_EQ(scheduler_.dropped_reports(), 0u);
}

// A half-open connection: the worker's process reconnects on a new stream
// while dagd still has its old one. The attempt it runs moves to the new
// stream; it is not cancelled there, and not run again when the old one
// is dropped.
TEST_F(SchedulerRecoveryTest, AnAttemptOfAnOldStreamStillOpenMovesToTheNewOne) {
  const v1::Assignment first = RunningOnAStreamOfProcess1();
  RegisterBack("process-1", first.task());
  EXPECT_TRUE(Dispatch(kBack).empty());
  EXPECT_TRUE(last_cancels_.empty()) << last_cancels_[0].DebugString();
  EXPECT_EQ(scheduler_.adopted_attempts(), 1u);
  scheduler_.RemoveWorker(kWorker);  // dropped at last
  EXPECT_TRUE(Dispatch(kBack).empty()) << "ran again";
  Report(kBack, first, true, "5");
  Dispatch(kBack);
  ASSERT_EQ(last_writes_.results.size(), 1u);
  EXPECT_EQ(last_writes_.results[0].result.data, "5");
  EXPECT_EQ(scheduler_.dropped_reports(), 0u);
}

// A half-open connection after dagd cancelled an attempt on the old
// stream (its job was cancelled; the cancel may never have arrived): the
// process, back on a new stream, still runs it. Its exclusive group stays
// held until the new stream reports its end, not freed when the old
// stream is dropped.
TEST_F(SchedulerRecoveryTest, ACancelledAttemptOnAnOldStreamKeepsItsGroup) {
  const uint64_t first = Submit(
      R"({"tasks": [{"id": "a", "fn": "sleep", "exclusiveGroup": "g"}]})");
  Submit(R"({"tasks": [{"id": "b", "fn": "sleep", "exclusiveGroup": "g"}]})");
  WorkerSpec stream = Worker(kWorker, 1);
  stream.instance = "process-1";
  scheduler_.AddWorker(kWorker, stream);
  AddWorker(kOther, 1);
  const std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ElementsAre("a"));
  ASSERT_TRUE(scheduler_.CancelJob(first).ok());
  Dispatch(kWorker);
  RegisterBack("process-1", sent[0].task());
  scheduler_.RemoveWorker(kWorker);
  other_sends_ = 0;
  EXPECT_THAT(Dispatch(kBack), IsEmpty()) << "b ran beside a";
  EXPECT_EQ(other_sends_, 0) << "b ran beside a";
  ASSERT_EQ(last_cancels_.size(), 1u);
  Report(kBack, sent[0], false, "cancelled by the coordinator");
  const size_t here = Dispatch(kBack).size();
  EXPECT_EQ(here + other_sends_, 1u) << "b runs once a ended";
  EXPECT_EQ(scheduler_.dropped_reports(), 0u);
}

// The same for its slot: the process runs no more than its slots.
TEST_F(SchedulerRecoveryTest, ACancelledAttemptOnAnOldStreamKeepsItsSlot) {
  const uint64_t first = Submit(R"({"tasks": [{"id": "a", "fn": "sleep"}]})");
  WorkerSpec stream = Worker(kWorker, 1);
  stream.instance = "process-1";
  scheduler_.AddWorker(kWorker, stream);
  const std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ElementsAre("a"));
  ASSERT_TRUE(scheduler_.CancelJob(first).ok());
  Dispatch(kWorker);
  Submit(R"({"tasks": [{"id": "b", "fn": "sleep"}]})");
  RegisterBack("process-1", sent[0].task());
  scheduler_.RemoveWorker(kWorker);
  EXPECT_THAT(Dispatch(kBack), IsEmpty()) << "b ran beside a, past 1 slot";
  Report(kBack, sent[0], false, "cancelled by the coordinator");
  EXPECT_THAT(Ids(Dispatch(kBack)), ElementsAre("b"));
  EXPECT_EQ(scheduler_.Counts().slots_busy, 1u);
}

// Another process of the same name (another instance) takes nothing over
// from a stream still open.
TEST_F(SchedulerRecoveryTest, AnotherProcessOfTheSameNameMovesNothing) {
  const v1::Assignment first = RunningOnAStreamOfProcess1();
  RegisterBack("process-2", first.task());
  Dispatch(kBack);
  ASSERT_EQ(last_cancels_.size(), 1u);
  EXPECT_EQ(scheduler_.adopted_attempts(), 0u);
  Report(kWorker, first, true, "5");  // the old stream still reports
  Dispatch(kWorker);
  ASSERT_EQ(last_writes_.results.size(), 1u);
}

// A worker back from a dagd on another data directory reports what that
// one gave it: the same job, task and attempt numbers (job ids start again
// at j1), but not sealed by this store. Dropped, not taken for the
// current attempt's end.
TEST_F(SchedulerRecoveryTest, AReportNotSealedByThisStoreIsDropped) {
  const uint64_t job = Submit(R"({"tasks": [{"id": "a", "fn": "sleep"}]})");
  AddWorker(kWorker, 1);
  const std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ElementsAre("a"));
  auto state = [&] { return scheduler_.TaskStatusOf(job, "a")->state(); };
  v1::Assignment other_store = sent[0];
  other_store.mutable_task()->set_seal(sent[0].task().seal() + 1);
  Report(kWorker, other_store, false, "cancelled by the coordinator");
  Dispatch(kWorker);
  EXPECT_EQ(scheduler_.dropped_reports(), 1u);
  EXPECT_EQ(state(), v1::TASK_ASSIGNED);
  Report(kWorker, sent[0], true, "5");
  Dispatch(kWorker);
  EXPECT_EQ(scheduler_.dropped_reports(), 1u);
  EXPECT_TRUE(last_writes_.results.size() == 1 &&
              last_writes_.results[0].result.data == "5");
}

TEST_F(SchedulerRecoveryTest, AnAttemptListedTwiceIsTakenOverOnce) {
  RestoreChain();
  AddWorkerRunning(kBack, {Ref(0, 4), Ref(0, 4)});
  PassGrace();
  EXPECT_EQ(StateOf("a"), v1::TASK_RUNNING);
  EXPECT_EQ(scheduler_.adopted_attempts(), 1u);
  Report(kBack, AssignmentOf(0, 4), true, "40");
  std::vector<v1::Assignment> sent = Dispatch(kBack);
  EXPECT_TRUE(last_cancels_.empty());
  ASSERT_THAT(Ids(sent), ElementsAre("b"));
  EXPECT_EQ(sent[0].inputs(0).data(), "40");
  EXPECT_EQ(scheduler_.dropped_reports(), 0u);
}

// A result as a worker numbers it (TaskResult.report_order).
v1::TaskResult Numbered(const v1::Assignment& a, uint64_t order) {
  v1::TaskResult result;
  *result.mutable_task() = a.task();
  result.set_ok(true);
  result.set_report_order(order);
  return result;
}

TEST_F(SchedulerRecoveryTest, EveryResultIsAcknowledged) {
  Submit(R"({"tasks": [{"id": "a", "fn": "const"}]})");
  AddWorker(kWorker, 1);
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_EQ(sent.size(), 1u);
  scheduler_.OnTaskResult(kWorker, Numbered(sent[0], 7));
  // A duplicate: dropped, acknowledged too.
  scheduler_.OnTaskResult(kWorker, Numbered(sent[0], 8));
  scheduler_.OnHeartbeat(kWorker);
  TurnOutput out = scheduler_.TakeOutput();
  EXPECT_EQ(out.sends[kWorker].acked_up_to(), 8u);
}

TEST_F(SchedulerRecoveryTest, AcknowledgementWaitsForABatchSentAnyway) {
  Submit(R"({"tasks": [{"id": "a", "fn": "const"}, {"id": "b", "fn": "const"},
                       {"id": "c", "fn": "const"}]})");
  AddWorker(kWorker, 1);
  std::vector<v1::Assignment> first = Dispatch(kWorker);
  ASSERT_EQ(first.size(), 1u);
  scheduler_.OnTaskResult(kWorker, Numbered(first[0], 1));
  scheduler_.Schedule();
  TurnOutput out = scheduler_.TakeOutput();
  // The next assignment carries the acknowledgement.
  ASSERT_EQ(out.sends[kWorker].assignments_size(), 1);
  EXPECT_EQ(out.sends[kWorker].acked_up_to(), 1u);
  // A started notice asks for nothing: no batch just to acknowledge.
  v1::TaskStarted started;
  *started.mutable_task() = out.sends[kWorker].assignments(0).task();
  scheduler_.OnTaskStarted(kWorker, started);
  scheduler_.Schedule();
  EXPECT_TRUE(scheduler_.TakeOutput().sends.empty());
}

TEST_F(SchedulerRecoveryTest, AcknowledgementAloneOnlyOnAHeartbeat) {
  Submit(R"({"tasks": [{"id": "a", "fn": "const"}]})");
  AddWorker(kWorker, 1);
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_EQ(sent.size(), 1u);
  scheduler_.OnTaskResult(kWorker, Numbered(sent[0], 1));
  scheduler_.Schedule();
  TurnOutput out = scheduler_.TakeOutput();
  EXPECT_EQ(out.writes.results.size(), 1u);
  EXPECT_FALSE(out.sends.contains(kWorker)) << "nothing else to send";
  scheduler_.OnHeartbeat(kWorker);
  out = scheduler_.TakeOutput();
  ASSERT_TRUE(out.sends.contains(kWorker));
  EXPECT_EQ(out.sends[kWorker].acked_up_to(), 1u);
  EXPECT_EQ(out.sends[kWorker].assignments_size(), 0);
  // Once said, a heartbeat asks for nothing more.
  scheduler_.OnHeartbeat(kWorker);
  EXPECT_TRUE(scheduler_.TakeOutput().sends.empty());
}

TEST_F(SchedulerRecoveryTest, LostWorkerIsNotAcknowledged) {
  Submit(R"({"tasks": [{"id": "a", "fn": "const"}]})");
  AddWorker(kWorker, 1);
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_EQ(sent.size(), 1u);
  scheduler_.OnTaskResult(kWorker, Numbered(sent[0], 1));
  scheduler_.OnHeartbeat(kWorker);
  scheduler_.RemoveWorker(kWorker);
  // Its stream is gone: the result comes again with its next Register.
  EXPECT_FALSE(scheduler_.TakeOutput().sends.contains(kWorker));
}

// A worker back after a restart of dagd with more kept results than one
// Register carries (kept_complete false) lists everything it holds: an
// output of a result still to come is not released before that result is
// in, and what none of them refers to is released once all are.
TEST_F(SchedulerRecoveryTest, HeldOutputsWaitForEveryKeptResultBeforeRelease) {
  RestoreChain();
  const std::string kept = ResultObjectKey(JobIdFromSeq(kJob), 0, 4);
  const std::string stray = ResultObjectKey(JobIdFromSeq(kJob), 2, 1);
  WorkerSpec spec = Worker(kBack, 1);
  spec.instance = "back-1";
  spec.data_address = "127.0.0.1:7003";
  spec.held = {kept, stray};
  spec.kept_complete = false;
  scheduler_.AddWorker(kBack, spec);
  EXPECT_THAT(Turn()[kBack].release(), IsEmpty());
  // The next batch: a's result, its output held.
  v1::TaskResult result;
  *result.mutable_task() = Ref(0, 4);
  result.set_ok(true);
  v1::ObjectRef* ref = result.mutable_output_ref();
  ref->set_key(kept);
  ref->set_size(100);
  ref->mutable_holder()->set_name(spec.name);
  ref->mutable_holder()->set_instance(spec.instance);
  ref->mutable_holder()->set_address(spec.data_address);
  scheduler_.OnTaskResult(kBack, std::move(result));
  ASSERT_EQ(StateOf("a"), v1::TASK_SUCCEEDED);
  scheduler_.OnKeptComplete(kBack);
  EXPECT_THAT(Turn()[kBack].release(), ElementsAre(stray));
}

// The output of an attempt the worker still runs (held just before its
// result was to go out) is not released at its registration.
TEST_F(SchedulerRecoveryTest, TheOutputOfARunningAttemptIsNotReleased) {
  RestoreChain();
  const std::string output = ResultObjectKey(JobIdFromSeq(kJob), 0, 4);
  WorkerSpec spec = Worker(kBack, 1);
  spec.instance = "back-1";
  spec.data_address = "127.0.0.1:7003";
  spec.held = {output};
  spec.running = {Ref(0, 4)};
  scheduler_.AddWorker(kBack, spec);
  EXPECT_THAT(Turn()[kBack].release(), IsEmpty());
}

}  // namespace
}  // namespace dagd
