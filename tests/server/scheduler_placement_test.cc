// Every attempt records why it went where it did: placed by the policy,
// granted ahead, taken over from a reconnecting worker, or reported by a
// worker from an attempt this scheduler did not place. TaskStatus shows it.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/server/scheduler_fixture.h"

namespace dagd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

class SchedulerPlacementTest : public SchedulerTest {
 protected:
  // What a draining worker reports of an assignment it did not start.
  static v1::TaskResult NotStarted(const v1::Assignment& a) {
    v1::TaskResult given_back;
    *given_back.mutable_task() = a.task();
    given_back.set_not_started(true);
    given_back.set_error("not started: this worker drains");
    return given_back;
  }

  explicit SchedulerPlacementTest(SchedulerOptions options = {})
      : SchedulerTest(std::move(options)) {}

  std::vector<std::string> Placements(uint64_t seq, const std::string& task) {
    absl::StatusOr<v1::TaskStatus> status = scheduler_.TaskStatusOf(seq, task);
    EXPECT_TRUE(status.ok()) << status.status();
    std::vector<std::string> out;
    if (!status.ok()) return out;
    for (const v1::Attempt& a : status->attempts())
      out.push_back(a.placement());
    return out;
  }

  // Reports `a` done after `run_time`, so its function's run time is known.
  void ReportRun(WorkerId worker, const v1::Assignment& a,
                 absl::Duration run_time) {
    v1::TaskResult result;
    *result.mutable_task() = a.task();
    result.set_ok(true);
    result.mutable_output()->set_data("1");
    result.set_started_unix_ms(absl::ToUnixMillis(clock_.Now() - run_time));
    result.set_finished_unix_ms(absl::ToUnixMillis(clock_.Now()));
    scheduler_.OnTaskResult(worker, std::move(result));
  }
};

TEST_F(SchedulerPlacementTest, PlacedTasksSayLeastLoadedOrInputsHeld) {
  AddWorker(kWorker, 4);
  AddWorker(kOther, 2);
  // Slow functions are never granted: b is placed like any ready task.
  const uint64_t job = Submit(R"({"tasks": [
      {"id": "a", "fn": "const"},
      {"id": "b", "fn": "sleep", "inputs": ["a"]}]})");
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ElementsAre("a"));
  EXPECT_THAT(Placements(job, "a"),
              ElementsAre("placed on worker-1: least loaded (4 free slots)"));
  Report(kWorker, sent[0], true);
  // worker-2 would have more free slots now; worker-1 made b's input.
  sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ElementsAre("b"));
  EXPECT_THAT(Placements(job, "b"),
              ElementsAre("placed on worker-1: holds 1 of 1 input"));
}

// More workers than FreeSlotIndex::kSmall: PickWorker looks only at the
// likely answers, and must choose as if it had looked at every worker.
TEST_F(SchedulerPlacementTest, AmongManyWorkersTheChoicesAreTheSame) {
  for (WorkerId id = 101; id <= 140; ++id) AddWorker(id, 4);
  WorkerSpec small = Worker(150, 1);
  small.pool = "p";
  scheduler_.AddWorker(150, std::move(small));
  AddWorker(200, 5);
  const uint64_t job = Submit(R"({"tasks": [
      {"id": "a", "fn": "const", "executor": "pool:p"},
      {"id": "b", "fn": "sleep", "inputs": ["a"]},
      {"id": "c", "fn": "sleep"},
      {"id": "d", "fn": "sleep"}]})");
  // a: its pool's only worker. c: the most free slots. d: 4 free slots,
  // as 41 workers have then (which one wins the tie is not promised).
  std::vector<v1::Assignment> sent = Dispatch(150);
  ASSERT_THAT(Ids(sent), ElementsAre("a"));
  EXPECT_THAT(Placements(job, "a"),
              ElementsAre("placed on worker-150: least loaded (1 free slot)"));
  EXPECT_THAT(Placements(job, "c"),
              ElementsAre("placed on worker-200: least loaded (5 free slots)"));
  EXPECT_THAT(Placements(job, "d"),
              ElementsAre(HasSubstr("least loaded (4 free slots)")));
  // b: on the worker that made its input, with 1 free slot against 4.
  Report(150, sent[0], true);
  sent = Dispatch(150);
  ASSERT_THAT(Ids(sent), ElementsAre("b"));
  EXPECT_THAT(Placements(job, "b"),
              ElementsAre("placed on worker-150: holds 1 of 1 input"));
  // worker-200 leaves with c: c runs again elsewhere, and nothing is ever
  // placed on the worker that left.
  scheduler_.RemoveWorker(200);
  Dispatch(200);
  const std::vector<std::string> c = Placements(job, "c");
  ASSERT_THAT(c, SizeIs(2));
  EXPECT_THAT(c[1], HasSubstr("least loaded (4 free slots)"));
  EXPECT_THAT(c[1], Not(HasSubstr("worker-200")));
}

