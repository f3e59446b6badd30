// Scheduler-core tests of tenants (JobStatus.tenant): weighted fair share
// among tenants above fair share among jobs, a tenant's running-slots cap,
// and what its unfinished jobs hold, for quotas. On a fake clock.
#include <map>
#include <string>
#include <vector>

#include "google/protobuf/util/time_util.h"
#include "tests/server/scheduler_fixture.h"

namespace dagd {
namespace {

using ::testing::SizeIs;

// A job of `n` one-second tasks.
std::string Job(int n, const std::string& prefix, int priority = 0) {
  std::string tasks;
  for (int i = 0; i < n; ++i) {
    absl::StrAppend(&tasks, i == 0 ? "" : ",", R"({"id": ")", prefix, i,
                    R"(", "fn": "sleep"})");
  }
  return absl::StrCat(R"({"priority": )", priority, R"(, "tasks": [)", tasks,
                      "]}");
}

class SchedulerTenantsTest : public SchedulerTest {
 protected:
  void AddPlainWorker(uint32_t slots) {
    WorkerSpec spec = Worker(kWorker, slots);
    spec.accepts_grants = false;  // every assignment holds its slot
    scheduler_.AddWorker(kWorker, std::move(spec));
  }

  // Runs `rounds` seconds: each second the worker takes what it is given,
  // and every task it holds ends. Returns the seconds of work each job ran,
  // from what the scheduler recorded as each attempt's start and end.
  static absl::Time Time(const google::protobuf::Timestamp& t) {
    return absl::FromUnixNanos(
        google::protobuf::util::TimeUtil::TimestampToNanoseconds(t));
  }

  std::map<uint64_t, double> Run(int rounds) {
    std::map<uint64_t, double> seconds;
    for (int round = 0; round < rounds; ++round) {
      std::vector<v1::Assignment> running = Dispatch(kWorker);
      for (const auto& a : running) {
        v1::TaskStarted started;
        *started.mutable_task() = a.task();
        started.set_started_unix_ms(absl::ToUnixMillis(clock_.Now()));
        scheduler_.OnTaskStarted(kWorker, started);
      }
      clock_.Advance(absl::Seconds(1));
      for (const auto& a : running) {
        Report(kWorker, a, true);
        const uint64_t seq = *SeqFromJobId(a.task().job_id());
        absl::StatusOr<v1::TaskStatus> task =
            scheduler_.TaskStatusOf(seq, a.task_id());
        if (!task.ok() || task->attempts().empty()) {
          ADD_FAILURE() << a.task_id() << " has no attempt recorded";
          continue;
        }
        const v1::Attempt& attempt = *task->attempts().rbegin();
        seconds[seq] += absl::ToDoubleSeconds(Time(attempt.finished_at()) -
                                              Time(attempt.started_at()));
      }
    }
    return seconds;
  }
};

TEST_F(SchedulerTenantsTest, TenantsShareWorkersByWeightOverRecordedTime) {
  scheduler_.SetTenantShares(
      {{"light", TenantShare{1, 0}}, {"heavy", TenantShare{3, 0}}},
      TenantShare{});
  // The light tenant's job has the higher priority: priority orders jobs
  // within a tenant, never one tenant's jobs over another's.
  const uint64_t light = Submit(Job(500, "l", 9), "light");
  const uint64_t heavy = Submit(Job(500, "h"), "heavy");
  AddPlainWorker(8);
  std::map<uint64_t, double> seconds = Run(20);
  EXPECT_DOUBLE_EQ(seconds[light] + seconds[heavy], 160);
  EXPECT_DOUBLE_EQ(seconds[heavy], 3 * seconds[light]);
}

