// The fixture of the scheduler-core tests of results held by workers:
// workers that hold what they make, and reports of held outputs.
#ifndef DAGD_TESTS_SERVER_SCHEDULER_DATA_FIXTURE_H_
#define DAGD_TESTS_SERVER_SCHEDULER_DATA_FIXTURE_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/object_store.h"
#include "tests/server/scheduler_fixture.h"

namespace dagd {

inline SchedulerOptions DataOptions() {
  SchedulerOptions options;
  options.grant_depth = 0;  // every task placed on its own
  options.max_result_bytes = 100 << 20;
  options.max_recomputes = 2;
  return options;
}

class SchedulerDataTest : public SchedulerTest {
 protected:
  explicit SchedulerDataTest(SchedulerOptions options = DataOptions())
      : SchedulerTest(std::move(options)) {}

  static std::string Instance(WorkerId id) {
    return absl::StrCat("instance-", id);
  }
  static std::string Address(WorkerId id) {
    return absl::StrCat("127.0.0.1:70", id);
  }

  // kWorker in pool "a" and kOther in pool "b", each holding results.
  void AddPoolHolders(uint32_t slots) {
    for (const auto& [id, pool] : {std::pair{kWorker, "a"}, {kOther, "b"}}) {
      WorkerSpec spec = Worker(id, slots);
      spec.pool = pool;
      spec.instance = Instance(id);
      spec.data_address = Address(id);
      scheduler_.AddWorker(id, std::move(spec));
    }
  }

  void AddHolder(WorkerId id, uint32_t slots,
                 std::vector<std::string> held = {}) {
    WorkerSpec spec = Worker(id, slots);
    spec.instance = Instance(id);
    spec.data_address = Address(id);
    spec.held = std::move(held);
    scheduler_.AddWorker(id, std::move(spec));
  }
  // A holder in `pool` (which takes tasks of any worker too).
  void AddPoolHolder(WorkerId id, uint32_t slots, const std::string& pool) {
    WorkerSpec spec = Worker(id, slots);
    spec.pool = pool;
    spec.instance = Instance(id);
    spec.data_address = Address(id);
    scheduler_.AddWorker(id, std::move(spec));
  }

  // One turn: what each worker was sent.
  absl::flat_hash_map<WorkerId, v1::CoordinatorBatch> Turn() {
    scheduler_.Tick();
    scheduler_.Schedule();
    return TakeSyncedOutput().sends;
  }
  TurnOutput WholeTurn() {
    scheduler_.Tick();
    scheduler_.Schedule();
    return scheduler_.TakeOutput();
  }

  // Reports `a` done with its output held by `holder` (`size` bytes).
  void ReportHeld(WorkerId worker, const v1::Assignment& a, WorkerId holder,
                  uint64_t size = 500) {
    v1::TaskResult result;
    *result.mutable_task() = a.task();
    result.set_ok(true);
    v1::ObjectRef* ref = result.mutable_output_ref();
    ref->set_key(ResultObjectKey(a.task().job_id(), a.task().task_index(),
                                 a.task().attempt()));
    ref->set_size(size);
    ref->set_crc32c(7);
    ref->set_content_type("application/octet-stream");
    ref->mutable_holder()->set_instance(Instance(holder));
    ref->mutable_holder()->set_address(Address(holder));
    result.set_finished_unix_ms(absl::ToUnixMillis(clock_.Now()));
    scheduler_.OnTaskResult(worker, std::move(result));
  }

  // kWorker holds p's result; q, its consumer, waits for a pool no worker
  // is in. The job's sequence number.
  uint64_t HeldAndUnconsumed() {
    AddHolder(kWorker, 1);
    const uint64_t job = Submit(R"({"tasks": [
        {"id": "p", "fn": "const"},
        {"id": "q", "fn": "add", "inputs": ["p"], "executor": "pool:none"}]})");
    std::vector<v1::Assignment> sent = Dispatch(kWorker);
    EXPECT_THAT(Ids(sent), ::testing::ElementsAre("p"));
    if (!sent.empty()) ReportHeld(kWorker, sent[0], kWorker);
    return job;
  }

  // kWorker (`slots` slots) made p and holds its result; q, which reads
  // it, is to be placed next. The job's sequence number.
  uint64_t HeldWithConsumerNext(uint32_t slots) {
    AddHolder(kWorker, slots);
    const uint64_t job = Submit(R"({"tasks": [
        {"id": "p", "fn": "const"},
        {"id": "q", "fn": "add", "inputs": ["p"]}]})");
    std::vector<v1::Assignment> sent = Dispatch(kWorker);
    EXPECT_THAT(Ids(sent), ::testing::ElementsAre("p"));
    if (!sent.empty()) ReportHeld(kWorker, sent[0], kWorker);
    return job;
  }

  // Stream `id` of kWorker's process, holding `held`.
  WorkerSpec AnotherStreamOfTheHolder(WorkerId id,
                                      std::vector<std::string> held) {
    WorkerSpec spec = Worker(id, 1);
    spec.name = Worker(kWorker, 1).name;
    spec.instance = Instance(kWorker);
    spec.data_address = Address(kWorker);
    spec.held = std::move(held);
    return spec;
  }

  v1::TaskStatus Status(uint64_t job, const std::string& task) {
    absl::StatusOr<v1::TaskStatus> status = scheduler_.TaskStatusOf(job, task);
    EXPECT_TRUE(status.ok()) << status.status();
    return status.ok() ? *status : v1::TaskStatus();
  }
};

}  // namespace dagd

#endif  // DAGD_TESTS_SERVER_SCHEDULER_DATA_FIXTURE_H_
