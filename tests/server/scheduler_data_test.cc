// Results held by workers, in the scheduler core: held outputs are taken
// only from the process that made them, consumers are sent typed
// references, intermediates are freed once consumed, and results lost with
// their holder are made again (recursively, within a bound) without using
// up retry attempts.
#include <cmath>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/batch_split.h"
#include "storage/object_store.h"
#include "tests/server/scheduler_data_fixture.h"

namespace dagd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

TEST_F(SchedulerDataTest, ConsumersGetTheHoldersReferenceAndItIsFreedOnce) {
  AddHolder(kWorker, 4);
  const uint64_t job = Submit(R"({"tasks": [
      {"id": "big", "fn": "const"},
      {"id": "use1", "fn": "add", "inputs": ["big"]},
      {"id": "use2", "fn": "add", "inputs": ["big"]}]})");
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ElementsAre("big"));
  ReportHeld(kWorker, sent[0], kWorker);
  EXPECT_THAT(Status(job, "big").result().location(),
              HasSubstr("held by worker 127.0.0.1:701"));
  sent = Dispatch(kWorker);
  ASSERT_THAT(sent, SizeIs(2));
  for (const v1::Assignment& a : sent) {
    ASSERT_EQ(a.input_refs().count(0), 1u) << a.task_id();
    const v1::ObjectRef& ref = a.input_refs().at(0);
    EXPECT_EQ(ref.holder().address(), Address(kWorker));
    EXPECT_EQ(ref.key(), ResultObjectKey(JobIdFromSeq(job), 0, 1));
    EXPECT_EQ(a.inputs(0).data(), "");  // no bytes through dagd
  }
  Report(kWorker, sent[0], true);
  auto sends = Turn();
  EXPECT_THAT(sends[kWorker].release(), IsEmpty()) << "use2 still needs it";
  Report(kWorker, sent[1], true);
  // use2 was the last consumer; the job is finished and "big" is freed.
  sends = Turn();
  EXPECT_THAT(sends[kWorker].release(),
              ElementsAre(ResultObjectKey(JobIdFromSeq(job), 0, 1)));
}

// A task marked an output (TaskSpec.output: a Dask client asking for a key
// others read) is kept as one though consumed: freed, as an intermediate
// would be once its consumers succeeded, the client's read of it failed.
class SchedulerMarkedOutputTest : public SchedulerDataTest {
 protected:
  // Job `big` (marked an output, held by kWorker), consumed by `use`, both
  // done; "wait" runs in a pool no worker is in: the job stays in memory.
  uint64_t ConsumedMarkedOutput() {
    AddHolder(kWorker, 2);
    const uint64_t job = Submit(R"({"tasks": [
        {"id": "big", "fn": "const", "output": true},
        {"id": "use", "fn": "add", "inputs": ["big"]},
        {"id": "wait", "fn": "const", "executor": "pool:none"}]})");
    std::vector<v1::Assignment> sent = Dispatch(kWorker);
    EXPECT_THAT(Ids(sent), ElementsAre("big"));
    if (sent.size() != 1) return job;
    ReportHeld(kWorker, sent[0], kWorker);
    sent = Dispatch(kWorker);
    EXPECT_THAT(Ids(sent), ElementsAre("use"));
    if (sent.size() != 1) return job;
    Report(kWorker, sent[0], true);
    return job;
  }
};

TEST_F(SchedulerMarkedOutputTest, ItIsNotFreedOnceConsumed) {
  const uint64_t job = ConsumedMarkedOutput();
  auto sends = Turn();
  EXPECT_THAT(sends[kWorker].release(), IsEmpty());
  EXPECT_THAT(Status(job, "big").result().location(),
              HasSubstr("held by worker"));
  // Cancelled, the job ends: its outputs stay, the marked one too.
  ASSERT_TRUE(scheduler_.CancelJob(job).ok());
  sends = Turn();
  EXPECT_THAT(sends[kWorker].release(), IsEmpty());
}