// A task waiting for an exclusive group another tenant's task holds is
// told so without that job's id or task's: to this tenant it does not
// exist.
TEST_F(SchedulerTenantsTest, AGroupHeldByAnotherTenantNamesNoJob) {
  Submit(R"({"tasks": [{"id": "secret-step", "fn": "sleep",
                        "exclusiveGroup": "db"}]})",
         "alice");
  const uint64_t mine = Submit(R"({"tasks": [{"id": "m", "fn": "sleep",
                                              "exclusiveGroup": "db"}]})",
                               "bob");
  const uint64_t also_alice = Submit(R"({"tasks": [{"id": "a2", "fn": "sleep",
                                                    "exclusiveGroup": "db"}]})",
                                     "alice");
  AddPlainWorker(8);
  ASSERT_EQ(Dispatch(kWorker).size(), 1u);
  absl::StatusOr<v1::TaskStatus> waiting = scheduler_.TaskStatusOf(mine, "m");
  ASSERT_TRUE(waiting.ok()) << waiting.status();
  EXPECT_EQ(waiting->waiting_reason(),
            "exclusive group 'db' is held by a task of another tenant");
  // Its own tenant's job is named as before.
  absl::StatusOr<v1::TaskStatus> own =
      scheduler_.TaskStatusOf(also_alice, "a2");
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_EQ(own->waiting_reason(),
            "exclusive group 'db' is held by task 'secret-step' of job j1");
}

TEST_F(SchedulerTenantsTest, EqualWeightsShareEvenlyWhateverTheJobCount) {
  // Tenant b splits its share over three jobs; a has one.
  const uint64_t a = Submit(Job(500, "a"), "a");
  const uint64_t b1 = Submit(Job(500, "x"), "b");
  const uint64_t b2 = Submit(Job(500, "y"), "b");
  const uint64_t b3 = Submit(Job(500, "z"), "b");
  AddPlainWorker(6);
  std::map<uint64_t, double> seconds = Run(10);
  EXPECT_DOUBLE_EQ(seconds[a], 30);
  EXPECT_DOUBLE_EQ(seconds[b1] + seconds[b2] + seconds[b3], 30);
  EXPECT_DOUBLE_EQ(seconds[b1], 10);
}

TEST_F(SchedulerTenantsTest, ATenantAtItsSlotCapWaitsWhileOthersRun) {
  scheduler_.SetTenantShares({{"capped", TenantShare{1, 2}}}, TenantShare{});
  const uint64_t capped = Submit(Job(10, "c"), "capped");
  AddPlainWorker(8);
  std::vector<v1::Assignment> first = Dispatch(kWorker);
  ASSERT_THAT(first, SizeIs(2));  // 6 slots stay free: the cap holds
  const uint64_t other = Submit(Job(10, "o"), "other");
  std::vector<v1::Assignment> second = Dispatch(kWorker);
  ASSERT_THAT(second, SizeIs(6));
  for (const auto& a : second) {
    EXPECT_EQ(a.task().job_id(), JobIdFromSeq(other));
  }
  Report(kWorker, first[0], true);
  std::vector<v1::Assignment> third = Dispatch(kWorker);
  ASSERT_THAT(third, SizeIs(1));
  EXPECT_EQ(third[0].task().job_id(), JobIdFromSeq(capped));
  // The cap raised: the tenant takes what is free at once.
  Report(kWorker, second[0], true);
  Report(kWorker, second[1], true);
  scheduler_.SetTenantShares({{"capped", TenantShare{1, 0}}}, TenantShare{});
  EXPECT_THAT(Dispatch(kWorker), SizeIs(2));
}

TEST_F(SchedulerTenantsTest, LoadCountsUnfinishedJobsOfEachTenant) {
  EXPECT_EQ(scheduler_.LoadOf("a").jobs, 0u);
  const uint64_t one = Submit(Job(1, "x"), "a");
  Submit(Job(3, "y"), "a");
  Submit(Job(5, "z"), "b");
  TenantLoad a = scheduler_.LoadOf("a");
  EXPECT_EQ(a.jobs, 2u);
  EXPECT_EQ(a.tasks, 4u);
  EXPECT_GT(a.spec_bytes, 0u);
  EXPECT_EQ(scheduler_.LoadOf("b").tasks, 5u);
  AddPlainWorker(1);
  std::vector<v1::Assignment> sent = Dispatch(kWorker);
  ASSERT_THAT(sent, SizeIs(1));
  ASSERT_EQ(sent[0].task().job_id(), JobIdFromSeq(one));
  Report(kWorker, sent[0], true);
  Dispatch(kWorker);
  a = scheduler_.LoadOf("a");
  EXPECT_EQ(a.jobs, 1u);
  EXPECT_EQ(a.tasks, 3u);
}

}  // namespace
}  // namespace dagd
