// Results lost with the worker holding them run again, with the inputs
// they need that were freed once consumed: a task waits for each input
// once, however its inputs reach it.
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/object_store.h"
#include "tests/server/scheduler_fixture.h"

namespace dagd {
namespace {

using ::testing::ElementsAre;

class SchedulerRecomputeTest : public SchedulerTest {
 protected:
  SchedulerRecomputeTest() : SchedulerTest(Options()) {}

  static SchedulerOptions Options() {
    SchedulerOptions options;
    options.grant_depth = 0;
    options.grant_queued = 0;
    return options;
  }
  static std::string Address(WorkerId id) {
    return absl::StrCat("127.0.0.1:70", id);
  }
  // A worker of pool `pool` that holds the results it makes.
  void AddHolder(WorkerId id, const std::string& pool) {
    WorkerSpec spec = Worker(id, 1);
    spec.instance = absl::StrCat("instance-", id);
    spec.data_address = Address(id);
    spec.pool = pool;
    scheduler_.AddWorker(id, std::move(spec));
  }
  void ReportHeld(WorkerId worker, const v1::Assignment& a) {
    v1::TaskResult result;
    *result.mutable_task() = a.task();
    result.set_ok(true);
    v1::ObjectRef* ref = result.mutable_output_ref();
    ref->set_key(ResultObjectKey(a.task().job_id(), a.task().task_index(),
                                 a.task().attempt()));
    ref->set_size(500);
    ref->set_crc32c(7);
    ref->set_content_type("application/octet-stream");
    ref->mutable_holder()->set_name(Worker(worker, 1).name);
    ref->mutable_holder()->set_instance(absl::StrCat("instance-", worker));
    ref->mutable_holder()->set_address(Address(worker));
    result.set_finished_unix_ms(absl::ToUnixMillis(clock_.Now()));
    scheduler_.OnTaskResult(worker, std::move(result));
  }
  v1::TaskState StateOf(uint64_t job, const std::string& task) {
    absl::StatusOr<v1::TaskStatus> status = scheduler_.TaskStatusOf(job, task);
    EXPECT_TRUE(status.ok()) << status.status();
    return status.ok() ? status->state() : v1::TASK_STATE_UNSPECIFIED;
  }
  // Runs what `worker` is given, `turns` times, its outputs held.
  std::vector<std::string> RunOn(WorkerId worker, int turns) {
    std::vector<std::string> ran;
    for (int i = 0; i < turns; ++i) {
      for (const v1::Assignment& a : Dispatch(worker)) {
        ran.push_back(a.task_id());
        ReportHeld(worker, a);
      }
    }
    return ran;
  }
};

constexpr WorkerId kThird = 3;

// T reads x twice. x's output is freed once T consumed it; T's is lost
// with its worker while U still needs it: x runs again, then T.
TEST_F(SchedulerRecomputeTest, AnInputListedTwiceIsWaitedForOnce) {
  AddHolder(kWorker, "a");
  AddHolder(kOther, "b");
  const uint64_t job = Submit(R"({"tasks": [
      {"id": "x", "fn": "const", "executor": "pool:a"},
      {"id": "T", "fn": "add", "inputs": ["x", "x"], "executor": "pool:b"},
      {"id": "U", "fn": "add", "inputs": ["T"], "executor": "pool:none"}]})");
  ASSERT_THAT(RunOn(kWorker, 1), ElementsAre("x"));
  ASSERT_THAT(RunOn(kOther, 2), ElementsAre("T"));
  scheduler_.RemoveWorker(kOther);
  AddHolder(kThird, "b");
  EXPECT_THAT(RunOn(kWorker, 1), ElementsAre("x"));
  EXPECT_THAT(RunOn(kThird, 1), ElementsAre("T"));
  EXPECT_EQ(StateOf(job, "T"), v1::TASK_SUCCEEDED);
}

// T reads y and x, and y reads x: x is reached twice when T runs again.
TEST_F(SchedulerRecomputeTest, AnInputReachedTwoWaysIsWaitedForOnce) {
  AddHolder(kWorker, "a");
  AddHolder(kOther, "b");
  const uint64_t job = Submit(R"({"tasks": [
      {"id": "x", "fn": "const", "executor": "pool:a"},
      {"id": "y", "fn": "add", "inputs": ["x"], "executor": "pool:a"},
      {"id": "T", "fn": "add", "inputs": ["y", "x"], "executor": "pool:b"},
      {"id": "U", "fn": "add", "inputs": ["T"], "executor": "pool:none"}]})");
  ASSERT_THAT(RunOn(kWorker, 2), ElementsAre("x", "y"));
  ASSERT_THAT(RunOn(kOther, 2), ElementsAre("T"));
  scheduler_.RemoveWorker(kOther);
  AddHolder(kThird, "b");
  EXPECT_THAT(RunOn(kWorker, 2), ElementsAre("x", "y"));
  EXPECT_THAT(RunOn(kThird, 1), ElementsAre("T"));
  EXPECT_EQ(StateOf(job, "T"), v1::TASK_SUCCEEDED);
}

}  // namespace
}  // namespace dagd
