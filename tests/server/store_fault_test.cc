// A failed store write is never acknowledged: the Coordinator on a real
// RocksMetaStore wrapped by a store that fails Commit on demand.
#include "google/protobuf/util/message_differencer.h"
#include "tests/server/store_fault_fixture.h"

namespace dagd {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;

constexpr char kJob[] = R"({"tasks": [
  {"id": "a", "fn": "const", "args": {"value": 1}},
  {"id": "b", "fn": "add", "inputs": ["a"], "args": {"value": 1}}]})";

TEST_F(StoreFaultTest, SubmissionWhoseCommitFailsIsNotAcknowledged) {
  // The loop's first turn writes that the roster is whole: let it, so that
  // every commit from here on is the submission's.
  Answer<v1::ListWorkersResponse> settled;
  coordinator_->ListWorkers(settled.Callback());
  ASSERT_TRUE(settled.Get().ok());
  const int before = faulty_->commits();
  faulty_->FailCommits();
  absl::StatusOr<v1::SubmitJobResponse> submitted = Submit(Request(kJob));
  ASSERT_FALSE(submitted.ok()) << "acknowledged as " << submitted->job_id();
  EXPECT_EQ(submitted.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(submitted.status().message(),
              HasSubstr("a store write failed: injected"));

  // The fatal handler ran once, so the process stops.
  ASSERT_TRUE(fatal_.WaitForNotificationWithTimeout(kWait));
  EXPECT_EQ(fatal_status_.code(), absl::StatusCode::kUnavailable);

  // Not half-stored: no record of the job at all.
  EXPECT_TRUE(absl::IsNotFound(rocks_->GetJobStatus(1).status()));
  EXPECT_TRUE(absl::IsNotFound(rocks_->FindTaskIndex(1, "a").status()));
  EXPECT_TRUE(absl::IsNotFound(rocks_->GetTaskSpec(1, 0).status()));
  absl::StatusOr<std::vector<v1::JobStatus>> jobs =
      rocks_->ListJobStatuses(UINT64_MAX, 10);
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  EXPECT_TRUE(jobs->empty());
  absl::StatusOr<std::vector<StoredJob>> unfinished =
      rocks_->LoadUnfinishedJobs();
  ASSERT_TRUE(unfinished.ok()) << unfinished.status();
  EXPECT_TRUE(unfinished->empty());

  // The job lives in the scheduler's memory, but nothing serves it.
  ExpectEveryQueryUnavailable("j1");
  absl::StatusOr<v1::SubmitJobResponse> again = Submit(Request(kJob));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kUnavailable);
  // Nothing more is written once a write failed, not even the last sync.
  coordinator_->Stop();
  EXPECT_EQ(faulty_->commits(), before + 1);
  EXPECT_EQ(fatal_calls_, 1);
}