TEST_F(SchedulerMarkedOutputTest, LostWhileItsJobRunsItIsMadeAgain) {
  const uint64_t job = ConsumedMarkedOutput();
  Dispatch(kWorker);
  AddHolder(kOther, 1);
  scheduler_.RemoveWorker(kWorker);  // its holder is gone
  EXPECT_EQ(Status(job, "big").state(), v1::TASK_READY);
  EXPECT_EQ(Status(job, "use").state(), v1::TASK_SUCCEEDED);
}

TEST_F(SchedulerDataTest, AnOutputStaysHeldAfterItsJobFinishes) {
  AddHolder(kWorker, 1);
  Submit(R"({"tasks": [{"id": "out", "fn": "const"}]})");
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(sent, SizeIs(1));
  ReportHeld(kWorker, sent[0], kWorker);
  auto sends = Turn();
  EXPECT_THAT(sends[kWorker].release(), IsEmpty());
  // Deleting the job later frees it on its holder.
  v1::ObjectRef ref;
  ref.set_key(ResultObjectKey(sent[0].task().job_id(), 0, 1));
  ref.mutable_holder()->set_instance(Instance(kWorker));
  ref.mutable_holder()->set_name(Worker(kWorker, 1).name);  // as stored
  scheduler_.ReleaseObjects({ref});
  sends = Turn();
  EXPECT_THAT(sends[kWorker].release(), ElementsAre(ref.key()));
}

TEST_F(SchedulerDataTest, AHeldOutputIsTakenOnlyFromTheProcessThatMadeIt) {
  AddHolder(kWorker, 1);
  const uint64_t job = Submit(R"({"tasks": [{"id": "a", "fn": "const"}]})");
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(sent, SizeIs(1));
  AddHolder(kOther, 1);
  // kWorker ran it but names kOther's process as the holder.
  ReportHeld(kWorker, sent[0], /*holder=*/kOther);
  const v1::TaskStatus status = Status(job, "a");
  EXPECT_NE(status.state(), v1::TASK_SUCCEEDED);
  ASSERT_THAT(status.attempts(), SizeIs(1));
  EXPECT_THAT(
      status.attempts(0).error(),
      HasSubstr("only the worker that ran an attempt holds its output"));
}

TEST_F(SchedulerDataTest, AnOutputOverTheBoundFailsForGoodNamingTheFlag) {
  AddHolder(kWorker, 1);
  const uint64_t job = Submit(R"({"tasks": [
      {"id": "huge", "fn": "const", "retry": {"maxAttempts": 5}}]})");
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(sent, SizeIs(1));
  ReportHeld(kWorker, sent[0], kWorker, /*size=*/200 << 20);
  const v1::TaskStatus status = Status(job, "huge");
  EXPECT_EQ(status.state(), v1::TASK_FAILED);  // not retried
  EXPECT_THAT(status.error(), HasSubstr("209715200 bytes"));
  EXPECT_THAT(status.error(), HasSubstr("--max_result_bytes"));
}

TEST_F(SchedulerDataTest, AResultLostWithItsHolderIsMadeAgainFirst) {
  AddHolder(kWorker, 1);
  // q waits for a pool no worker is in: p's result stays held, unconsumed.
  const uint64_t job = Submit(R"({"tasks": [
      {"id": "p", "fn": "const"},
      {"id": "q", "fn": "add", "inputs": ["p"], "executor": "pool:none"}]})");
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ElementsAre("p"));
  ReportHeld(kWorker, sent[0], kWorker);
  ASSERT_EQ(Status(job, "p").state(), v1::TASK_SUCCEEDED);
  AddHolder(kOther, 1);
  scheduler_.RemoveWorker(kWorker);  // kill -9 of the holder
  EXPECT_EQ(Status(job, "p").state(), v1::TASK_READY);
  EXPECT_EQ(Status(job, "q").state(), v1::TASK_PENDING);
  sent = Dispatch(kOther);
  ASSERT_THAT(Ids(sent), ElementsAre("p"));
  EXPECT_EQ(sent[0].task().attempt(), 2u);
  ReportHeld(kOther, sent[0], kOther);
  EXPECT_EQ(Status(job, "p").state(), v1::TASK_SUCCEEDED);
  EXPECT_EQ(Status(job, "q").state(), v1::TASK_READY);
}

