// Lambda placement: tasks with executor "lambda" go to the dispatcher's
// worker only; tasks for any worker go there only as a burst, when no
// worker had room for --lambda_burst_after.

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "server/scheduler.h"
#include "tests/testutil/fake_clock.h"

namespace dagd {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr WorkerId kLambdaWorker = 1;
constexpr WorkerId kLambda = 2;

class SchedulerLambdaTest : public ::testing::Test {
 protected:
  explicit SchedulerLambdaTest(
      absl::Duration burst_after = absl::InfiniteDuration())
      : scheduler_(Options(burst_after), &clock_, [] { return 0.5; }) {
    WorkerSpec worker;
    worker.name = "w";
    worker.slots = 1;
    worker.functions = {"const", "sleep"};
    scheduler_.AddWorker(kLambdaWorker, worker);
    WorkerSpec lambda;
    lambda.name = "lambda";
    lambda.slots = 10;
    lambda.pool = std::string(kLambdaPool);
    lambda.lambda = true;
    lambda.any_function = true;
    scheduler_.AddWorker(kLambda, lambda);
  }

  static SchedulerOptions Options(absl::Duration burst_after) {
    SchedulerOptions options;
    options.lambda_function = "dagd-fn";
    options.lambda_allowed_functions = {"thumbs:live"};
    options.lambda_burst_after = burst_after;
    return options;
  }

  // `recovered`: compiled as a restart compiles a stored job, which was
  // checked when accepted (any Lambda function name passes). `tenant`: the
  // job's owner.
  void Submit(const std::string& json, bool recovered = false,
              const std::string& tenant = "") {
    v1::JobSpec spec;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &spec).ok());
    JobLimits limits;
    limits.lambda = true;
    limits.lambda_functions = {"thumbs:live"};
    limits.any_lambda_function = recovered;
    absl::StatusOr<CompiledJob> job = CompileJob(std::move(spec), limits);
    ASSERT_TRUE(job.ok()) << job.status();
    v1::JobStatus status;
    status.set_job_id(JobIdFromSeq(next_seq_));
    status.set_state(v1::JOB_PENDING);
    status.set_tenant(tenant);
    scheduler_.AddJob(next_seq_++, *std::move(job), status);
  }

  // Task ids sent to each worker in one turn.
  std::pair<std::vector<std::string>, std::vector<v1::Assignment>> Turn() {
    scheduler_.Tick();
    scheduler_.Schedule();
    TurnOutput out = scheduler_.TakeOutput();
    std::vector<std::string> to_worker;
    for (const auto& a : out.sends[kLambdaWorker].assignments()) {
      to_worker.push_back(a.task_id());
    }
    std::vector<v1::Assignment> to_lambda(
        out.sends[kLambda].assignments().begin(),
        out.sends[kLambda].assignments().end());
    return {to_worker, to_lambda};
  }

  FakeClock clock_;
  Scheduler scheduler_;
  uint64_t next_seq_ = 1;
};

TEST_F(SchedulerLambdaTest, LambdaTasksGoToLambdaWithTheirFunction) {
  Submit(R"({"tasks": [{"id": "a", "fn": "resize", "executor": "lambda"},
                       {"id": "b", "fn": "resize",
                        "executor": "lambda:thumbs:live"},
                       {"id": "c", "fn": "const"}]})");
  auto [to_worker, to_lambda] = Turn();
  EXPECT_THAT(to_worker, ElementsAre("c"));
  ASSERT_EQ(to_lambda.size(), 2u);
  EXPECT_EQ(to_lambda[0].lambda_function(), "dagd-fn");
  EXPECT_EQ(to_lambda[1].lambda_function(), "thumbs:live");
}

// A job accepted naming a Lambda function that a restart took off
// --lambda_allowed_functions: dagd does not invoke a function it may no
// longer, and the task says why it waits.
TEST_F(SchedulerLambdaTest, TasksNamingAFunctionNoLongerAllowedWait) {
  Submit(R"({"tasks": [{"id": "gone", "fn": "resize",
                        "executor": "lambda:retired"},
                       {"id": "kept", "fn": "resize",
                        "executor": "lambda:thumbs:live"}]})",
         /*recovered=*/true);
  auto [to_worker, to_lambda] = Turn();
  EXPECT_THAT(to_worker, IsEmpty());
  ASSERT_EQ(to_lambda.size(), 1u);
  EXPECT_EQ(to_lambda[0].task_id(), "kept");
  absl::StatusOr<v1::TaskStatus> gone = scheduler_.TaskStatusOf(1, "gone");
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_EQ(gone->state(), v1::TASK_READY);
  EXPECT_THAT(gone->waiting_reason(),
              ::testing::HasSubstr(
                  "Lambda function 'retired' is not one this dagd may invoke"));
}

// The clock jumps past --worker_timeout (a VM resumed): the workers with
// streams are lost (they connect again), dagd's own Lambda is not (it
// would never come back).
TEST_F(SchedulerLambdaTest, LambdaIsNotLostWhenItsHeartbeatsAreLate) {
  clock_.Advance(absl::Minutes(5));
  scheduler_.Tick();
  TurnOutput out = scheduler_.TakeOutput();
  EXPECT_THAT(out.timed_out_workers, ElementsAre(kLambdaWorker));
  EXPECT_TRUE(scheduler_.HasWorker(kLambda));
  // Nor is a wakeup due for it: dagd would run turns back to back.
  const std::optional<absl::Time> wakeup = scheduler_.NextWakeup();
  EXPECT_TRUE(!wakeup.has_value() || *wakeup > clock_.Now());
  Submit(R"({"tasks": [{"id": "a", "fn": "resize", "executor": "lambda"}]})");
  auto [to_worker, to_lambda] = Turn();
  ASSERT_EQ(to_lambda.size(), 1u);
  EXPECT_EQ(to_lambda[0].task_id(), "a");
}