TEST_F(StoreFaultTest, WaitingSubmissionWhoseCommitFailsGetsUnavailable) {
  faulty_->FailCommits();
  absl::StatusOr<v1::SubmitJobResponse> submitted =
      Submit(Request(kJob, /*wait=*/true));
  EXPECT_EQ(submitted.status().code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE(fatal_.WaitForNotificationWithTimeout(kWait));
  EXPECT_TRUE(absl::IsNotFound(rocks_->GetJobStatus(1).status()));
}

// A job deleted by the retention sweep (DeleteStoredJob) frees what its
// workers hold of it, as DeleteJob does: an output too large for dagd's
// store stayed on its worker for as long as the worker ran.
TEST_F(StoreFaultTest, ARetentionDeletionReleasesWhatWorkersHold) {
  auto sink = std::make_shared<RecordingDispatcher>();
  const WorkerId worker = ConnectHolder(sink, "127.0.0.1:7001");
  absl::StatusOr<v1::SubmitJobResponse> submitted =
      Submit(Request(R"({"tasks": [{"id": "a", "fn": "const"}]})"));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  absl::StatusOr<v1::Assignment> a = sink->WaitForAssignment(0);
  ASSERT_TRUE(a.ok()) << a.status();
  const v1::ObjectRef held = ReportHeld(worker, *a, "127.0.0.1:7001", 1 << 20);
  const absl::Time deadline = absl::Now() + kWait;
  for (;;) {
    Answer<v1::JobStatus> job;
    coordinator_->GetJob(submitted->job_id(), job.Callback());
    absl::StatusOr<v1::JobStatus> status = job.Get();
    ASSERT_TRUE(status.ok()) << status.status();
    if (status->state() == v1::JOB_SUCCEEDED) break;
    ASSERT_LT(absl::Now(), deadline) << status->DebugString();
    absl::SleepFor(absl::Milliseconds(5));
  }
  absl::Notification deleted;
  absl::Status deletion;
  coordinator_->DeleteStoredJob(1, [&](absl::Status s) {
    deletion = s;
    deleted.Notify();
  });
  ASSERT_TRUE(deleted.WaitForNotificationWithTimeout(kWait));
  ASSERT_EQ(deletion, absl::OkStatus());
  EXPECT_TRUE(sink->WaitForRelease(held.key()));
}

// A request_id is stored twice and answered by GetJob: one too long, or
// with bytes that forge log lines, is refused, naming the field, and
// nothing is stored.
TEST_F(StoreFaultTest, ABadRequestIdIsRefusedAndNothingStored) {
  const char kOne[] = R"({"tasks": [{"id": "a", "fn": "const"}]})";
  absl::StatusOr<v1::SubmitJobResponse> long_id = Submit(
      Request(kOne, /*wait=*/false, std::string(kMaxRequestIdBytes + 1, 'x')));
  ASSERT_FALSE(long_id.ok());
  EXPECT_EQ(long_id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(long_id.status().message(),
              HasSubstr("request_id: is 1025 bytes, over the limit of 1024"));
  absl::StatusOr<v1::SubmitJobResponse> forged =
      Submit(Request(kOne, /*wait=*/false, "retry-1\n2026 dagd: forged"));
  ASSERT_FALSE(forged.ok());
  EXPECT_EQ(forged.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(forged.status().message(),
              HasSubstr("request_id 'retry-1\\n2026 dagd: forged' holds "
                        "control characters"));
  EXPECT_TRUE(absl::IsNotFound(rocks_->GetJobStatus(1).status()));
  absl::StatusOr<v1::SubmitJobResponse> fine = Submit(
      Request(kOne, /*wait=*/false, std::string(kMaxRequestIdBytes, 'x')));
  ASSERT_TRUE(fine.ok()) << fine.status();
}

// A SubmitJob with `wait` whose caller gave up (SubmitWaiter::Cancel, from
// the call's OnCancel) is answered CANCELLED and stops waiting, whether it
// made the job or resubmitted it; the job runs on. Before, each such call
// stayed a watcher of the job until the job ended.
TEST_F(StoreFaultTest, AWaitingSubmissionWhoseCallerGaveUpStopsWaiting) {
  // No worker offers "never": the job does not end.
  const char kLong[] = R"({"tasks": [{"id": "a", "fn": "never"}]})";
  auto submit = [&](std::shared_ptr<SubmitWaiter> waiter,
                    Answer<v1::SubmitJobResponse>& answer) {
    v1::SubmitJobRequest request = Request(kLong, /*wait=*/true, "r-1");
    absl::StatusOr<CompiledJob> job =
        CompileJob(std::move(*request.mutable_job()), JobLimits());
    ASSERT_TRUE(job.ok()) << job.status();
    coordinator_->Submit(std::move(request), *std::move(job), "",
                         answer.Callback(), nullptr, std::move(waiter));
  };
  auto made = std::make_shared<SubmitWaiter>();
  Answer<v1::SubmitJobResponse> first;
  submit(made, first);
  absl::StatusOr<v1::JobStatus> pending;
  const absl::Time deadline = absl::Now() + kWait;
  do {  // until the job is accepted and its submission waits
    Answer<v1::JobStatus> job;
    coordinator_->GetJob("j1", job.Callback());
    pending = job.Get();
    ASSERT_LT(absl::Now(), deadline);
  } while (!pending.ok());
  EXPECT_FALSE(first.answered());
  made->Cancel();
  EXPECT_EQ(first.Get().status().code(), absl::StatusCode::kCancelled);

  auto again = std::make_shared<SubmitWaiter>();
  Answer<v1::SubmitJobResponse> second;
  submit(again, second);
  Answer<v1::ListWorkersResponse> turn;  // a turn after the resubmission's
  coordinator_->ListWorkers(turn.Callback());
  ASSERT_TRUE(turn.Get().ok());
  EXPECT_FALSE(second.answered());
  again->Cancel();
  EXPECT_EQ(second.Get().status().code(), absl::StatusCode::kCancelled);

  auto gave_up = std::make_shared<SubmitWaiter>();
  gave_up->Cancel();  // before its turn came
  Answer<v1::SubmitJobResponse> third;
  submit(gave_up, third);
  EXPECT_EQ(third.Get().status().code(), absl::StatusCode::kCancelled);

  Answer<v1::JobStatus> job;
  coordinator_->GetJob("j1", job.Callback());
  absl::StatusOr<v1::JobStatus> status = job.Get();
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->state(), v1::JOB_PENDING) << "the job runs on";
}

TEST_F(StoreFaultTest, FailedResultWriteLeavesTheStoredJobAsItWas) {
  auto sink = std::make_shared<RecordingDispatcher>();
  const WorkerId worker = ConnectWorker(sink);
  absl::StatusOr<v1::SubmitJobResponse> submitted = Submit(Request(kJob));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  ASSERT_EQ(submitted->job_id(), "j1");
  absl::StatusOr<v1::Assignment> a = sink->WaitForAssignment(0);
  ASSERT_TRUE(a.ok()) << a.status();
  // The assignment went out after its turn's commit: this is what is stored.
  absl::StatusOr<v1::JobStatus> before = rocks_->GetJobStatus(1);
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_FALSE(IsFinal(before->state()));

  faulty_->FailCommits();
  v1::WorkerMessage report;
  v1::TaskResult* result = report.mutable_batch()->add_results();
  *result->mutable_task() = a->task();
  result->set_ok(true);
  result->mutable_output()->set_data("1");
  result->mutable_output()->set_content_type("application/json");
  coordinator_->WorkerMessage(worker, report);
  ASSERT_TRUE(fatal_.WaitForNotificationWithTimeout(kWait));

  // The store holds what was written before, and nothing of the result.
  absl::StatusOr<v1::JobStatus> after = rocks_->GetJobStatus(1);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*before, *after))
      << before->DebugString() << " vs " << after->DebugString();
  EXPECT_TRUE(absl::IsNotFound(rocks_->GetTaskStatus(1, 0).status()));
  EXPECT_TRUE(absl::IsNotFound(rocks_->GetResult(1, 0).status()));

  // dagd does not serve the unwritten success, nor act on it.
  ExpectEveryQueryUnavailable("j1");
  coordinator_->Stop();
  EXPECT_FALSE(sink->Assigned(1)) << "b was dispatched on an unstored result";

  // A restart finds the job unfinished, with a to run again.
  absl::StatusOr<std::vector<StoredJob>> unfinished =
      rocks_->LoadUnfinishedJobs();
  ASSERT_TRUE(unfinished.ok()) << unfinished.status();
  ASSERT_EQ(unfinished->size(), 1u);
  EXPECT_TRUE((*unfinished)[0].task_statuses.empty());
}

