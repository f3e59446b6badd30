// Grants ahead on real processes: a chain of short tasks runs on one worker
// without a round trip per task, and a failure inside a granted chain is
// retried without losing or repeating work.
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/integration/integration_env.h"

namespace dagd::testing {
namespace {

// c0 = 1; c<i> = c<i-1> + one, for i in 1..n-1, where one = 1: c<n-1> is n.
// `link` gives c<k> its fn, args and more instead of "add".
std::string CountingChain(int n, int k = -1, const std::string& link = "") {
  std::string tasks = R"({"id": "one", "fn": "const", "args": {"value": 1}},
                         {"id": "c0", "fn": "const", "args": {"value": 1}})";
  for (int i = 1; i < n; ++i) {
    absl::StrAppend(&tasks, R"(, {"id": "c)", i, R"(", "inputs": ["c)", i - 1,
                    R"(", "one"])", i == k ? link : R"(, "fn": "add")", "}");
  }
  return absl::StrCat(R"({"tasks": [)", tasks, "]}");
}

// Fields that make a task fail its first attempt, then give 100 (`flaky`
// returns args.value) on its retry.
constexpr char kFailsOnceThen100[] =
    R"(, "fn": "flaky", "args": {"failures": 1, "value": 100},
       "retry": {"max_attempts": 2, "initial_backoff": "0.05s"})";

// Every task of the listing succeeded exactly once: none was lost, none
// ran twice to success.
void ExpectEachSucceededOnce(const v1::ListTasksResponse& tasks) {
  for (const v1::TaskStatus& task : tasks.tasks()) {
    int ok_attempts = 0;
    for (const v1::Attempt& a : task.attempts()) {
      if (a.error().empty() && a.has_finished_at()) ++ok_attempts;
    }
    EXPECT_EQ(ok_attempts, 1) << task.DebugString();
  }
}

class GrantsTest : public SharedDagdTest<GrantsTest> {
 public:
  static std::vector<std::string> Flags() {
    return {"--local_workers=1", "--local_worker_slots=4"};
  }
  static size_t Workers() { return 1; }

 protected:
  void SetUp() override {
    SharedDagdTest::SetUp();
    // dagd grants only functions it has seen run short.
    absl::StatusOr<std::string> warm =
        SubmitJob(dagd_->client(), CountingChain(3));
    ASSERT_TRUE(warm.ok()) << warm.status();
    ASSERT_EQ(WaitForJobState(dagd_->client(), *warm, v1::JOB_SUCCEEDED),
              absl::OkStatus());
  }
};

TEST_F(GrantsTest, ChainRunsOnGrantsAndGetsTheRightResult) {
  Client& client = dagd_->client();
  absl::StatusOr<std::string> job = SubmitJob(client, CountingChain(200));
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_EQ(WaitForJobState(client, *job, v1::JOB_SUCCEEDED), absl::OkStatus());
  absl::StatusOr<v1::GetResultResponse> last = client.Result(*job, "c199");
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(last->data(), "200");
  // A granted task is assigned in the same turn as the one before it, a
  // few microseconds apart; without grants each waits for the result of
  // the one before, a round trip to the worker later.
  absl::StatusOr<v1::ListTasksResponse> tasks = client.ListTasks(*job);
  ASSERT_TRUE(tasks.ok()) << tasks.status();
  std::map<std::string, absl::Time> assigned;
  for (const v1::TaskStatus& task : tasks->tasks()) {
    ASSERT_EQ(task.attempts_size(), 1) << task.DebugString();
    assigned[task.task_id()] =
        FromProtoTimestamp(task.attempts(0).assigned_at());
  }
  int granted = 0;
  for (int i = 1; i < 200; ++i) {
    const absl::Duration gap =
        assigned[absl::StrCat("c", i)] - assigned[absl::StrCat("c", i - 1)];
    if (gap < absl::Microseconds(30)) ++granted;
  }
  EXPECT_GE(granted, 150) << "of 199 links";
}

TEST_F(GrantsTest, DagctlTasksSaysWhyEachAttemptWentWhereItDid) {
  Client& client = dagd_->client();
  absl::StatusOr<std::string> job = SubmitJob(client, CountingChain(20));
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_EQ(WaitForJobState(client, *job, v1::JOB_SUCCEEDED), absl::OkStatus());
  CommandResult tasks = dagd_->RunDagctl({"tasks", *job});
  ASSERT_EQ(tasks.exit_code, 0) << tasks.err;
  // Every attempt line is followed by its placement.
  const std::vector<std::string> lines = absl::StrSplit(tasks.out, '\n');
  int attempts = 0;
  int granted = 0;
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    if (!absl::StartsWith(lines[i], "    attempt ")) continue;
    ++attempts;
    const std::string& why = lines[i + 1];
    EXPECT_TRUE(absl::StartsWith(why, "      placed on ") ||
                absl::StartsWith(why, "      granted ahead on "))
        << lines[i] << "\n"
        << why;
    if (absl::StrContains(why, "granted ahead on")) ++granted;
  }
  EXPECT_EQ(attempts, 21);  // one, c0..c19
  EXPECT_GT(granted, 0);
}