SchedulerOptions Packing() {
  SchedulerOptions options;
  options.fill = Fill::kPack;
  return options;
}

class PackingTest : public SchedulerPlacementTest {
 protected:
  PackingTest() : SchedulerPlacementTest(Packing()) {}
};

// --placement=pack: each task on the most loaded worker with room, so the
// first fills before the next takes any; a task needing more slots than
// the fullest has free skips it.
TEST_F(PackingTest, TasksFillTheMostLoadedWorkerWithRoomFirst) {
  AddWorker(kWorker, 3);
  AddWorker(kOther, 4);
  AddWorker(3, 5);
  const uint64_t job = Submit(R"({"tasks": [
      {"id": "a", "fn": "sleep"}, {"id": "b", "fn": "sleep"},
      {"id": "c", "fn": "sleep"}, {"id": "d", "fn": "sleep"},
      {"id": "e", "fn": "sleep", "resources": {"slots": 2}}]})");
  EXPECT_THAT(Ids(Dispatch(kWorker)), ElementsAre("a", "b", "c"));
  EXPECT_THAT(
      Placements(job, "a"),
      ElementsAre("placed on worker-1: most loaded with room (3 free slots)"));
  EXPECT_THAT(
      Placements(job, "c"),
      ElementsAre("placed on worker-1: most loaded with room (1 free slot)"));
  // worker-2 comes before worker-3 (fewer free slots); e, wanting 2,
  // then fits on worker-2 (3 free) before worker-3 (5 free).
  EXPECT_THAT(Placements(job, "d"), ElementsAre(HasSubstr("on worker-2")));
  EXPECT_THAT(Placements(job, "e"), ElementsAre(HasSubstr("on worker-2")));
}

// The same among more workers than FreeSlotIndex::kSmall (a B-tree, not a
// sort): one worker fills before the next takes any (which one comes first
// is not promised); a worker holding a task's input still comes first,
// however free.
TEST_F(PackingTest, AmongManyWorkersOneFillsBeforeTheNext) {
  for (WorkerId id = 101; id <= 140; ++id) AddWorker(id, 2);
  WorkerSpec big = Worker(200, 8);
  big.pool = "p";
  scheduler_.AddWorker(200, std::move(big));
  const uint64_t job = Submit(R"({"tasks": [
      {"id": "a", "fn": "const", "executor": "pool:p"},
      {"id": "b", "fn": "sleep"}, {"id": "c", "fn": "sleep"},
      {"id": "d", "fn": "sleep"},
      {"id": "e", "fn": "sleep", "inputs": ["a"]}]})");
  std::vector<v1::Assignment> sent = Dispatch(200);
  ASSERT_THAT(Ids(sent), ElementsAre("a"));
  // "placed on worker-N: ..."
  auto worker_of = [&](const std::string& task) {
    std::vector<std::string> p = Placements(job, task);
    return p.size() == 1 ? p[0].substr(0, p[0].find(':')) : "";
  };
  EXPECT_THAT(Placements(job, "b"), ElementsAre(HasSubstr("(2 free slots)")));
  EXPECT_THAT(Placements(job, "c"), ElementsAre(HasSubstr("(1 free slot)")));
  EXPECT_EQ(worker_of("b"), worker_of("c"));
  EXPECT_THAT(Placements(job, "d"), ElementsAre(HasSubstr("(2 free slots)")));
  EXPECT_NE(worker_of("d"), worker_of("b"));
  EXPECT_NE(worker_of("d"), "placed on worker-200");
  Report(200, sent[0], true);
  EXPECT_THAT(Ids(Dispatch(200)), ElementsAre("e"));
  EXPECT_THAT(Placements(job, "e"),
              ElementsAre("placed on worker-200: holds 1 of 1 input"));
}

