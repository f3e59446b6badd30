// Scheduler-core tests of grants ahead: a chain of short tasks goes to one
// worker with its head, and every way a grant can end.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tests/server/scheduler_fixture.h"

namespace dagd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

class GrantTest : public SchedulerTest {
 protected:
  explicit GrantTest(SchedulerOptions options = {})
      : SchedulerTest(std::move(options)) {}

  // Reports `a` done after `run_time` by the worker's clock, so that its
  // function's run time is known.
  void ReportRun(WorkerId worker, const v1::Assignment& a, bool ok,
                 absl::Duration run_time, std::string data = "1") {
    ReportAt(worker, a, ok, absl::ToUnixMillis(clock_.Now() - run_time),
             absl::ToUnixMillis(clock_.Now()), std::move(data));
  }
  // The same with the times the worker's clock gave, in Unix milliseconds.
  void ReportAt(WorkerId worker, const v1::Assignment& a, bool ok,
                int64_t started_ms, int64_t finished_ms,
                std::string data = "1") {
    v1::TaskResult result;
    *result.mutable_task() = a.task();
    result.set_ok(ok);
    if (ok) {
      result.mutable_output()->set_data(std::move(data));
    } else {
      result.set_error(std::move(data));
    }
    result.set_started_unix_ms(started_ms);
    result.set_finished_unix_ms(finished_ms);
    scheduler_.OnTaskResult(worker, std::move(result));
  }

  // Runs one task of `fn` taking `run_time`, so grants know how long its
  // attempts take.
  void Teach(const std::string& fn, absl::Duration run_time) {
    Submit(absl::StrCat(R"({"tasks": [{"id": "warm", "fn": ")", fn, R"("}]})"));
    std::vector<v1::Assignment> sent = Dispatch(kWorker);
    ASSERT_THAT(sent, SizeIs(1));
    ReportRun(kWorker, sent[0], true, run_time);
    Dispatch(kWorker);
  }

  // c0 (const) -> c1 -> ... -> c<n-1>, each an `fn` of the one before,
  // with `extra` fields on c1.. .
  static std::string Chain(int n, const std::string& fn,
                           const std::string& extra = "") {
    std::string tasks = R"({"id": "c0", "fn": "const"})";
    for (int i = 1; i < n; ++i) {
      absl::StrAppend(&tasks, R"(, {"id": "c)", i, R"(", "fn": ")", fn,
                      R"(", "inputs": ["c)", i - 1, R"("])", extra, "}");
    }
    return absl::StrCat(R"({"tasks": [)", tasks, "]}");
  }
};

// A worker whose clock is off by millennia reports times that the
// scheduler's records hold as infinities; the run time it records stays
// the finite difference of the reported times.
TEST_F(GrantTest, RunTimesFromABrokenClockStayFinite) {
  AddWorker(kWorker, 1);
  Submit(R"({"tasks": [{"id": "t", "fn": "add"}]})");
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(sent, SizeIs(1));
  const int64_t far = int64_t{1} << 60;  // ms: 36 million years
  ReportAt(kWorker, sent[0], true, far, far + 5);
  TurnOutput out = scheduler_.TakeOutput();
  ASSERT_THAT(out.run_times, SizeIs(1));
  EXPECT_EQ(out.run_times[0].second, absl::Milliseconds(5));
}