TEST_F(SchedulerDataTest, AConsumerWhoseInputIsLostWaitsWithoutAFailure) {
  AddHolder(kWorker, 1);
  // One attempt only: were the stop counted as a failure, q would fail.
  const uint64_t job = Submit(R"({"tasks": [
      {"id": "p", "fn": "const"},
      {"id": "q", "fn": "add", "inputs": ["p"], "executor": "pool:b",
       "retry": {"maxAttempts": 1}}]})");
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ElementsAre("p"));
  ReportHeld(kWorker, sent[0], kWorker);
  AddPoolHolder(kOther, 1, "b");
  sent = Dispatch(kOther);
  ASSERT_THAT(Ids(sent), ElementsAre("q"));
  EXPECT_EQ(sent[0].input_refs().at(0).holder().address(), Address(kWorker));
  // q is fetching p from worker-1 when worker-1 is lost.
  scheduler_.RemoveWorker(kWorker);
  auto sends = Turn();
  ASSERT_THAT(sends[kOther].cancels(), SizeIs(1));
  v1::TaskStatus q = Status(job, "q");
  EXPECT_EQ(q.state(), v1::TASK_PENDING);
  ASSERT_THAT(q.attempts(), SizeIs(1));
  EXPECT_THAT(q.attempts(0).error(), HasSubstr("its input 'p' was lost"));
  // The worker stops q and says so; its slot is free again.
  Report(kOther, sent[0], false, "cancelled");
  EXPECT_EQ(Status(job, "q").state(), v1::TASK_PENDING);
  // p is made again (worker-2 takes any work too), then q runs.
  sent = Dispatch(kOther);
  ASSERT_THAT(Ids(sent), ElementsAre("p"));
  ReportHeld(kOther, sent[0], kOther);
  sent = Dispatch(kOther);
  ASSERT_THAT(Ids(sent), ElementsAre("q"));
  EXPECT_EQ(sent[0].input_refs().at(0).holder().address(), Address(kOther));
  Report(kOther, sent[0], true);
  Dispatch(kOther);
  EXPECT_FALSE(scheduler_.JobStatusOf(job).has_value()) << "finished";
}

// A task `after` another reads nothing of it: the held result is freed once
// its one reader has succeeded (it was counted as read by `later` too, and
// stayed held until the job ended).
TEST_F(SchedulerDataTest, ATaskAfterAnotherDoesNotKeepItsResultHeld) {
  AddHolder(kWorker, 4);
  const uint64_t job = Submit(R"({"tasks": [
      {"id": "big", "fn": "const"},
      {"id": "use", "fn": "add", "inputs": ["big"]},
      {"id": "later", "fn": "const", "after": ["big"]},
      {"id": "wait", "fn": "const", "executor": "pool:none"}]})");
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ElementsAre("big"));
  ReportHeld(kWorker, sent[0], kWorker);
  sent = Dispatch(kWorker);
  ASSERT_THAT(sent, SizeIs(2));
  for (const v1::Assignment& a : sent) Report(kWorker, a, true);
  auto sends = Turn();
  EXPECT_THAT(sends[kWorker].release(),
              ElementsAre(ResultObjectKey(JobIdFromSeq(job), 0, 1)));
}

