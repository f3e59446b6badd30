// A 1,000,000-task chain is accepted and cancelled without a stack
// overflow: validation, compilation and cancellation must not recurse. A
// big job's task records, written as its request is read, are the job's
// after a kill -9, and a refused one's are removed.
#include <csignal>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/integration/integration_env.h"
#include "tests/testutil/raw_rocksdb.h"

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

// A job of more than 10,000 tasks has its task records written while dagd
// reads its request, under a job number taken then. One refused when read
// whole (an input naming no task, found at the end) took a number, and its
// records go; a resubmission of a stored request takes none and writes
// nothing. Killed and restarted, dagd has the first job whole.
TEST(BigJobTest, RecordsWrittenAsABigJobIsReadAreItsAfterAKill) {
  constexpr int kTasks = 30'000;
  std::unique_ptr<DagdProcess> dagd = StartDagd({});
  ASSERT_NE(dagd, nullptr);
  const v1::JobSpec job = Chain(kTasks);
  {
    std::unique_ptr<Client> client = Client::Connect(dagd->address());
    absl::StatusOr<std::string> first = client->Submit(job, "big-1");
    ASSERT_TRUE(first.ok()) << first.status() << "\n" << dagd->Log();
    EXPECT_EQ(*first, "j1");
    v1::SubmitJobRequest again;
    *again.mutable_job() = job;
    again.set_request_id("big-1");
    absl::StatusOr<v1::SubmitJobResponse> second = client->SubmitJob(again);
    ASSERT_TRUE(second.ok()) << second.status();
    EXPECT_TRUE(second->existing());
    EXPECT_EQ(second->job_id(), "j1");
    v1::JobSpec broken = job;
    broken.mutable_tasks(kTasks - 1)->add_inputs("nowhere");
    absl::StatusOr<std::string> refused = client->Submit(broken);
    EXPECT_TRUE(absl::IsInvalidArgument(refused.status())) << refused.status();
    // j2 went to the refused job, none to the resubmission.
    absl::StatusOr<std::string> small = client->Submit(Chain(2));
    ASSERT_TRUE(small.ok()) << small.status();
    EXPECT_EQ(*small, "j3");
  }
  dagd->Signal(SIGKILL);
  ASSERT_EQ(dagd->WaitForExit(), absl::OkStatus());
  {
    absl::StatusOr<std::unique_ptr<RawRocksDb>> raw =
        RawRocksDb::Open(dagd->data_dir());
    ASSERT_TRUE(raw.ok()) << raw.status();
    // Specs, ids, status, header, the unfinished mark; no "writing/" mark.
    EXPECT_EQ((*raw)->KeysOfJob(1).size(), 2u * kTasks + 3);
    EXPECT_THAT((*raw)->KeysOfJob(2), ::testing::IsEmpty());
    EXPECT_EQ((*raw)->KeysOfJob(3).size(), 2u * 2 + 3);
  }
  std::unique_ptr<DagdProcess> restarted = StartDagd({}, dagd->data_dir());
  ASSERT_NE(restarted, nullptr);
  Client& client = restarted->client();
  absl::StatusOr<v1::JobStatus> status = client.Get("j1");
  ASSERT_TRUE(status.ok()) << status.status() << "\n" << restarted->Log();
  EXPECT_EQ(status->total_tasks(), static_cast<uint32_t>(kTasks));
  EXPECT_EQ(status->state(), v1::JOB_PENDING);
  absl::StatusOr<v1::TaskStatus> last =
      client.Task("j1", absl::StrCat("t", kTasks - 1));
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(last->state(), v1::TASK_PENDING);
  EXPECT_TRUE(absl::IsNotFound(client.Get("j2").status()));
  EXPECT_EQ(restarted->Stop(), absl::OkStatus());
}

}  // namespace
}  // namespace dagd::testing