TEST_F(GrantTest, ChainOfShortTasksGoesToTheWorkerWithItsHead) {
  AddWorker(kWorker, 1);
  Teach("add", absl::Microseconds(50));
  const uint64_t job = Submit(Chain(4, "add"));
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ElementsAre("c0", "c1", "c2", "c3"));
  EXPECT_FALSE(sent[0].has_after());
  for (int i = 1; i < 4; ++i) {
    EXPECT_EQ(sent[i].after().task_index(), static_cast<uint32_t>(i - 1));
    EXPECT_EQ(sent[i].after().attempt(), 1u);
    EXPECT_THAT(sent[i].local_input_positions(), ElementsAre(0u));
    ASSERT_EQ(sent[i].inputs_size(), 1);
    EXPECT_EQ(sent[i].inputs(0).data(), "");  // the worker fills it in
  }
  auto granted = scheduler_.TaskStatusOf(job, "c3");
  ASSERT_TRUE(granted.ok());
  EXPECT_EQ(granted->state(), v1::TASK_ASSIGNED);
  ASSERT_EQ(granted->attempts_size(), 1);
  EXPECT_EQ(granted->attempts(0).worker(), "worker-1");
  // The chain holds the one slot it runs on, passed from task to task.
  EXPECT_EQ(scheduler_.Counts().slots_busy, 1u);
  for (int i = 0; i < 4; ++i) {
    ReportRun(kWorker, sent[i], true, absl::Microseconds(50),
              absl::StrCat(i + 1));
    EXPECT_EQ(scheduler_.Counts().slots_busy, i < 3 ? 1u : 0u) << i;
    EXPECT_THAT(Dispatch(kWorker), IsEmpty()) << "nothing left to assign";
  }
  EXPECT_FALSE(scheduler_.JobStatusOf(job).has_value());
  EXPECT_EQ(last_writes_.job_statuses.back().second.state(), v1::JOB_SUCCEEDED);
}

TEST_F(GrantTest, GrantsStopAtTheDepthAndResumeWithTheNextAssignment) {
  AddWorker(kWorker, 1);
  Teach("add", absl::Microseconds(50));
  const uint32_t depth = SchedulerOptions{}.grant_depth;
  Submit(Chain(depth + 3, "add"));
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(sent, SizeIs(depth + 1));  // the head and its grants
  for (const v1::Assignment& a : sent) ReportRun(kWorker, a, true, {});
  std::vector<v1::Assignment> rest = Dispatch(kWorker);
  ASSERT_THAT(rest, SizeIs(2));
  EXPECT_FALSE(rest[0].has_after());
  EXPECT_TRUE(rest[1].has_after());
}

TEST_F(GrantTest, LongRunningOrUnknownFunctionsAreNotGranted) {
  AddWorker(kWorker, 2);
  // Nothing is known of `add` yet.
  Submit(Chain(3, "add"));
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  EXPECT_THAT(Ids(sent), ElementsAre("c0"));
  ReportRun(kWorker, sent[0], true, absl::Milliseconds(1));
  sent = Dispatch(kWorker);
  // c1 is assigned as usual; `add`'s run time is still unknown for c2.
  ASSERT_THAT(Ids(sent), ElementsAre("c1"));
  // `add` takes 50 ms: the next chain's c1 is not granted with its c0.
  ReportRun(kWorker, sent[0], true, absl::Milliseconds(50));
  Submit(Chain(3, "add"));
  EXPECT_THAT(Ids(Dispatch(kWorker)), ElementsAre("c2", "c0"));
}

TEST_F(GrantTest, WorkersThatDoNotAcceptGrantsGetNone) {
  WorkerSpec old_worker = Worker(kWorker, 1);
  old_worker.accepts_grants = false;
  scheduler_.AddWorker(kWorker, std::move(old_worker));
  Teach("add", absl::Microseconds(50));
  Submit(Chain(3, "add"));
  EXPECT_THAT(Ids(Dispatch(kWorker)), ElementsAre("c0"));
}

TEST_F(GrantTest, FanInIsNotGranted) {
  AddWorker(kWorker, 2);
  Teach("add", absl::Microseconds(50));
  Submit(R"({"tasks": [{"id": "a", "fn": "const"}, {"id": "b", "fn": "const"},
                       {"id": "sum", "fn": "add", "inputs": ["a", "b"]}]})");
  EXPECT_THAT(Ids(Dispatch(kWorker)), ElementsAre("a", "b"));
}