// A worker process back on a new stream while dagd still has its old one
// (a half-open connection): the old stream is dropped at once, the attempt
// the process runs goes on on the new one, and what follows goes there
// too, not to the old stream until it missed its heartbeats.
TEST_F(StoreFaultTest, AProcessBackOnANewStreamEndsItsOldOne) {
  auto old_stream = std::make_shared<RecordingDispatcher>();
  ConnectWorker(old_stream, "process-1");
  absl::StatusOr<v1::SubmitJobResponse> submitted = Submit(Request(kJob));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  absl::StatusOr<v1::Assignment> a = old_stream->WaitForAssignment(0);
  ASSERT_TRUE(a.ok()) << a.status();

  auto new_stream = std::make_shared<RecordingDispatcher>();
  v1::Register hello;
  hello.set_name("process-1");
  hello.set_instance("process-1");
  hello.set_kept_complete(true);
  hello.set_slots(1);
  hello.add_functions("const");
  hello.add_functions("add");
  *hello.add_running() = a->task();
  const WorkerId back = coordinator_->NewWorkerId();
  coordinator_->WorkerConnected(back, new_stream, hello, "test");
  ASSERT_TRUE(new_stream->WaitForRegistered());
  absl::Status closed = old_stream->WaitForClose();
  EXPECT_EQ(closed.code(), absl::StatusCode::kFailedPrecondition) << closed;
  EXPECT_THAT(closed.message(), HasSubstr("newer stream"));

  v1::WorkerMessage report;
  v1::TaskResult* result = report.mutable_batch()->add_results();
  *result->mutable_task() = a->task();
  result->set_ok(true);
  result->mutable_output()->set_data("1");
  result->mutable_output()->set_content_type("application/json");
  coordinator_->WorkerMessage(back, report);
  absl::StatusOr<v1::Assignment> b = new_stream->WaitForAssignment(1);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->inputs(0).data(), "1");
  EXPECT_FALSE(old_stream->Assigned(1));
  EXPECT_FALSE(new_stream->Assigned(0)) << "a ran again";
}