// The holder of a result that a running task only came `after` is lost:
// the task runs on (it was stopped, "its input was lost", to run again);
// the result, which no task reads, is an output of the job, made again.
TEST_F(SchedulerDataTest, ALostResultDoesNotStopATaskThatCameAfterIt) {
  AddHolder(kWorker, 1);
  const uint64_t job = Submit(R"({"tasks": [
      {"id": "big", "fn": "const"},
      {"id": "later", "fn": "sleep", "after": ["big"],
       "executor": "pool:b"}]})");
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ElementsAre("big"));
  ReportHeld(kWorker, sent[0], kWorker);
  AddPoolHolder(kOther, 2, "b");
  std::vector<v1::Assignment> later = Dispatch(kOther);
  ASSERT_THAT(Ids(later), ElementsAre("later"));
  scheduler_.RemoveWorker(kWorker);
  auto sends = Turn();
  EXPECT_THAT(sends[kOther].cancels(), IsEmpty());
  EXPECT_EQ(Status(job, "later").state(), v1::TASK_ASSIGNED);
  // big is made again beside it.
  ASSERT_THAT(sends[kOther].assignments(), SizeIs(1));
  const v1::Assignment again = sends[kOther].assignments(0);
  EXPECT_EQ(again.task().task_index(), 0u);
  Report(kOther, later[0], true);
  EXPECT_EQ(Status(job, "later").state(), v1::TASK_SUCCEEDED);
  ReportHeld(kOther, again, kOther);
  Dispatch(kOther);
  const std::optional<v1::JobStatus> done = scheduler_.JobStatusOf(job);
  EXPECT_TRUE(!done.has_value() || done->state() == v1::JOB_SUCCEEDED);
}

TEST_F(SchedulerDataTest, LostInputsOfARecomputedTaskAreMadeAgainToo) {
  AddHolder(kWorker, 1);
  const uint64_t job = Submit(R"({"tasks": [
      {"id": "a", "fn": "const"},
      {"id": "b", "fn": "add", "inputs": ["a"]},
      {"id": "c", "fn": "add", "inputs": ["b"], "executor": "pool:later"}]})");
  for (const std::string want : {"a", "b"}) {
    std::vector<v1::Assignment> sent = Dispatch(kWorker);
    ASSERT_THAT(Ids(sent), ElementsAre(want));
    ReportHeld(kWorker, sent[0], kWorker);
  }
  // a was freed once b consumed it; b is held, waiting for c.
  EXPECT_THAT(Status(job, "a").result().location(), HasSubstr("gone"));
  AddHolder(kOther, 1);
  scheduler_.RemoveWorker(kWorker);
  // b runs again, and first a, whose result was freed.
  EXPECT_EQ(Status(job, "a").state(), v1::TASK_READY);
  EXPECT_EQ(Status(job, "b").state(), v1::TASK_PENDING);
  std::vector<v1::Assignment> sent = Dispatch(kOther);
  ASSERT_THAT(Ids(sent), ElementsAre("a"));
  ReportHeld(kOther, sent[0], kOther);
  sent = Dispatch(kOther);
  ASSERT_THAT(Ids(sent), ElementsAre("b"));
}

TEST_F(SchedulerDataTest, ATaskLostMoreThanTheBoundFailsItsJobSayingSo) {
  const uint64_t job = Submit(R"({"tasks": [
      {"id": "p", "fn": "const"},
      {"id": "q", "fn": "add", "inputs": ["p"], "executor": "pool:none"}]})");
  for (WorkerId holder = 10; holder < 13; ++holder) {
    AddHolder(holder, 1);
    std::vector<v1::Assignment> sent = Dispatch(holder);
    ASSERT_THAT(Ids(sent), ElementsAre("p")) << holder;
    ReportHeld(holder, sent[0], holder);
    scheduler_.RemoveWorker(holder);
  }
  // Made again twice (--max_recomputes=2); the third loss fails the job.
  const v1::TaskStatus p = Status(job, "p");
  EXPECT_EQ(p.state(), v1::TASK_FAILED);
  EXPECT_THAT(p.error(), HasSubstr("lost 3 times"));
  EXPECT_THAT(p.error(), HasSubstr("--max_recomputes=2"));
  EXPECT_EQ(Status(job, "q").state(), v1::TASK_UPSTREAM_FAILED);
}

