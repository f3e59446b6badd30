// A fleet reconnecting at once: 200 simulated workers (dagd-fleet) whose
// dagd is killed with SIGKILL in the middle of a job come back to the dagd
// restarted on the same port and data, with the results they kept and the
// attempts they were running, and the job ends without any task run twice.
// README "Measured" has the same at 1,000 workers.
#include <signal.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/client.h"
#include "client/job_file.h"
#include "tests/integration/integration_env.h"

namespace dagd {
namespace {

using testing::PollUntil;

constexpr int kWorkers = 200;
constexpr int kTasks = 4000;

// The last totals line dagd-fleet printed: "attempts N".
uint64_t FleetAttempts(const std::string& log) {
  const size_t at = log.rfind("attempts ");
  uint64_t attempts = 0;
  if (at == std::string::npos) return 0;
  std::vector<std::string> rest =
      absl::StrSplit(log.substr(at + 9), absl::MaxSplits(',', 1));
  return absl::SimpleAtoi(rest[0], &attempts) ? attempts : 0;
}

uint32_t Succeeded(const v1::JobStatus& status) {
  for (const auto& count : status.counts()) {
    if (count.state() == v1::TASK_SUCCEEDED) return count.count();
  }
  return 0;
}

TEST(FleetTest, AFleetReconnectingAfterAKillIsTakenBackWithoutReruns) {
  absl::StatusOr<std::unique_ptr<testing::TempDir>> dir =
      testing::TempDir::Create();
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string data_dir = (*dir)->path() + "/db";
  const std::string listen =
      absl::StrCat("--listen=127.0.0.1:", testing::FreePort());
  std::unique_ptr<testing::DagdProcess> first =
      testing::StartDagd({listen, "--local_workers=0"}, data_dir);
  ASSERT_NE(first, nullptr);

  testing::SubprocessOptions fleet_options;
  fleet_options.argv = {DAGD_FLEET_BIN, "--coordinator=" + first->address(),
                        absl::StrCat("--workers=", kWorkers), "--slots=2",
                        "--task_duration=20ms"};
  fleet_options.output_prefix = (*dir)->path() + "/fleet";
  absl::StatusOr<std::unique_ptr<testing::Subprocess>> fleet =
      testing::Subprocess::Start(fleet_options);
  ASSERT_TRUE(fleet.ok()) << fleet.status();
  ASSERT_EQ(first->WaitForWorkers(kWorkers, absl::Seconds(60)),
            absl::OkStatus());

  // 4,000 tasks of 20 ms on 400 slots: about 0.2 s of work, longer with
  // the round trips; killed a quarter of the way in.
  v1::JobSpec spec;
  for (int i = 0; i < kTasks; ++i) {
    v1::TaskSpec* task = spec.add_tasks();
    task->set_id(absl::StrCat("t", i));
    task->set_fn("const");
    (*task->mutable_args()->mutable_struct_value()->mutable_fields())["value"]
        .set_number_value(i);
  }
  absl::StatusOr<std::string> submitted = first->client().Submit(spec);
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  const std::string job_id = *submitted;
  uint32_t succeeded = 0;
  ASSERT_EQ(PollUntil(
                [&] {
                  absl::StatusOr<v1::JobStatus> status =
                      first->client().Get(job_id);
                  if (status.ok()) succeeded = Succeeded(*status);
                  return succeeded >= static_cast<uint32_t>(kTasks) / 4;
                },
                absl::Seconds(60), "a quarter of the tasks to succeed"),
            absl::OkStatus());
  first->Signal(SIGKILL);
  // Else nothing was left to take back.
  ASSERT_LT(succeeded, static_cast<uint32_t>(kTasks))
      << "the job ended before the kill";
  first.reset();

  const absl::Time restarted = absl::Now();
  std::unique_ptr<testing::DagdProcess> second =
      testing::StartDagd({listen, "--local_workers=0"}, data_dir);
  ASSERT_NE(second, nullptr);
  ASSERT_EQ(second->WaitForWorkers(kWorkers, absl::Seconds(60)),
            absl::OkStatus())
      << (*fleet)->Stderr();
  const absl::Duration back = absl::Now() - restarted;
  ASSERT_EQ(testing::WaitForJobState(second->client(), job_id,
                                     v1::JOB_SUCCEEDED, absl::Seconds(120)),
            absl::OkStatus());
  std::cout << "all " << kWorkers << " workers registered "
            << absl::FormatDuration(back) << " after the restart began"
            << std::endl;
  // Every task ran once: the fleet received one attempt per task.
  absl::SleepFor(absl::Milliseconds(1500));  // its next totals line
  EXPECT_EQ(FleetAttempts((*fleet)->Stderr()), static_cast<uint64_t>(kTasks))
      << (*fleet)->Stderr().substr(
             std::max<size_t>((*fleet)->Stderr().size(), 2000) - 2000);
  absl::StatusOr<v1::TaskStatus> last = second->client().Task(job_id, "t3999");
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(last->attempts_size(), 1);
}

}  // namespace
}  // namespace dagd