// A resubmission answered with the job an earlier request created is an
// acknowledgement too: it is fsynced first, even when the earlier request
// (one that waits for the job's end) was not.
TEST_F(StoreFaultTest, DuplicateRequestIsAnsweredOnlyAfterASync) {
  constexpr char kUnrunnable[] = R"({"tasks": [{"id": "a", "fn": "nosuch"}]})";
  Answer<v1::SubmitJobResponse> waiting;
  coordinator_->Submit(Request(kUnrunnable, /*wait=*/true, "req-1"), "",
                       waiting.Callback());
  // The job is written (without a sync: its answer waits for its end).
  ASSERT_TRUE(testing::PollUntil([&] { return rocks_->GetJobStatus(1).ok(); },
                                 kWait, "the waiting submission to be written")
                  .ok());
  const int synced = faulty_->synced_commits();

  absl::StatusOr<v1::SubmitJobResponse> again =
      Submit(Request(kUnrunnable, /*wait=*/false, "req-1"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->job_id(), "j1");
  EXPECT_TRUE(again->existing());
  EXPECT_GT(faulty_->synced_commits(), synced);
  EXPECT_FALSE(waiting.answered());
  coordinator_->CloseStreams();
  EXPECT_EQ(waiting.Get().status().code(), absl::StatusCode::kUnavailable);
}

// A failed attempt's retry is delayed by a backoff with jitter, drawn from
// the random source the coordinator was given (not one of its own).
TEST_F(StoreFaultTest, RetryJitterComesFromTheInjectedRandomSource) {
  auto worker = std::make_shared<RecordingDispatcher>();
  const WorkerId id = ConnectWorker(worker);
  ASSERT_TRUE(Submit(Request(R"({"tasks": [{"id": "a", "fn": "const",
      "args": {"value": 1}, "retry": {"maxAttempts": 2}}]})"))
                  .ok());
  absl::StatusOr<v1::Assignment> assigned = worker->WaitForAssignment(0);
  ASSERT_TRUE(assigned.ok()) << assigned.status();
  v1::WorkerMessage failed;
  v1::TaskResult* result = failed.mutable_batch()->add_results();
  *result->mutable_task() = assigned->task();
  result->set_error("injected: first attempt fails");
  coordinator_->WorkerMessage(id, std::move(failed));
  EXPECT_TRUE(first_draw_.WaitForNotificationWithTimeout(kWait));
}

// With results kept in S3, a worker that cannot read them (one built before
// Register.reads_object_refs) would run tasks on empty inputs: it is
// refused, saying why, and a current worker is taken.
class ObjectStoreWorkersTest : public StoreFaultTest {
 protected:
  CoordinatorOptions Options() override {
    CoordinatorOptions options;
    options.scheduler.object_store.set_bucket("results");
    options.scheduler.object_store.set_inline_max_bytes(65536);
    return options;
  }
};

TEST_F(ObjectStoreWorkersTest, WorkerThatCannotReadObjectRefsIsRefused) {
  auto old_worker = std::make_shared<RecordingDispatcher>();
  v1::Register hello;
  hello.set_name("old");
  hello.set_slots(1);
  hello.add_functions("const");
  coordinator_->WorkerConnected(coordinator_->NewWorkerId(), old_worker, hello,
                                "test");
  absl::Status closed = old_worker->WaitForClose();
  EXPECT_EQ(closed.code(), absl::StatusCode::kFailedPrecondition) << closed;
  EXPECT_THAT(closed.message(), HasSubstr("upgrade dagd-worker"));

  auto worker = std::make_shared<RecordingDispatcher>();
  hello.set_reads_object_refs(true);
  coordinator_->WorkerConnected(coordinator_->NewWorkerId(), worker, hello,
                                "test");
  EXPECT_TRUE(worker->WaitForRegistered());
}

}  // namespace
}  // namespace dagd
