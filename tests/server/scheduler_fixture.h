// The fixture of the scheduler-core tests: a Scheduler on a fake clock,
// jobs submitted as JSON, and helpers that run one turn and report results
// the way a worker would.
#ifndef DAGD_TESTS_SERVER_SCHEDULER_FIXTURE_H_
#define DAGD_TESTS_SERVER_SCHEDULER_FIXTURE_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "server/attempt_seal.h"
#include "server/scheduler.h"
#include "tests/testutil/fake_clock.h"

namespace dagd {

constexpr WorkerId kWorker = 1;
constexpr WorkerId kOther = 2;

class SchedulerTest : public ::testing::Test {
 protected:
  explicit SchedulerTest(SchedulerOptions options = {})
      : scheduler_(std::move(options), &clock_, [this] { return random_; }) {}

  uint64_t Submit(const std::string& json, const std::string& tenant = "") {
    const uint64_t seq = next_seq_++;
    v1::JobStatus status = StatusOf(seq, v1::JOB_PENDING);
    status.set_tenant(tenant);
    scheduler_.AddJob(seq, Compile(json), status);
    return seq;
  }
  // Job j`seq` of `json` back as a restarted dagd reads it: running, the
  // tasks of `finished` in their stored states, `results` kept.
  void Restore(
      uint64_t seq, const std::string& json,
      const std::vector<std::pair<uint32_t, v1::TaskStatus>>& finished = {},
      absl::flat_hash_map<uint32_t, StoredResult> results = {}) {
    scheduler_.RestoreJob(seq, Compile(json), StatusOf(seq, v1::JOB_RUNNING),
                          finished, std::move(results));
  }
  static CompiledJob Compile(const std::string& json) {
    v1::JobSpec spec;
    auto parsed = google::protobuf::util::JsonStringToMessage(json, &spec);
    EXPECT_TRUE(parsed.ok()) << parsed;
    absl::StatusOr<CompiledJob> job = CompileJob(std::move(spec), {});
    EXPECT_TRUE(job.ok()) << job.status();
    return job.ok() ? *std::move(job) : CompiledJob();
  }
  static v1::JobStatus StatusOf(uint64_t seq, v1::JobState state) {
    v1::JobStatus status;
    status.set_job_id(JobIdFromSeq(seq));
    status.set_state(state);
    return status;
  }

  // Public: helpers of test files build these outside a fixture.
 public:
  // Attempt `attempt` of task `task` of job `seq` as a dagd with the
  // fixture's attempt key (all zeros) gave it to worker `id` (Worker's
  // name): what a worker reconnecting after a restart reports.
  static v1::TaskRef SealedRef(uint64_t seq, uint32_t task, uint32_t attempt,
                               WorkerId id) {
    v1::TaskRef ref;
    ref.set_job_id(JobIdFromSeq(seq));
    ref.set_task_index(task);
    ref.set_attempt(attempt);
    ref.set_seal(AttemptSeal(SipKey{}, seq, task, attempt, Worker(id, 1).name));
    return ref;
  }

  static WorkerSpec Worker(WorkerId id, uint32_t slots,
                           std::vector<std::string> fns = {"const", "add",
                                                           "sleep", "fail"}) {
    WorkerSpec spec;
    spec.name = absl::StrCat("worker-", id);
    spec.slots = slots;
    spec.functions = std::move(fns);
    spec.accepts_grants = true;
    return spec;
  }

 protected:
  void AddWorker(WorkerId id, uint32_t slots,
                 std::vector<std::string> fns = {"const", "add", "sleep",
                                                 "fail"}) {
    scheduler_.AddWorker(id, Worker(id, slots, std::move(fns)));
  }

  // TakeOutput of a turn whose writes were synced: the releases that wait
  // for that (TurnOutput::release_when_synced) are in its sends too, as
  // the coordinator sends them after such a commit.
  TurnOutput TakeSyncedOutput() {
    TurnOutput out = scheduler_.TakeOutput();
    if (!out.release_when_synced.empty()) {
      scheduler_.ReleaseObjects(out.release_when_synced);
      for (auto& [id, batch] : scheduler_.TakeOutput().sends) {
        for (const std::string& key : batch.release()) {
          out.sends[id].add_release(key);
        }
      }
    }
    return out;
  }

  // Schedules and returns what was sent to `worker`.
  std::vector<v1::Assignment> Dispatch(WorkerId worker) {
    scheduler_.Tick();
    scheduler_.Schedule();
    TurnOutput out = scheduler_.TakeOutput();
    last_writes_ = std::move(out.writes);
    last_sync_ = out.sync;
    last_events_ = std::move(out.events);
    last_cancels_.clear();
    std::vector<v1::Assignment> sent;
    for (auto& [id, batch] : out.sends) {
      if (id != worker) {
        other_sends_ += batch.assignments_size();
        continue;
      }
      for (auto& a : *batch.mutable_assignments()) sent.push_back(a);
      for (auto& c : batch.cancels()) last_cancels_.push_back(c);
    }
    return sent;
  }

  void Report(WorkerId worker, const v1::Assignment& a, bool ok,
              std::string data = "1", bool permanent = false) {
    v1::TaskResult result;
    *result.mutable_task() = a.task();
    result.set_ok(ok);
    if (ok) {
      result.mutable_output()->set_data(std::move(data));
      result.mutable_output()->set_content_type("application/json");
    } else {
      result.set_error(std::move(data));
      result.set_permanent(permanent);
    }
    result.set_finished_unix_ms(absl::ToUnixMillis(clock_.Now()));
    scheduler_.OnTaskResult(worker, std::move(result));
  }

  static std::vector<std::string> Ids(const std::vector<v1::Assignment>& as) {
    std::vector<std::string> ids;
    for (const auto& a : as) ids.push_back(a.task_id());
    return ids;
  }

  // Runs every task to success, each taking one time unit, on one worker
  // with `slots` slots; returns the makespan in units.
  int UnitTimeMakespan(uint64_t seq, uint32_t slots) {
    AddWorker(kWorker, slots);
    int time = 0;
    while (scheduler_.JobStatusOf(seq)) {
      std::vector<v1::Assignment> running = Dispatch(kWorker);
      if (running.empty()) break;
      clock_.Advance(absl::Seconds(1));
      ++time;
      for (const auto& a : running) Report(kWorker, a, true);
    }
    Dispatch(kWorker);
    return time;
  }

  FakeClock clock_;
  double random_ = 0.0;
  Scheduler scheduler_;
  uint64_t next_seq_ = 1;
  WriteSet last_writes_;
  bool last_sync_ = false;
  std::vector<std::pair<uint64_t, v1::JobEvent>> last_events_;
  std::vector<v1::TaskRef> last_cancels_;
  int other_sends_ = 0;
};

}  // namespace dagd

#endif  // DAGD_TESTS_SERVER_SCHEDULER_FIXTURE_H_