// A worker that says it drains (a heartbeat, or its Register on a new
// stream) gets nothing new, however free, from demands old and new; what
// runs there still reports. dagd placed tasks on it, which it left
// unstarted until its stream closed.
TEST_F(SchedulerPlacementTest, ADrainingWorkerGetsNothingNew) {
  AddWorker(kWorker, 8);
  AddWorker(kOther, 2);
  const uint64_t first = Submit(R"({"tasks": [
      {"id": "a", "fn": "sleep"}, {"id": "b", "fn": "sleep"}]})");
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ElementsAre("a", "b"));
  v1::Heartbeat draining;
  draining.set_draining(true);
  scheduler_.OnHeartbeat(kWorker, draining);
  // A worker registering while it drains is the same.
  WorkerSpec again = Worker(3, 8);
  again.draining = true;
  scheduler_.AddWorker(3, std::move(again));
  const uint64_t second = Submit(R"({"tasks": [
      {"id": "c", "fn": "sleep"}, {"id": "d", "fn": "sleep"},
      {"id": "e", "fn": "const"}]})");
  EXPECT_THAT(Ids(Dispatch(kOther)), ElementsAre("c", "d"));
  EXPECT_EQ(other_sends_, 0) << "nothing for the draining workers";
  Report(kWorker, sent[0], true);
  EXPECT_EQ(scheduler_.TaskStatusOf(first, "a")->state(), v1::TASK_SUCCEEDED);
  EXPECT_THAT(Dispatch(kWorker), SizeIs(0));
  EXPECT_EQ(scheduler_.TaskStatusOf(second, "e")->state(), v1::TASK_READY);
  int shown = 0;
  for (const v1::WorkerInfo& info : scheduler_.Workers()) {
    EXPECT_EQ(info.draining(), info.name() != "worker-2") << info.name();
    shown += info.draining() ? 1 : 0;
  }
  EXPECT_EQ(shown, 2);
  // Waiting for a slot on kOther, the one worker staying.
  EXPECT_EQ(scheduler_.TaskStatusOf(second, "e")->waiting_reason(),
            "waiting for a free slot");
  // Once every worker offering a function drains, its tasks say so.
  const uint64_t third = Submit(R"({"tasks": [
      {"id": "f", "fn": "sleep", "resources": {"slots": 8}}]})");
  EXPECT_THAT(Dispatch(kOther), SizeIs(0));
  EXPECT_EQ(scheduler_.TaskStatusOf(third, "f")->waiting_reason(),
            "none of the 1 worker offering 'sleep' can ever run it; it needs "
            "8 slots (2 more drain)");
  scheduler_.OnHeartbeat(kOther, draining);
  EXPECT_EQ(scheduler_.TaskStatusOf(second, "e")->waiting_reason(),
            "all 3 workers offering 'const' drain; it waits for another to "
            "connect");
}

// An assignment on its way as the worker began to drain comes back not
// started: it runs elsewhere at once, its retries untouched (it has none:
// a failure would end the job), and the worker counts as draining from
// then on, heartbeat or not. A copy of that report arriving later is not
// a failure either.
TEST_F(SchedulerPlacementTest, ATaskNotStartedByADrainingWorkerRunsElsewhere) {
  AddWorker(kWorker, 8);
  AddWorker(kOther, 2);
  const uint64_t job = Submit(R"({"tasks": [{"id": "a", "fn": "sleep"}]})");
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ElementsAre("a"));
  scheduler_.OnTaskResult(kWorker, NotStarted(sent[0]));
  EXPECT_EQ(scheduler_.TaskStatusOf(job, "a")->state(), v1::TASK_READY);
  scheduler_.OnTaskResult(kWorker, NotStarted(sent[0]));
  EXPECT_EQ(scheduler_.TaskStatusOf(job, "a")->state(), v1::TASK_READY);
  std::vector<v1::Assignment> again = Dispatch(kOther);
  ASSERT_THAT(Ids(again), ElementsAre("a"));
  EXPECT_EQ(other_sends_, 0);
  Report(kOther, again[0], true);
  const v1::TaskStatus a = *scheduler_.TaskStatusOf(job, "a");
  EXPECT_EQ(a.state(), v1::TASK_SUCCEEDED);
  ASSERT_THAT(a.attempts(), SizeIs(2));
  EXPECT_EQ(a.attempts(0).error(),
            "not started: worker 'worker-1' drains (not counted as a failure)");
  for (const v1::WorkerInfo& info : scheduler_.Workers()) {
    EXPECT_EQ(info.draining(), info.name() == "worker-1") << info.name();
  }
}