TEST_F(GrantTest, FailedPredecessorSendsItsGrantsBackToPending) {
  AddWorker(kWorker, 1);
  Teach("add", absl::Microseconds(50));
  const uint64_t job = Submit(Chain(
      3, "add", R"(, "retry": {"maxAttempts": 2, "initialBackoff": "1s"})"));
  // c1 fails; c2, granted after it, must not run.
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ElementsAre("c0", "c1", "c2"));
  ReportRun(kWorker, sent[0], true, {});
  ReportRun(kWorker, sent[1], false, {}, "boom");
  EXPECT_THAT(Dispatch(kWorker), IsEmpty());
  ASSERT_THAT(last_cancels_, SizeIs(1));
  EXPECT_EQ(last_cancels_[0].task_index(), 2u);
  auto c2 = scheduler_.TaskStatusOf(job, "c2");
  ASSERT_TRUE(c2.ok());
  EXPECT_EQ(c2->state(), v1::TASK_PENDING);
  ASSERT_EQ(c2->attempts_size(), 1);
  EXPECT_THAT(c2->attempts(0).error(),
              HasSubstr("granted after task 'c1', which did not succeed"));
  EXPECT_EQ(scheduler_.Counts().slots_busy, 0u);
  // c1's retry takes c2 along again, as its second attempt.
  clock_.Advance(absl::Seconds(1));
  sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ElementsAre("c1", "c2"));
  EXPECT_EQ(sent[1].task().attempt(), 2u);
  EXPECT_EQ(sent[1].after().attempt(), 2u);
}

TEST_F(GrantTest, LostWorkersGrantsRunAgainWithTheirHead) {
  AddWorker(kWorker, 1);
  Teach("add", absl::Microseconds(50));
  const uint64_t job = Submit(Chain(3, "add"));
  ASSERT_THAT(Dispatch(kWorker), SizeIs(3));
  scheduler_.RemoveWorker(kWorker);
  auto c1 = scheduler_.TaskStatusOf(job, "c1");
  ASSERT_TRUE(c1.ok());
  EXPECT_EQ(c1->state(), v1::TASK_PENDING);
  AddWorker(kOther, 1);
  Dispatch(kWorker);
  EXPECT_EQ(other_sends_, 3);  // c0 and its two grants, again
}

TEST_F(GrantTest, ReportOfAGrantBeforeItsPredecessorsIsNotTrusted) {
  AddWorker(kWorker, 1);
  Teach("add", absl::Microseconds(50));
  const uint64_t job = Submit(Chain(3, "add"));
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(sent, SizeIs(3));
  const uint64_t dropped = scheduler_.dropped_reports();
  ReportRun(kWorker, sent[1], true, {});  // c1 before c0: out of order
  EXPECT_EQ(scheduler_.dropped_reports(), dropped + 1);
  auto c1 = scheduler_.TaskStatusOf(job, "c1");
  ASSERT_TRUE(c1.ok());
  EXPECT_EQ(c1->state(), v1::TASK_PENDING);
  // The chain still completes: c0's success makes c1 ready again.
  ReportRun(kWorker, sent[0], true, {});
  std::vector<v1::Assignment> again = Dispatch(kWorker);
  ASSERT_THAT(Ids(again), ElementsAre("c1", "c2"));
  EXPECT_EQ(scheduler_.Counts().slots_busy, 1u);
}

TEST_F(GrantTest, CancelStopsTheGrantsToo) {
  AddWorker(kWorker, 1);
  Teach("add", absl::Microseconds(50));
  const uint64_t job = Submit(Chain(3, "add"));
  ASSERT_THAT(Dispatch(kWorker), SizeIs(3));
  ASSERT_TRUE(scheduler_.CancelJob(job).ok());
  Dispatch(kWorker);
  EXPECT_THAT(last_cancels_, SizeIs(3));
  // Only the head's slot waits for the worker to confirm.
  EXPECT_EQ(scheduler_.Counts().slots_busy, 1u);
}

// `n` independent tasks of `fn`, t0 .. t<n-1>.
std::string Wide(int n, const std::string& fn) {
  std::string tasks;
  for (int i = 0; i < n; ++i) {
    absl::StrAppend(&tasks, i == 0 ? "" : ", ", R"({"id": "t)", i,
                    R"(", "fn": ")", fn, R"("})");
  }
  return absl::StrCat(R"({"tasks": [)", tasks, "]}");
}