TEST_F(SchedulerLambdaTest, WithoutBurstOtherTasksNeverGoToLambda) {
  Submit(
      R"({"tasks": [{"id": "a", "fn": "sleep"}, {"id": "b", "fn": "sleep"}]})");
  EXPECT_THAT(Turn().first, ElementsAre("a"));
  clock_.Advance(absl::Hours(1));
  scheduler_.OnHeartbeat(kLambdaWorker);
  scheduler_.OnHeartbeat(kLambda);
  auto [to_worker, to_lambda] = Turn();
  EXPECT_THAT(to_worker, IsEmpty());
  EXPECT_THAT(to_lambda, IsEmpty());  // b waits for the worker
}

class SchedulerBurstTest : public SchedulerLambdaTest {
 protected:
  SchedulerBurstTest() : SchedulerLambdaTest(absl::Seconds(2)) {}
};

TEST_F(SchedulerBurstTest, TaskBurstsToLambdaAfterWaitingForAWorker) {
  Submit(R"({"tasks": [{"id": "a", "fn": "sleep"}, {"id": "b", "fn": "sleep"},
                       {"id": "pooled", "fn": "sleep", "executor": "pool:gpu"}]})");
  auto [to_worker, to_lambda] = Turn();
  EXPECT_THAT(to_worker, ElementsAre("a"));  // a worker first
  EXPECT_THAT(to_lambda, IsEmpty());         // b has not waited yet
  ASSERT_EQ(scheduler_.NextWakeup(), clock_.Now() + absl::Seconds(2));
  clock_.Advance(absl::Seconds(2));
  auto [later_worker, later_lambda] = Turn();
  ASSERT_EQ(later_lambda.size(), 1u);
  EXPECT_EQ(later_lambda[0].task_id(), "b");
  EXPECT_EQ(later_lambda[0].lambda_function(), "dagd-fn");
  // A task for a pool never bursts.
  clock_.Advance(absl::Minutes(1));
  scheduler_.OnHeartbeat(kLambdaWorker);
  scheduler_.OnHeartbeat(kLambda);
  EXPECT_THAT(Turn().second, IsEmpty());
}

// A tenant whose policy keeps it off --lambda_function (lambda=none) has
// no bursts: its tasks wait for a worker while another tenant's burst.
TEST_F(SchedulerBurstTest, ATenantKeptOffLambdaDoesNotBurst) {
  TenantShare kept_off;
  kept_off.lambda_burst = false;
  scheduler_.SetTenantShares({{"beta", kept_off}}, TenantShare());
  Submit(
      R"({"tasks": [{"id": "a", "fn": "sleep"}, {"id": "b", "fn": "sleep"}]})",
      /*recovered=*/false, "beta");
  EXPECT_THAT(Turn().first, ElementsAre("a"));
  Submit(R"({"tasks": [{"id": "c", "fn": "sleep"}]})", /*recovered=*/false,
         "alpha");
  clock_.Advance(absl::Minutes(1));
  scheduler_.OnHeartbeat(kLambdaWorker);
  scheduler_.OnHeartbeat(kLambda);
  auto [to_worker, to_lambda] = Turn();
  EXPECT_THAT(to_worker, IsEmpty());
  ASSERT_EQ(to_lambda.size(), 1u);
  EXPECT_EQ(to_lambda[0].task_id(), "c");
  absl::StatusOr<v1::TaskStatus> b = scheduler_.TaskStatusOf(1, "b");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->state(), v1::TASK_READY);
}

// Bursts take the peaks of work the workers do. A task no worker could
// ever run (no worker offers its function, or it needs more slots than any
// has) waits and says why, instead of failing on Lambda.
TEST_F(SchedulerBurstTest, TaskNoWorkerCouldRunNeverBursts) {
  Submit(R"({"tasks": [{"id": "unknown", "fn": "nosuchfn"},
                       {"id": "wide", "fn": "sleep",
                        "resources": {"slots": 2}}]})");
  clock_.Advance(absl::Minutes(1));
  scheduler_.OnHeartbeat(kLambdaWorker);
  scheduler_.OnHeartbeat(kLambda);
  auto [to_worker, to_lambda] = Turn();
  EXPECT_THAT(to_worker, IsEmpty());
  EXPECT_THAT(to_lambda, IsEmpty());
  absl::StatusOr<v1::TaskStatus> unknown =
      scheduler_.TaskStatusOf(1, "unknown");
  ASSERT_TRUE(unknown.ok()) << unknown.status();
  EXPECT_EQ(unknown->waiting_reason(), "no worker offers 'nosuchfn'");
  absl::StatusOr<v1::TaskStatus> wide = scheduler_.TaskStatusOf(1, "wide");
  ASSERT_TRUE(wide.ok()) << wide.status();
  EXPECT_THAT(wide->waiting_reason(), ::testing::HasSubstr("can ever run it"));
  // dagctl status says so too.
  std::optional<v1::JobStatus> job = scheduler_.JobStatusOf(1);
  ASSERT_TRUE(job.has_value());
  ASSERT_EQ(job->waiting_size(), 2) << job->DebugString();
  EXPECT_EQ(job->waiting(0).text(), "no worker offers 'nosuchfn'");
}

}  // namespace
}  // namespace dagd
