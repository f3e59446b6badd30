// A 1,000,000-task chain is accepted and cancelled without a stack
// overflow: validation, compilation and cancellation must not recurse.
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/integration/integration_env.h"

namespace dagd::testing {
namespace {

constexpr int kChainLength = 1'000'000;

// t0 <- t1 <- ... <- t999999, each an identity of the previous one. Built
// on the proto directly: JobBuilder adds nothing at this size but time.
v1::JobSpec Chain(int length) {
  v1::JobSpec job;
  job.set_name("chain");
  job.mutable_tasks()->Reserve(length);
  for (int i = 0; i < length; ++i) {
    v1::TaskSpec* task = job.add_tasks();
    task->set_id(absl::StrCat("t", i));
    task->set_fn("identity");
    if (i > 0) task->add_inputs(absl::StrCat("t", i - 1));
  }
  return job;
}

TEST(BigJobTest, MillionTaskChainIsAcceptedAndCancelled) {
  // No workers: the chain must not start running while it is checked.
  std::unique_ptr<DagdProcess> dagd = StartDagd({});
  ASSERT_NE(dagd, nullptr);
  ClientOptions options;
  options.call_timeout = absl::Minutes(2);
  std::unique_ptr<Client> client = Client::Connect(dagd->address(), options);

  const v1::JobSpec job = Chain(kChainLength);
  const absl::Time start = absl::Now();
  absl::StatusOr<std::string> job_id = client->Submit(job);
  const absl::Time submitted = absl::Now();
  ASSERT_TRUE(job_id.ok()) << job_id.status() << "\n" << dagd->Log();

  absl::StatusOr<v1::JobStatus> status = client->Get(*job_id);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->total_tasks(), static_cast<uint32_t>(kChainLength));
  EXPECT_EQ(status->state(), v1::JOB_PENDING);

  const absl::Time cancel_start = absl::Now();
  absl::StatusOr<v1::CancelJobResponse> cancel = client->Cancel(*job_id);
  const absl::Time cancelled = absl::Now();
  ASSERT_TRUE(cancel.ok()) << cancel.status() << "\n" << dagd->Log();
  EXPECT_TRUE(cancel->cancelled());
  ASSERT_EQ(
      WaitForJobState(*client, *job_id, v1::JOB_CANCELLED, absl::Minutes(1)),
      absl::OkStatus());
  absl::StatusOr<v1::TaskStatus> last =
      client->Task(*job_id, absl::StrCat("t", kChainLength - 1));
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(last->state(), v1::TASK_CANCELLED);

  // Timings are reported, not asserted.
  RecordProperty("submit_ms", absl::ToInt64Milliseconds(submitted - start));
  RecordProperty("cancel_ms",
                 absl::ToInt64Milliseconds(cancelled - cancel_start));
  std::cout << "[ timing ] submit of " << kChainLength << " tasks took "
            << absl::FormatDuration(submitted - start) << ", cancel took "
            << absl::FormatDuration(cancelled - cancel_start) << "\n";

  client.reset();  // an open channel would hold dagd's shutdown
  EXPECT_EQ(dagd->Stop(absl::Minutes(1)), absl::OkStatus());
}

}  // namespace
}  // namespace dagd::testing