TEST_F(SchedulerDataTest, AReconnectingHolderKeepsWhatItHoldsAndFreesTheRest) {
  const uint64_t job = HeldAndUnconsumed();
  const std::string key = ResultObjectKey(JobIdFromSeq(job), 0, 1);
  // A second stream of the same process (the first one still closing).
  AddHolder(kOther, 1);  // another process
  const WorkerSpec again = AnotherStreamOfTheHolder(
      5, {key, ResultObjectKey(JobIdFromSeq(job), 1, 4)});
  scheduler_.RemoveWorker(kWorker);
  EXPECT_EQ(Status(job, "p").state(), v1::TASK_READY) << "lost at once";
  scheduler_.AddWorker(5, again);
  auto sends = Turn();
  // q's attempt 4 is nothing dagd knows: freed. p's old result is no
  // longer referenced (p runs again): freed too.
  EXPECT_THAT(sends[5].release(),
              testing::UnorderedElementsAre(
                  key, ResultObjectKey(JobIdFromSeq(job), 1, 4)));
}

// A newer stream of a process whose older one dagd still has (half open)
// says again what the process holds, and hears again what to free: what
// dagd sent the older stream may never have arrived.
TEST_F(SchedulerDataTest, ANewerStreamOfAHolderIsToldAgainWhatToFree) {
  const uint64_t job = HeldAndUnconsumed();
  const std::string key = ResultObjectKey(JobIdFromSeq(job), 0, 1);
  const std::string stale = ResultObjectKey(JobIdFromSeq(job), 1, 3);
  // kWorker's stream not yet ended.
  scheduler_.AddWorker(5, AnotherStreamOfTheHolder(5, {key, stale}));
  auto sends = Turn();
  EXPECT_THAT(sends[5].release(), ElementsAre(stale));
  EXPECT_EQ(Status(job, "p").state(), v1::TASK_SUCCEEDED);
}

// A holder is its name and instance (under --worker_ca the name is its
// certificate's): a worker that registers naming another's instance is not
// taken for another stream of that process.
class SchedulerImpostorTest : public SchedulerDataTest {
 protected:
  // kOther, under its own name, claiming kWorker's instance and `held`;
  // it runs nothing.
  void AddImpostor(std::vector<std::string> held) {
    WorkerSpec spec = Worker(kOther, 1, {});
    spec.instance = Instance(kWorker);
    spec.data_address = Address(kOther);
    spec.held = std::move(held);
    scheduler_.AddWorker(kOther, std::move(spec));
  }
};

TEST_F(SchedulerImpostorTest, ItCannotHoldOffTheLossOfTheResultsOfTheOther) {
  const uint64_t job = HeldAndUnconsumed();
  const std::string key = ResultObjectKey(JobIdFromSeq(job), 0, 1);
  AddImpostor({key});
  auto sends = Turn();
  // What it claims to hold is nothing dagd refers to under its name.
  EXPECT_THAT(sends[kOther].release(), ElementsAre(key));
  scheduler_.RemoveWorker(kWorker);  // kill -9 of the holder
  EXPECT_EQ(Status(job, "p").state(), v1::TASK_READY)
      << "lost with its holder, though another worker names its instance";
}

TEST_F(SchedulerImpostorTest, ItIsNotSentTheReleasesOfTheOther) {
  const uint64_t job = HeldWithConsumerNext(/*slots=*/1);
  AddImpostor({});
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ElementsAre("q"));
  EXPECT_EQ(sent[0].input_refs().at(0).holder().address(), Address(kWorker));
  Report(kWorker, sent[0], true);
  auto sends = Turn();
  EXPECT_THAT(sends[kWorker].release(),
              ElementsAre(ResultObjectKey(JobIdFromSeq(job), 0, 1)));
  EXPECT_THAT(sends[kOther].release(), IsEmpty());
}