TEST_F(GrantsTest, FailureInAGrantedChainIsRetriedAndTheRestStillRuns) {
  Client& client = dagd_->client();
  // c5 fails its first attempt: the grants after it go back and run after
  // its retry. `flaky` returns args.value, so c5 gives the chain 100.
  absl::StatusOr<std::string> job =
      SubmitJob(client, CountingChain(20, 5, kFailsOnceThen100));
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_EQ(WaitForJobState(client, *job, v1::JOB_SUCCEEDED), absl::OkStatus());
  absl::StatusOr<v1::GetResultResponse> last = client.Result(*job, "c19");
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(last->data(), "114");  // 100 at c5, +1 for each of c6..c19
  absl::StatusOr<v1::TaskStatus> c5 = client.Task(*job, "c5");
  ASSERT_TRUE(c5.ok()) << c5.status();
  EXPECT_EQ(c5->attempts_size(), 2);
  absl::StatusOr<v1::ListTasksResponse> tasks = client.ListTasks(*job);
  ASSERT_TRUE(tasks.ok()) << tasks.status();
  ExpectEachSucceededOnce(*tasks);
}

// n independent tasks w0..w<n-1>, w<i> = i; `link` gives w<k> its fn, args
// and more instead.
std::string WideConsts(int n, int k = -1, const std::string& link = "") {
  std::string tasks;
  for (int i = 0; i < n; ++i) {
    absl::StrAppend(
        &tasks, i == 0 ? "" : ", ", R"({"id": "w)", i, R"(")",
        i == k ? link
               : absl::StrCat(R"(, "fn": "const", "args": {"value": )", i, "}"),
        "}");
  }
  return absl::StrCat(R"({"tasks": [)", tasks, "]}");
}

// Queued grants on real processes: ready tasks beyond the free slots go
// along with each assignment and run there one after the other, each once,
// with its own result, a failing head's followers included.
TEST_F(GrantsTest, ReadyTasksBeyondTheFreeSlotsAreQueuedAndEachRunsOnce) {
  Client& client = dagd_->client();
  // w100 fails its first attempt (and whatever was queued behind it goes
  // back to be placed again): still, each task succeeds exactly once.
  absl::StatusOr<std::string> job =
      SubmitJob(client, WideConsts(400, 100, kFailsOnceThen100));
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_EQ(WaitForJobState(client, *job, v1::JOB_SUCCEEDED), absl::OkStatus());
  absl::StatusOr<v1::ListTasksResponse> tasks = client.ListTasks(*job);
  ASSERT_TRUE(tasks.ok()) << tasks.status();
  ASSERT_EQ(tasks->tasks_size(), 400);
  ExpectEachSucceededOnce(*tasks);
  int granted = 0;
  for (const v1::TaskStatus& task : tasks->tasks()) {
    for (const v1::Attempt& a : task.attempts()) {
      if (absl::StrContains(a.placement(), "granted ahead on")) ++granted;
    }
  }
  // 4 slots and 400 tasks of a few microseconds: most go queued.
  EXPECT_GT(granted, 200);
  for (int i : {0, 99, 100, 101, 399}) {
    absl::StatusOr<v1::GetResultResponse> result =
        client.Result(*job, absl::StrCat("w", i));
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->data(), absl::StrCat(i)) << "w" << i;
  }
}

// b0 makes 100 KB (over the 64 KiB inline limit: held by the worker), each
// h<i> passes it on, and `sum` checks it: a follower granted ahead reads
// its predecessor's output from the worker's holder.
std::string HeldChain(int n) {
  std::string tasks =
      R"({"id": "h0", "fn": "bytes", "args": {"size": 100000, "seed": 5}})";
  for (int i = 1; i < n; ++i) {
    absl::StrAppend(&tasks, R"(, {"id": "h)", i,
                    R"(", "fn": "identity", "inputs": ["h)", i - 1, R"("]})");
  }
  absl::StrAppend(&tasks, R"(, {"id": "sum", "fn": "checksum", "inputs": ["h)",
                  n - 1, R"("]})");
  return absl::StrCat(R"({"tasks": [)", tasks, "]}");
}

TEST_F(GrantsTest, AFollowerGrantedAheadReadsAHeldOutputFromTheHolder) {
  Client& client = dagd_->client();
  absl::StatusOr<std::string> warm = SubmitJob(client, HeldChain(3));
  ASSERT_TRUE(warm.ok()) << warm.status();
  ASSERT_EQ(WaitForJobState(client, *warm, v1::JOB_SUCCEEDED),
            absl::OkStatus());
  absl::StatusOr<std::string> job = SubmitJob(client, HeldChain(20));
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_EQ(WaitForJobState(client, *job, v1::JOB_SUCCEEDED), absl::OkStatus());
  absl::StatusOr<v1::TaskStatus> made = client.Task(*job, "h0");
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_EQ(made->result().size_bytes(), 100000u);
  absl::StatusOr<v1::GetResultResponse> sum = client.Result(*job, "sum");
  ASSERT_TRUE(sum.ok()) << sum.status();
  EXPECT_EQ(sum->data(), absl::StrCat(R"({"bytes":[100000],"crc32c":[)",
                                      made->result().crc32c(), "]}"));
  absl::StatusOr<v1::ListTasksResponse> tasks = client.ListTasks(*job);
  ASSERT_TRUE(tasks.ok()) << tasks.status();
  int granted = 0;
  for (const v1::TaskStatus& task : tasks->tasks()) {
    ASSERT_EQ(task.attempts_size(), 1) << task.DebugString();
    if (absl::StrContains(task.attempts(0).placement(), "granted ahead")) {
      ++granted;
    }
  }
  EXPECT_GT(granted, 0);
}

}  // namespace
}  // namespace dagd::testing
