// A Coordinator started again on the same store: recovered jobs wait for
// the workers on its roster, and only for them.
#include "tests/server/store_fault_fixture.h"

namespace dagd {
namespace {

// After a restart, recovered jobs wait for the workers on the stored
// roster to come back and say they sent what they kept, and no longer.
class RecoveryRosterTest : public StoreFaultTest {
 protected:
  CoordinatorOptions Options() override {
    CoordinatorOptions options;
    options.scheduler.recovery_grace = absl::Hours(1);  // never, here
    return options;
  }

  void Restart() {
    coordinator_->Stop();
    coordinator_.reset();
    StartCoordinator();
  }

  // Task `task_id`'s state in job `job_id`, after a turn.
  v1::TaskState StateOf(const std::string& job_id, const std::string& task_id) {
    Answer<v1::TaskStatus> task;
    coordinator_->GetTask(job_id, task_id, task.Callback());
    absl::StatusOr<v1::TaskStatus> status = task.Get();
    EXPECT_TRUE(status.ok()) << status.status();
    return status.ok() ? status->state() : v1::TASK_STATE_UNSPECIFIED;
  }

  // Submits kTwoTasks and waits until as many are handed out as there
  // are workers (of one slot each).
  std::string SubmitRunning(
      const std::vector<std::shared_ptr<RecordingDispatcher>>& sinks) {
    absl::StatusOr<v1::SubmitJobResponse> submitted =
        Submit(Request(kTwoTasks));
    EXPECT_TRUE(submitted.ok()) << submitted.status();
    if (!submitted.ok()) return "";
    for (uint32_t index = 0; index < sinks.size(); ++index) {
      EXPECT_TRUE(WaitAssigned(sinks, index)) << "task " << index;
    }
    return submitted->job_id();
  }