// After a restart of dagd, a worker registers listing what it holds and
// the results it kept (not yet acknowledged); a held output of those is
// not released before its result is read, and consumers get it.
TEST_F(SchedulerDataTest, AHeldOutputOfAKeptResultIsNotReleasedOnRegister) {
  AddHolder(kOther, 1);
  const uint64_t job = Submit(R"({"tasks": [
      {"id": "p", "fn": "const"},
      {"id": "q", "fn": "add", "inputs": ["p"]}]})");
  std::vector<v1::Assignment> sent = Dispatch(kOther);
  ASSERT_THAT(sent, SizeIs(1));
  const std::string key = ResultObjectKey(JobIdFromSeq(job), 0, 1);
  scheduler_.RemoveWorker(kOther);
  // The same process again (same name), with p's result (attempt 1) it
  // kept.
  WorkerSpec again = Worker(kWorker, 1);
  again.name = Worker(kOther, 1).name;
  again.instance = Instance(kOther);
  again.data_address = Address(kOther);
  again.held = {key};
  again.reporting = {key};
  scheduler_.AddWorker(kWorker, again);
  ReportHeld(kWorker, sent[0], /*holder=*/kOther);
  auto sends = Turn();
  EXPECT_THAT(sends[kWorker].release(), IsEmpty());
  EXPECT_EQ(Status(job, "p").state(), v1::TASK_SUCCEEDED);
  ASSERT_THAT(sends[kWorker].assignments(), SizeIs(1));
  EXPECT_EQ(sends[kWorker].assignments(0).input_refs().at(0).key(), key);
}

TEST_F(SchedulerDataTest, ATaskGoesWhereMostOfItsInputBytesAre) {
  AddPoolHolders(/*slots=*/2);
  const uint64_t job = Submit(R"({"tasks": [
      {"id": "x", "fn": "const", "executor": "pool:a"},
      {"id": "y", "fn": "const", "executor": "pool:b"},
      {"id": "z", "fn": "add", "inputs": ["x", "y"]}]})");
  auto sends = Turn();
  ASSERT_EQ(sends[kWorker].assignments_size(), 1);
  ASSERT_EQ(sends[kOther].assignments_size(), 1);
  const v1::Assignment x = sends[kWorker].assignments(0);
  const v1::Assignment y = sends[kOther].assignments(0);
  ASSERT_EQ(x.task_id(), "x");
  ASSERT_EQ(y.task_id(), "y");
  // One input each: y's 3 MiB weigh more than x's 1 MiB.
  ReportHeld(kWorker, x, kWorker, 1 << 20);
  ReportHeld(kOther, y, kOther, 3 << 20);
  std::vector<v1::Assignment> sent = Dispatch(kOther);
  ASSERT_THAT(Ids(sent), ElementsAre("z"));
  const v1::TaskStatus z = Status(job, "z");
  ASSERT_THAT(z.attempts(), SizeIs(1));
  EXPECT_EQ(z.attempts(0).placement(),
            "placed on worker-2: holds 3 MiB of the 4 MiB of its inputs");
}

// The worker holding a task's 100 MB input is busy: the task waits for it
// as long as moving 100 MB would take (0.2 s at the rate assumed before
// any fetch was measured), then goes to the other worker.
TEST_F(SchedulerDataTest, ATaskWaitsForItsBusyHolderThenMovesOn) {
  AddPoolHolders(/*slots=*/1);
  const uint64_t job = Submit(R"({"tasks": [
      {"id": "p", "fn": "const", "executor": "pool:a"},
      {"id": "hog", "fn": "sleep", "executor": "pool:a", "inputs": ["p"]},
      {"id": "q", "fn": "add", "inputs": ["p"]}]})");
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ElementsAre("p"));
  ReportHeld(kWorker, sent[0], kWorker, /*size=*/100'000'000);
  // hog (first in line) takes the holder's slot; q waits for it.
  auto sends = Turn();
  ASSERT_EQ(sends[kWorker].assignments_size(), 1);
  EXPECT_EQ(sends[kWorker].assignments(0).task_id(), "hog");
  EXPECT_EQ(sends[kOther].assignments_size(), 0);
  EXPECT_EQ(Status(job, "q").state(), v1::TASK_READY);
  const std::optional<absl::Time> wake = scheduler_.NextWakeup();
  ASSERT_TRUE(wake.has_value());
  EXPECT_LE(*wake - clock_.Now(), absl::Milliseconds(200));
  clock_.Advance(absl::Milliseconds(150));
  EXPECT_EQ(Turn()[kOther].assignments_size(), 0) << "still worth waiting";
  clock_.Advance(absl::Milliseconds(60));
  sent = Dispatch(kOther);
  ASSERT_THAT(Ids(sent), ElementsAre("q"));
}