TEST_F(GrantTest, ReadyTasksWaitingForASlotAreQueuedBehindAShortOne) {
  AddWorker(kWorker, 1);
  const uint32_t queued = SchedulerOptions{}.grant_queued;
  ASSERT_GT(queued, 0u);
  const uint64_t job = Submit(Wide(queued + 3, "add"));
  // Nothing is known yet of how long the job's tasks run: one goes alone.
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(sent, SizeIs(1));
  ReportRun(kWorker, sent[0], true, absl::Microseconds(50));
  sent = Dispatch(kWorker);
  // The head, and as many more behind it, each after the one before.
  ASSERT_THAT(sent, SizeIs(queued + 1));
  EXPECT_FALSE(sent[0].has_after());
  for (uint32_t i = 1; i <= queued; ++i) {
    EXPECT_EQ(sent[i].after().task_index(), sent[i - 1].task().task_index());
    EXPECT_THAT(sent[i].local_input_positions(), IsEmpty());
  }
  auto last = scheduler_.TaskStatusOf(job, sent.back().task_id());
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->state(), v1::TASK_ASSIGNED);
  // One slot, handed on from task to task.
  EXPECT_EQ(scheduler_.Counts().slots_busy, 1u);
  for (const v1::Assignment& a : sent) {
    ReportRun(kWorker, a, true, absl::Microseconds(50));
    EXPECT_EQ(scheduler_.Counts().slots_busy, &a == &sent.back() ? 0u : 1u);
  }
  // The last one: the free slot takes it, nothing waits behind it.
  std::vector<v1::Assignment> rest = Dispatch(kWorker);
  ASSERT_THAT(rest, SizeIs(1));
  EXPECT_FALSE(rest[0].has_after());
  ReportRun(kWorker, rest[0], true, absl::Microseconds(50));
  EXPECT_THAT(Dispatch(kWorker), IsEmpty());
  EXPECT_FALSE(scheduler_.JobStatusOf(job).has_value());
}

TEST_F(GrantTest, AsManyAreQueuedAsWouldWaitForASlot) {
  AddWorker(kWorker, 1);
  Submit(Wide(3, "add"));
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(sent, SizeIs(1));
  ReportRun(kWorker, sent[0], true, absl::Microseconds(50));
  sent = Dispatch(kWorker);
  ASSERT_THAT(sent, SizeIs(2));
  EXPECT_TRUE(sent[1].has_after());
}

TEST_F(GrantTest, NothingIsQueuedWhileAnotherWorkerHasRoomForIt) {
  AddWorker(kWorker, 1);
  Submit(Wide(3, "add"));
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(sent, SizeIs(1));
  ReportRun(kWorker, sent[0], true, absl::Microseconds(50));
  AddWorker(kOther, 1);
  // Two ready, a free slot on each worker: one each, none queued.
  sent = Dispatch(kWorker);
  ASSERT_THAT(sent, SizeIs(1));
  EXPECT_FALSE(sent[0].has_after());
  EXPECT_EQ(other_sends_, 1);
}

TEST_F(GrantTest, FreeSlotsOfWorkersThatCannotRunTheTaskDoNotCount) {
  AddWorker(kWorker, 1);
  Submit(Wide(3, "add"));
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(sent, SizeIs(1));
  ReportRun(kWorker, sent[0], true, absl::Microseconds(50));
  // Four free slots, but on a worker without `add`.
  AddWorker(kOther, 4, {"const"});
  sent = Dispatch(kWorker);
  ASSERT_THAT(sent, SizeIs(2));
  EXPECT_TRUE(sent[1].has_after());
}

// A worker whose clock stepped back while a task ran reports it finished
// before it started. That is no run time: counted, it would pull the job's
// mean for the function below zero, and a long-running function would get
// grants queued behind it as if it were the shortest.
TEST_F(GrantTest, RunTimesOfAClockThatSteppedBackAreNotCounted) {
  AddWorker(kWorker, 1);
  Submit(Wide(4, "add"));
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(sent, SizeIs(1));
  ReportRun(kWorker, sent[0], true, absl::Milliseconds(50));
  scheduler_.TakeOutput();
  sent = Dispatch(kWorker);
  ASSERT_THAT(sent, SizeIs(1));  // 50 ms: nothing queued behind it
  const int64_t now_ms = absl::ToUnixMillis(clock_.Now());
  ReportAt(kWorker, sent[0], true, now_ms, now_ms - 3'600'000);
  EXPECT_THAT(scheduler_.TakeOutput().run_times, IsEmpty());
  sent = Dispatch(kWorker);
  ASSERT_THAT(sent, SizeIs(1));
  EXPECT_FALSE(sent[0].has_after());
}

