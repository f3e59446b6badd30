// Held inputs a reader could not get from their holder
// (TaskResult.lost_inputs): made again, not counted as a failure of the
// reader, and the copy their holder may still have freed there; a report
// that comes late is not counted either, and changes nothing.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/object_store.h"
#include "tests/server/scheduler_data_fixture.h"

namespace dagd {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

// q's report that its input at `position` could not be read from its
// holder.
v1::TaskResult InputLost(const v1::Assignment& q, uint32_t position = 0) {
  v1::TaskResult failed;
  *failed.mutable_task() = q.task();
  failed.set_ok(false);
  failed.set_error(absl::StrCat("input #", position, ": holder unreachable"));
  failed.add_lost_inputs(position);
  return failed;
}

// A consumer whose worker could not get a held input from its holder
// (TaskResult.lost_inputs): the input runs again, then the consumer, and
// its retry policy is untouched (it has none: one failure would end it).
TEST_F(SchedulerDataTest, AnInputLostWhileFetchingIsMadeAgainNotAFailure) {
  const uint64_t job = HeldWithConsumerNext(/*slots=*/2);
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ElementsAre("q"));
  scheduler_.OnTaskResult(kWorker, InputLost(sent[0]));
  EXPECT_EQ(Status(job, "q").state(), v1::TASK_PENDING);
  sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ElementsAre("p")) << "made again first";
  EXPECT_EQ(sent[0].task().attempt(), 2u);
  Report(kWorker, sent[0], true);
  sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ElementsAre("q"));
  Report(kWorker, sent[0], true);
  const v1::TaskStatus q = Status(job, "q");
  EXPECT_EQ(q.state(), v1::TASK_SUCCEEDED);
  ASSERT_THAT(q.attempts(), SizeIs(2));
  EXPECT_THAT(q.attempts(0).error(), HasSubstr("not counted as a failure"));
}

// A report naming an input position the task does not have is a plain
// failure, not a reason to make anything again.
TEST_F(SchedulerDataTest, ALostInputReportOfNoSuchInputIsAFailure) {
  AddHolder(kWorker, 1);
  const uint64_t job = Submit(R"({"tasks": [{"id": "a", "fn": "const"}]})");
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(sent, SizeIs(1));
  scheduler_.OnTaskResult(kWorker, InputLost(sent[0], 3));
  EXPECT_EQ(Status(job, "a").state(), v1::TASK_FAILED);
}

// The same report coming late, after q's worker was declared lost and
// connected again (its kept results): it was counted as q's failure, which
// ended the job (no retries). It is dropped now: q runs again anyway and
// fetches p afresh, and p, which may have been made again since (the report
// names a position, not a copy), is left as it is.
TEST_F(SchedulerDataTest, ALateLostInputsReportIsNotCountedEither) {
  AddPoolHolders(/*slots=*/1);
  const uint64_t job = Submit(R"({"tasks": [
      {"id": "p", "fn": "const", "executor": "pool:b"},
      {"id": "q", "fn": "add", "inputs": ["p"], "executor": "pool:a"}]})");
  std::vector<v1::Assignment> sent = Dispatch(kOther);
  ASSERT_THAT(Ids(sent), ElementsAre("p"));
  ReportHeld(kOther, sent[0], kOther);
  sent = Dispatch(kWorker);
  ASSERT_THAT(Ids(sent), ElementsAre("q"));
  scheduler_.RemoveWorker(kWorker);
  EXPECT_EQ(Status(job, "q").state(), v1::TASK_READY);
  constexpr WorkerId kBack = 3;
  WorkerSpec back = Worker(kBack, 1);
  back.name = Worker(kWorker, 1).name;
  back.pool = "a";
  scheduler_.AddWorker(kBack, std::move(back));
  scheduler_.OnTaskResult(kBack, InputLost(sent[0]));
  EXPECT_EQ(Status(job, "q").state(), v1::TASK_READY);
  EXPECT_EQ(Status(job, "p").state(), v1::TASK_SUCCEEDED);
  sent = Dispatch(kBack);
  ASSERT_THAT(Ids(sent), ElementsAre("q"));
  Report(kBack, sent[0], true);
  EXPECT_EQ(Status(job, "q").state(), v1::TASK_SUCCEEDED);
}

// The holder was only unreachable from the reader: it still has p's
// result under attempt 1's key, which nothing refers to once p is made
// again. It was never told to free it (memory or spill, until it
// restarted).
TEST_F(SchedulerDataTest, AnInputReportedLostIsFreedAtItsHolder) {
  AddPoolHolders(/*slots=*/1);
  Submit(R"({"tasks": [
      {"id": "p", "fn": "const", "executor": "pool:b"},
      {"id": "q", "fn": "add", "inputs": ["p"], "executor": "pool:a"}]})");
  auto sends = Turn();
  ASSERT_THAT(sends[kOther].assignments(), SizeIs(1));
  const v1::Assignment p1 = sends[kOther].assignments(0);
  ReportHeld(kOther, p1, kOther);
  const std::string first_key =
      ResultObjectKey(p1.task().job_id(), 0, p1.task().attempt());
  sends = Turn();
  ASSERT_THAT(sends[kWorker].assignments(), SizeIs(1));
  scheduler_.OnTaskResult(kWorker, InputLost(sends[kWorker].assignments(0)));
  std::vector<std::string> released;
  for (int turn = 0; turn < 4; ++turn) {  // p again, then q, the job's end
    sends = Turn();
    for (const std::string& key : sends[kOther].release()) {
      released.push_back(key);
    }
    for (const auto& a : sends[kOther].assignments()) {
      EXPECT_EQ(a.task().attempt(), 2u);
      ReportHeld(kOther, a, kOther);
    }
    for (const auto& a : sends[kWorker].assignments()) Report(kWorker, a, true);
  }
  EXPECT_THAT(released, Contains(first_key));
}

}  // namespace
}  // namespace dagd