// A worker's transfer time that is no amount is not counted: an infinite
// one made the rate placement reads zero (no task waited for its busy
// holder, whatever it held), and NaN once that worker's next figures came.
TEST_F(SchedulerDataTest, TransferTimesThatAreNoAmountsAreNotCounted) {
  AddPoolHolders(/*slots=*/1);
  const uint64_t job = Submit(R"({"tasks": [
      {"id": "p", "fn": "const", "executor": "pool:a"},
      {"id": "hog", "fn": "sleep", "executor": "pool:a", "inputs": ["p"]},
      {"id": "q", "fn": "add", "inputs": ["p"]}]})");
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ElementsAre("p"));
  ReportHeld(kWorker, sent[0], kWorker, /*size=*/100'000'000);
  v1::Heartbeat bogus;
  bogus.set_fetched_bytes(1'000'000);
  bogus.set_transfer_seconds(HUGE_VAL);
  scheduler_.OnHeartbeat(kOther, bogus);
  // As with no figures at all (ATaskWaitsForItsBusyHolderThenMovesOn): q
  // waits for hog's slot no longer than fetching its input would take.
  auto sends = Turn();
  ASSERT_EQ(sends[kWorker].assignments_size(), 1);
  EXPECT_EQ(sends[kOther].assignments_size(), 0) << "q did not wait";
  EXPECT_EQ(Status(job, "q").state(), v1::TASK_READY);
  clock_.Advance(absl::Milliseconds(210));
  sent = Dispatch(kOther);
  ASSERT_THAT(Ids(sent), ElementsAre("q"));
}

TEST(BatchSplitTest, KeepsEachPieceUnderTheBoundAndTheOrder) {
  v1::CoordinatorBatch batch;
  batch.add_cancels()->set_task_index(99);
  for (int i = 0; i < 10; ++i) {
    v1::Assignment* a = batch.add_assignments();
    a->mutable_task()->set_task_index(i);
    a->add_inputs()->set_data(std::string(1000, 'x'));
  }
  batch.add_release("results/j1/0/1");
  batch.set_acked_up_to(42);
  std::vector<v1::CoordinatorBatch> pieces = SplitBatch(batch, 2500);
  ASSERT_GT(pieces.size(), 3u);
  EXPECT_THAT(pieces.front().cancels(), SizeIs(1));
  uint32_t next = 0;
  for (size_t i = 0; i < pieces.size(); ++i) {
    EXPECT_LE(pieces[i].ByteSizeLong(), 2500u) << i;
    for (const v1::Assignment& a : pieces[i].assignments()) {
      EXPECT_EQ(a.task().task_index(), next++);
    }
    if (i + 1 < pieces.size()) {
      EXPECT_EQ(pieces[i].acked_up_to(), 0u);
      EXPECT_THAT(pieces[i].release(), IsEmpty());
    }
  }
  EXPECT_EQ(next, 10u);
  EXPECT_EQ(pieces.back().acked_up_to(), 42u);
  EXPECT_THAT(pieces.back().release(), ElementsAre("results/j1/0/1"));
  // Within the bound: as it is.
  EXPECT_THAT(SplitBatch(batch, 1 << 20), SizeIs(1));
}