TEST_F(GrantTest, QueuedGrantsGoByTheJobsOwnRunTimes) {
  AddWorker(kWorker, 1);
  // `add` ran long in another job; this job's own `add` takes 50 us.
  Teach("add", absl::Milliseconds(50));
  Submit(Wide(4, "add"));
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(sent, SizeIs(1));
  ReportRun(kWorker, sent[0], true, absl::Microseconds(50));
  sent = Dispatch(kWorker);
  ASSERT_THAT(sent, SizeIs(3));
  EXPECT_TRUE(sent[2].has_after());
  // And the other way round: short elsewhere, long here.
  for (const v1::Assignment& a : sent) ReportRun(kWorker, a, true, {});
  Dispatch(kWorker);
  Submit(Wide(4, "add"));
  sent = Dispatch(kWorker);
  ASSERT_THAT(sent, SizeIs(1));
  ReportRun(kWorker, sent[0], true, absl::Milliseconds(50));
  sent = Dispatch(kWorker);
  ASSERT_THAT(sent, SizeIs(1));
  EXPECT_FALSE(sent[0].has_after());
}

TEST_F(GrantTest, EachWorkerWithRoomGetsItsShareOfTheQueue) {
  AddWorker(kWorker, 1);
  Submit(Wide(13, "add"));
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(sent, SizeIs(1));
  ReportRun(kWorker, sent[0], true, absl::Microseconds(50));
  AddWorker(kOther, 1);
  AddWorker(3, 1);
  AddWorker(4, 1);
  // 12 ready, 4 free slots: 3 each, not 9 on the first and 1 on the rest.
  sent = Dispatch(kWorker);
  EXPECT_THAT(sent, SizeIs(3));
  EXPECT_EQ(other_sends_, 9);
}

TEST_F(GrantTest, AQueuedTaskWhoseHeadFailsRunsAgainAsPlaced) {
  AddWorker(kWorker, 1);
  const uint64_t job = Submit(
      R"({"tasks": [{"id": "a", "fn": "add", "priority": 2,
                     "retry": {"maxAttempts": 2, "initialBackoff": "1s"}},
                    {"id": "b", "fn": "add", "priority": 1},
                    {"id": "w", "fn": "add", "priority": 3}]})");
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ElementsAre("w"));
  ReportRun(kWorker, sent[0], true, absl::Microseconds(50));
  sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ElementsAre("a", "b"));
  ReportRun(kWorker, sent[0], false, {}, "boom");
  std::vector<v1::Assignment> again = Dispatch(kWorker);
  ASSERT_THAT(last_cancels_, SizeIs(1));
  EXPECT_EQ(last_cancels_[0].task_index(), sent[1].task().task_index());
  auto b = scheduler_.TaskStatusOf(job, "b");
  ASSERT_TRUE(b.ok());
  EXPECT_THAT(b->attempts(0).error(),
              HasSubstr("granted after task 'a', which did not succeed"));
  // b is placed again on its own, on the slot a gave back.
  ASSERT_THAT(Ids(again), ElementsAre("b"));
  EXPECT_FALSE(again[0].has_after());
  EXPECT_EQ(again[0].task().attempt(), 2u);
}