  // Waits until task `index` is handed to one of `sinks`.
  static bool WaitAssigned(
      const std::vector<std::shared_ptr<RecordingDispatcher>>& sinks,
      uint32_t index) {
    const absl::Time deadline = absl::Now() + kWait;
    while (absl::Now() < deadline) {
      for (const auto& sink : sinks) {
        if (sink->Assigned(index)) return true;
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
    return false;
  }

  // Workers "p1" and "p2" running kTwoTasks; their stream ids go to `ids`.
  std::string RunOnTwoWorkers(std::vector<WorkerId>* ids = nullptr) {
    auto w1 = std::make_shared<RecordingDispatcher>();
    auto w2 = std::make_shared<RecordingDispatcher>();
    const WorkerId id1 = ConnectWorker(w1, "p1");
    const WorkerId id2 = ConnectWorker(w2, "p2");
    if (ids != nullptr) *ids = {id1, id2};
    return SubmitRunning({w1, w2});
  }

  // Process `instance` back on a new stream, with everything it kept.
  std::shared_ptr<RecordingDispatcher> Back(const std::string& instance) {
    auto sink = std::make_shared<RecordingDispatcher>();
    ConnectWorker(sink, instance);
    return sink;
  }

  // Whether both tasks still wait (READY, not handed out again).
  void ExpectHeld(const std::string& job_id) {
    // A query is answered in its turn before that turn schedules: this one
    // lets the turns of events posted before it finish.
    StateOf(job_id, "a");
    EXPECT_EQ(StateOf(job_id, "a"), v1::TASK_READY);
    EXPECT_EQ(StateOf(job_id, "b"), v1::TASK_READY);
  }

  static constexpr char kTwoTasks[] = R"({"tasks": [
    {"id": "a", "fn": "const", "args": {"value": 1}},
    {"id": "b", "fn": "const", "args": {"value": 2}}]})";
};

TEST_F(RecoveryRosterTest, TheWorkersFromBeforeBackEndTheWait) {
  const std::string job = RunOnTwoWorkers();
  Restart();

  // Back without the tasks (they lost them): one back is not enough, the
  // other may still run them.
  auto w1_again = Back("p1");
  ExpectHeld(job);
  // Both back: the tasks run again now, not in an hour.
  auto w2_again = Back("p2");
  EXPECT_TRUE(WaitAssigned({w1_again, w2_again}, 0));
  EXPECT_TRUE(WaitAssigned({w1_again, w2_again}, 1));
}

// A worker whose kept results did not all fit in its Register is back once
// the batch with the last of them says so.
TEST_F(RecoveryRosterTest, AWorkerIsBackOnceItsKeptResultsAreAllIn) {
  auto w = std::make_shared<RecordingDispatcher>();
  ConnectWorker(w, "p");
  const std::string job = SubmitRunning({w});
  Restart();
  auto again = std::make_shared<RecordingDispatcher>();
  const WorkerId id = ConnectWorker(again, "p", /*kept_complete=*/false);
  ExpectHeld(job);
  v1::WorkerMessage rest;
  rest.mutable_batch();
  coordinator_->WorkerMessage(id, rest);
  ExpectHeld(job);
  rest.mutable_batch()->set_kept_complete(true);
  coordinator_->WorkerMessage(id, rest);
  EXPECT_TRUE(again->WaitForAssignment(0).ok());
}

// Another process of the same name is not the one awaited.
TEST_F(RecoveryRosterTest, AnotherProcessOfTheNameIsNotTheOneAwaited) {
  auto w = std::make_shared<RecordingDispatcher>();
  ConnectWorker(w, "p");
  const std::string job = SubmitRunning({w});
  Restart();
  v1::Register hello;
  hello.set_name("p");
  hello.set_instance("another process");
  hello.set_kept_complete(true);
  hello.set_slots(1);
  hello.add_functions("const");
  auto other = std::make_shared<RecordingDispatcher>();
  coordinator_->WorkerConnected(coordinator_->NewWorkerId(), other, hello,
                                "test");
  ASSERT_TRUE(other->WaitForRegistered());
  ExpectHeld(job);
}

// A worker without a process instance cannot be told from a new one: the
// whole grace is waited for it.
TEST_F(RecoveryRosterTest, AWorkerWithoutAnInstanceIsWaitedTheWholeGrace) {
  auto w = std::make_shared<RecordingDispatcher>();
  ConnectWorker(w);
  const std::string job = SubmitRunning({w});
  Restart();
  ConnectWorker(std::make_shared<RecordingDispatcher>());
  ExpectHeld(job);
}

// Awaited and not back when dagd restarts again: awaited again, as it may
// still hold what it ran two starts ago.
TEST_F(RecoveryRosterTest, AWorkerNotBackIsAwaitedAfterTheNextRestartToo) {
  const std::string job = RunOnTwoWorkers();
  Restart();
  Back("p1");
  Restart();
  auto w1_again = Back("p1");
  ExpectHeld(job);
  auto w2_again = Back("p2");
  EXPECT_TRUE(WaitAssigned({w1_again, w2_again}, 0));
}

// A start of a dagd that kept no roster came in between: workers may have
// joined it unrecorded, so the roster is not whole.
TEST_F(RecoveryRosterTest, AStartWithoutTheRosterInBetweenWaitsTheGrace) {
  auto w = std::make_shared<RecordingDispatcher>();
  ConnectWorker(w, "p");
  const std::string job = SubmitRunning({w});
  coordinator_->Stop();
  coordinator_.reset();
  ASSERT_TRUE(rocks_->StartIncarnation().ok());  // the other dagd's start
  StartCoordinator();
  Back("p");
  ExpectHeld(job);
}

// A store from before the roster, or whose first start with it ended
// within its grace, cannot say who was connected: the whole grace.
TEST_F(RecoveryRosterTest, AStoreWithoutAWholeRosterWaitsTheWholeGrace) {
  auto w = std::make_shared<RecordingDispatcher>();
  ConnectWorker(w, "p");
  const std::string job = SubmitRunning({w});
  faulty_->ForgetRoster();
  Restart();
  ConnectWorker(std::make_shared<RecordingDispatcher>(), "p");
  ExpectHeld(job);
}

// No worker was connected: none can come back with work, so nothing waits.
TEST_F(RecoveryRosterTest, WithNoWorkerConnectedRecoveredJobsGoOnAtOnce) {
  absl::StatusOr<v1::SubmitJobResponse> submitted = Submit(Request(kTwoTasks));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  Restart();
  auto w = std::make_shared<RecordingDispatcher>();
  ConnectWorker(w, "late", /*kept_complete=*/false);
  EXPECT_TRUE(w->WaitForAssignment(0).ok());
}

// RecoveryRosterTest with a grace that runs out within a test.
class ShortGraceRosterTest : public RecoveryRosterTest {
 protected:
  CoordinatorOptions Options() override {
    CoordinatorOptions options;
    options.scheduler.recovery_grace = absl::Seconds(3);
    return options;
  }
};

// A worker back after a restart whose stream breaks shortly before the
// grace runs out may still run what it took over: a second crash soon
// after still waits for it.
TEST_F(ShortGraceRosterTest, AWorkerThatLeftJustBeforeTheGraceIsAwaitedAgain) {
  auto w = std::make_shared<RecordingDispatcher>();
  ConnectWorker(w, "p");
  const std::string job = SubmitRunning({w});
  Restart();
  const absl::Time restarted = absl::Now();
  // Back, its kept results not all in yet...
  const WorkerId id = ConnectWorker(std::make_shared<RecordingDispatcher>(),
                                    "p", /*kept_complete=*/false);
  // ...when its stream breaks, about 1 s before the grace runs out.
  absl::SleepFor(restarted + absl::Milliseconds(2000) - absl::Now());
  ExpectHeld(job);  // so the grace had not ended while it was back
  coordinator_->WorkerDisconnected(id);
  // Killed after the grace, 1.3 s after it left: within the 3 s it stays.
  absl::SleepFor(restarted + absl::Milliseconds(3300) - absl::Now());
  Restart();
  ConnectWorker(std::make_shared<RecordingDispatcher>(), "q");
  ExpectHeld(job);
}

// dagd's own stop closes every stream: that is not the workers leaving,
// however long the stop takes, and the next start waits for them.
TEST_F(ShortGraceRosterTest, StreamsClosedByAStopTakeNoOneOff) {
  std::vector<WorkerId> ids;
  const std::string job = RunOnTwoWorkers(&ids);
  coordinator_->CloseStreams();
  for (WorkerId id : ids) coordinator_->WorkerDisconnected(id);
  // Past the 3 s a departed worker stays on the roster; a query makes a
  // turn after it.
  absl::SleepFor(absl::Milliseconds(3500));
  EXPECT_EQ(StateOf(job, "a"), v1::TASK_READY);
  Restart();
  Back("p1");
  ExpectHeld(job);  // p2 is awaited (for the 3 s grace)
}

// A job an older dagd accepted that a check added since refuses (here a
// deadline over 3650 days) fails at the restart, saying why; dagd starts
// and runs the other jobs. Before, the start refused the whole store as
// damaged.
TEST_F(RecoveryRosterTest, AStoredJobTodaysChecksRefuseFailsAndDagdStarts) {
  absl::StatusOr<v1::SubmitJobResponse> kept = Submit(Request(kTwoTasks));
  ASSERT_TRUE(kept.ok()) << kept.status();
  coordinator_->Stop();
  coordinator_.reset();
  WriteSet old;
  WriteSet::NewJob& job = old.new_jobs.emplace_back();
  job.seq = 2;
  auto header = std::make_shared<v1::JobSpec>();
  header->mutable_deadline()->set_seconds(int64_t{4000} * 86400);
  job.spec = header;
  auto tasks = std::make_shared<JobTasks>();
  v1::TaskSpec task;
  task.set_id("x");
  task.set_fn("const");
  tasks->Add(task);
  job.tasks = tasks;
  job.status.set_job_id("j2");
  job.status.set_state(v1::JOB_PENDING);
  job.status.set_total_tasks(1);
  ASSERT_EQ(rocks_->Commit(old, /*sync=*/true), absl::OkStatus());

  StartCoordinator();
  Answer<v1::JobStatus> refused;
  coordinator_->GetJob("j2", refused.Callback());
  absl::StatusOr<v1::JobStatus> status = refused.Get();
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->state(), v1::JOB_FAILED);
  EXPECT_THAT(status->error(),
              ::testing::HasSubstr("this dagd does not run the job as stored: "
                                   "job: deadline is 345600000s"));
  ASSERT_EQ(status->counts_size(), 1);
  EXPECT_EQ(status->counts(0).state(), v1::TASK_CANCELLED);
  // Its task ends as a cancelled job's would, saying why.
  Answer<v1::TaskStatus> x;
  coordinator_->GetTask("j2", "x", x.Callback());
  ASSERT_TRUE(x.Get().ok()) << x.Get().status();
  EXPECT_EQ(x.Get()->state(), v1::TASK_CANCELLED);
  EXPECT_THAT(x.Get()->error(),
              ::testing::HasSubstr("this dagd does not run the job as stored"));
  EXPECT_EQ(StateOf(kept->job_id(), "a"), v1::TASK_READY);
  // Stored as failed: the next start recovers it no more.
  ASSERT_NO_FATAL_FAILURE(Restart());
  Answer<v1::JobStatus> again;
  coordinator_->GetJob("j2", again.Callback());
  ASSERT_TRUE(again.Get().ok());
  EXPECT_EQ(again.Get()->state(), v1::JOB_FAILED);
}

// A job naming a Lambda function (lambda:NAME) survives a restart: its
// stored spec compiles again whatever names dagd may invoke now, and the
// scheduler decides what it sends (scheduler_lambda_test). Before, every
// start refused the store as damaged while such a job was unfinished.
class LambdaRecoveryTest : public RecoveryRosterTest {
 protected:
  CoordinatorOptions Options() override {
    CoordinatorOptions options = RecoveryRosterTest::Options();
    options.limits.lambda = true;
    options.limits.lambda_functions = {"thumbs", "dagd-fn"};
    options.scheduler.lambda_function = "dagd-fn";
    options.scheduler.lambda_allowed_functions = {"thumbs"};
    return options;
  }
};

TEST_F(LambdaRecoveryTest, AJobNamingALambdaFunctionIsRecovered) {
  absl::StatusOr<v1::SubmitJobResponse> submitted = Submit(Request(
      R"({"tasks": [{"id": "a", "fn": "resize", "executor": "lambda:thumbs"}]})"));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  ASSERT_NO_FATAL_FAILURE(Restart());
  EXPECT_EQ(StateOf(submitted->job_id(), "a"), v1::TASK_READY);
}

}  // namespace
}  // namespace dagd