TEST(BatchSplitTest, AChainOfGrantsIsNeverCut) {
  v1::CoordinatorBatch batch;
  for (int i = 0; i < 10; ++i) {
    v1::Assignment* a = batch.add_assignments();
    a->mutable_task()->set_task_index(i);
    a->add_inputs()->set_data(std::string(1000, 'x'));
    // 0 <- 1 <- 2 and 5 <- 6 <- 7 <- 8: chains; 3, 4 and 9 alone.
    if (i == 1 || i == 2 || (i >= 6 && i <= 8)) {
      a->mutable_after()->set_task_index(i - 1);
    }
  }
  std::vector<v1::CoordinatorBatch> pieces = SplitBatch(batch, 2500);
  ASSERT_GT(pieces.size(), 2u);
  uint32_t next = 0;
  for (const v1::CoordinatorBatch& piece : pieces) {
    ASSERT_GT(piece.assignments_size(), 0);
    // Every piece starts with an assignment that follows nothing.
    EXPECT_FALSE(piece.assignments(0).has_after()) << piece.DebugString();
    for (const v1::Assignment& a : piece.assignments()) {
      EXPECT_EQ(a.task().task_index(), next++);
    }
  }
  EXPECT_EQ(next, 10u);
}

TEST_F(SchedulerDataTest, AWorkerCannotReportItsOutputAsStoredByDagd) {
  AddHolder(kWorker, 1);
  const uint64_t job = Submit(R"({"tasks": [{"id": "a", "fn": "const"}]})");
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(sent, SizeIs(1));
  v1::TaskResult result;
  *result.mutable_task() = sent[0].task();
  result.set_ok(true);
  v1::ObjectRef* ref = result.mutable_output_ref();
  ref->set_key(ResultObjectKey(JobIdFromSeq(job), 0, 1));
  ref->set_size(10);
  ref->set_stored(true);
  scheduler_.OnTaskResult(kWorker, std::move(result));
  const v1::TaskStatus status = Status(job, "a");
  EXPECT_NE(status.state(), v1::TASK_SUCCEEDED);
  ASSERT_THAT(status.attempts(), SizeIs(1));
  EXPECT_THAT(status.attempts(0).error(), HasSubstr("stored by dagd"));
}

// Grants ahead with results held by workers: of the successors a worker
// could run next, the one whose other inputs it holds most bytes of.
class SchedulerBecomeTest : public SchedulerDataTest {
 protected:
  static SchedulerOptions BecomeOptions() {
    SchedulerOptions options = DataOptions();
    options.grant_depth = 64;
    return options;
  }
  SchedulerBecomeTest() : SchedulerDataTest(BecomeOptions()) {}
};

TEST_F(SchedulerBecomeTest, AGrantGoesToTheSuccessorWhoseInputsTheWorkerHolds) {
  AddHolder(kWorker, 2);
  // "add" runs short here: grants may follow it.
  Submit(R"({"tasks": [{"id": "warm", "fn": "add"}]})");
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(sent, SizeIs(1));
  v1::TaskResult warm;
  *warm.mutable_task() = sent[0].task();
  warm.set_ok(true);
  warm.mutable_output()->set_data("1");
  warm.set_started_unix_ms(absl::ToUnixMillis(clock_.Now()));
  warm.set_finished_unix_ms(absl::ToUnixMillis(clock_.Now()));
  scheduler_.OnTaskResult(kWorker, std::move(warm));
  const uint64_t job = Submit(R"({"tasks": [
      {"id": "x", "fn": "const"},
      {"id": "y", "fn": "const"},
      {"id": "h", "fn": "add", "inputs": ["x", "y"]},
      {"id": "s1", "fn": "add", "inputs": ["h", "x"]},
      {"id": "s2", "fn": "add", "inputs": ["h", "y"]}]})");
  sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ElementsAre("x", "y"));
  ReportHeld(kWorker, sent[0], kWorker, /*size=*/100);
  ReportHeld(kWorker, sent[1], kWorker, /*size=*/5000);
  sent = Dispatch(kWorker);
  // h, and granted after it the successor whose other input (y, 5000
  // bytes here) the worker holds, not s1 (x, 100 bytes) first in line.
  ASSERT_THAT(Ids(sent), ElementsAre("h", "s2"));
  EXPECT_EQ(sent[1].after().task_index(), 2u);
  EXPECT_EQ(Status(job, "s1").state(), v1::TASK_PENDING);
}

}  // namespace
}  // namespace dagd