TEST_F(GrantTest, AQueuedTaskReportedBeforeItsHeadIsReadyAgain) {
  AddWorker(kWorker, 1);
  const uint64_t job = Submit(Wide(3, "add"));
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(sent, SizeIs(1));
  ReportRun(kWorker, sent[0], true, absl::Microseconds(50));
  sent = Dispatch(kWorker);
  ASSERT_THAT(sent, SizeIs(2));
  ReportRun(kWorker, sent[1], true, {});  // out of order: not trusted
  auto queued = scheduler_.TaskStatusOf(job, sent[1].task_id());
  ASSERT_TRUE(queued.ok());
  EXPECT_EQ(queued->state(), v1::TASK_READY);
  ReportRun(kWorker, sent[0], true, {});
  std::vector<v1::Assignment> again = Dispatch(kWorker);
  ASSERT_THAT(again, SizeIs(1));
  EXPECT_EQ(again[0].task_id(), sent[1].task_id());
  ReportRun(kWorker, again[0], true, {});
  EXPECT_THAT(Dispatch(kWorker), IsEmpty());
  EXPECT_FALSE(scheduler_.JobStatusOf(job).has_value());
}

// GrantTest with options of its own: `depth` for grant_depth, `queued`
// for grant_queued.
template <uint32_t depth, uint32_t queued>
class GrantOptionsTest : public GrantTest {
 protected:
  GrantOptionsTest() : GrantTest(Options()) {}
  static SchedulerOptions Options() {
    SchedulerOptions options;
    options.grant_depth = depth;
    options.grant_queued = queued;
    return options;
  }
};
using NoQueuedGrantTest = GrantOptionsTest<64, 0>;
using NoChainGrantTest = GrantOptionsTest<0, 8>;

// A task whose grant after c was withdrawn, then granted after e: c's
// success must not hand c's slot on to it.
TEST_F(GrantTest, AGrantWithdrawnAndGivenAgainFollowsOnlyItsNewPredecessor) {
  AddWorker(kWorker, 2);
  const uint64_t job = Submit(
      R"({"tasks": [{"id": "a", "fn": "add", "priority": 10},
                    {"id": "b", "fn": "add", "priority": 9},
                    {"id": "c", "fn": "add", "priority": 8},
                    {"id": "d", "fn": "add", "priority": 1},
                    {"id": "e", "fn": "add", "priority": 5,
                     "inputs": ["b"]}]})");
  std::map<std::string, v1::Assignment> sent;
  auto dispatch = [&] {
    std::vector<std::string> ids;
    for (v1::Assignment& a : Dispatch(kWorker)) {
      ids.push_back(a.task_id());
      sent[a.task_id()] = std::move(a);
    }
    return ids;
  };
  ASSERT_THAT(dispatch(), ElementsAre("a", "b"));
  ReportRun(kWorker, sent["a"], true, absl::Microseconds(50));
  ASSERT_THAT(dispatch(), ElementsAre("c", "d"));  // d queued after c
  ReportRun(kWorker, sent["d"], true, {});         // out of order: ready
  ReportRun(kWorker, sent["b"], true, absl::Microseconds(50));
  ASSERT_THAT(dispatch(), ElementsAre("e", "d"));  // d queued after e
  EXPECT_EQ(sent["d"].after().task_index(), sent["e"].task().task_index());
  ReportRun(kWorker, sent["c"], true, {});
  // c's slot is free again; e holds one, d still waits for e.
  EXPECT_EQ(scheduler_.Counts().slots_busy, 1u);
  ReportRun(kWorker, sent["e"], true, {});
  EXPECT_EQ(scheduler_.Counts().slots_busy, 1u);
  ReportRun(kWorker, sent["d"], true, {});
  EXPECT_THAT(dispatch(), IsEmpty());
  EXPECT_FALSE(scheduler_.JobStatusOf(job).has_value());
}

TEST_F(NoChainGrantTest, QueuedGrantsStayOnWithoutChainGrants) {
  AddWorker(kWorker, 1);
  Submit(Wide(4, "add"));
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(sent, SizeIs(1));
  ReportRun(kWorker, sent[0], true, absl::Microseconds(50));
  EXPECT_THAT(Dispatch(kWorker), SizeIs(3));
}

TEST_F(NoQueuedGrantTest, QueuedGrantsCanBeTurnedOff) {
  AddWorker(kWorker, 1);
  Submit(Wide(4, "add"));
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(sent, SizeIs(1));
  ReportRun(kWorker, sent[0], true, absl::Microseconds(50));
  EXPECT_THAT(Dispatch(kWorker), SizeIs(1));
}

}  // namespace
}  // namespace dagd