// A worker that said an attempt started cannot give it back: the report
// is a failure like any other (the attempt may still be running there).
TEST_F(SchedulerPlacementTest, AStartedAttemptCannotBeGivenBack) {
  AddWorker(kWorker, 8);
  const uint64_t job = Submit(R"({"tasks": [{"id": "a", "fn": "sleep"}]})");
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(sent, SizeIs(1));
  v1::TaskStarted started;
  *started.mutable_task() = sent[0].task();
  started.set_started_unix_ms(absl::ToUnixMillis(clock_.Now()));
  scheduler_.OnTaskStarted(kWorker, started);
  scheduler_.OnTaskResult(kWorker, NotStarted(sent[0]));
  EXPECT_EQ(scheduler_.TaskStatusOf(job, "a")->state(), v1::TASK_FAILED);
  EXPECT_TRUE(scheduler_.Workers()[0].draining());
}

TEST_F(SchedulerPlacementTest, GrantedTasksNameTheTaskTheyFollow) {
  AddWorker(kWorker, 1);
  const uint64_t warm = Submit(R"({"tasks": [{"id": "w", "fn": "add"}]})");
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(sent, SizeIs(1));
  ReportRun(kWorker, sent[0], absl::Microseconds(50));
  Dispatch(kWorker);
  ASSERT_FALSE(scheduler_.JobStatusOf(warm).has_value());

  const uint64_t job = Submit(R"({"tasks": [
      {"id": "c0", "fn": "const"},
      {"id": "c1", "fn": "add", "inputs": ["c0"]},
      {"id": "c2", "fn": "add", "inputs": ["c1"]}]})");
  sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ElementsAre("c0", "c1", "c2"));
  EXPECT_THAT(Placements(job, "c1"),
              ElementsAre("granted ahead on worker-1 after task 'c0'"));
  EXPECT_THAT(Placements(job, "c2"),
              ElementsAre("granted ahead on worker-1 after task 'c1'"));
}

class SchedulerTakeOverPlacementTest : public SchedulerPlacementTest {
 protected:
  static constexpr uint64_t kJob = 9;
  static constexpr WorkerId kBack = 3;

  static v1::TaskRef Ref(uint32_t task, uint32_t attempt) {
    return SealedRef(kJob, task, attempt, kBack);
  }

  // j9 as a restarted dagd reads it back: `a` failed once (its attempt
  // placed before the restart), `b` not run.
  void RestoreJ9() {
    v1::TaskStatus failed;
    failed.set_state(v1::TASK_FAILED);
    v1::Attempt* attempt = failed.add_attempts();
    attempt->set_number(1);
    attempt->set_worker("w1-1");
    attempt->set_placement("placed on w1-1: least loaded (8 free slots)");
    Restore(kJob, R"({"continueOnFailure": true, "tasks": [
                        {"id": "a", "fn": "fail"},
                        {"id": "b", "fn": "const"},
                        {"id": "c", "fn": "const"}]})",
            {{0, failed}});
    scheduler_.Tick();
  }
};

TEST_F(SchedulerTakeOverPlacementTest, TakenOverAndReportedAttemptsSaySo) {
  RestoreJ9();
  WorkerSpec spec = Worker(kBack, 2);
  spec.running = {Ref(1, 3)};
  scheduler_.AddWorker(kBack, std::move(spec));
  EXPECT_THAT(Placements(kJob, "b"),
              ElementsAre("taken over on worker-3: running there when it "
                          "connected"));
  // The worker reports c's attempt 2, which it ran before dagd restarted.
  v1::Assignment c;
  *c.mutable_task() = Ref(2, 2);
  Report(kBack, c, true);
  EXPECT_THAT(Placements(kJob, "c"),
              ElementsAre("taken over on worker-3: its result came from an "
                          "attempt made before"));
  // What was read back from the store keeps its text.
  EXPECT_THAT(Placements(kJob, "a"),
              ElementsAre("placed on w1-1: least loaded (8 free slots)"));
}

}  // namespace
}  // namespace dagd
