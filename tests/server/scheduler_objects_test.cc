// Results kept in the object store: the scheduler records the reference a
// worker reports (only at the attempt's own key), hands it on to the tasks
// that take the result as input, and says where the result is.

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/crc32c.h"
#include "storage/object_store.h"
#include "tests/server/scheduler_fixture.h"

namespace dagd {
namespace {

using ::testing::HasSubstr;

constexpr char kChain[] = R"({"tasks": [
  {"id": "a", "fn": "const"},
  {"id": "b", "fn": "add", "inputs": ["a"]}]})";

SchedulerOptions WithStore() {
  SchedulerOptions options;
  options.object_store.set_bucket("results-bucket");
  options.object_store.set_prefix("dagd/");
  options.object_store.set_inline_max_bytes(1024);
  // One task per turn, so each report is seen on its own.
  options.grant_depth = 0;
  return options;
}

v1::ObjectRef RefAt(std::string bucket, std::string key) {
  v1::ObjectRef ref;
  ref.set_bucket(std::move(bucket));
  ref.set_key(std::move(key));
  ref.set_size(300000);
  ref.set_crc32c(12345);
  ref.set_content_type("application/json");
  return ref;
}

// What a worker reports after writing `a`'s output at `ref`.
void ReportRef(Scheduler& scheduler, const v1::Assignment& a,
               v1::ObjectRef ref) {
  v1::TaskResult result;
  *result.mutable_task() = a.task();
  result.set_ok(true);
  *result.mutable_output_ref() = std::move(ref);
  scheduler.OnTaskResult(kWorker, std::move(result));
}

class SchedulerObjectsTest : public SchedulerTest {
 protected:
  SchedulerObjectsTest() : SchedulerTest(WithStore()) {}

  void ReportRef(const v1::Assignment& a, v1::ObjectRef ref) {
    dagd::ReportRef(scheduler_, a, std::move(ref));
  }
};

TEST_F(SchedulerObjectsTest, StoredResultReachesItsSuccessorByReference) {
  const uint64_t seq = Submit(kChain);
  AddWorker(kWorker, 1);
  std::vector<v1::Assignment> first = Dispatch(kWorker);
  ASSERT_EQ(first.size(), 1u);
  const std::string key = ResultObjectKey("j1", 0, 1);
  EXPECT_EQ(key, "results/j1/0/1");
  ReportRef(first[0], RefAt("results-bucket", key));

  std::vector<v1::Assignment> second = Dispatch(kWorker);
  ASSERT_EQ(second.size(), 1u);
  const v1::Assignment& b = second[0];
  EXPECT_EQ(b.task_id(), "b");
  ASSERT_EQ(b.inputs_size(), 1);
  EXPECT_EQ(b.inputs(0).data(), "");
  EXPECT_EQ(b.inputs(0).content_type(), "application/json");
  ASSERT_EQ(b.input_refs().count(0), 1u);
  EXPECT_EQ(b.input_refs().at(0).key(), key);
  EXPECT_EQ(b.input_refs().at(0).crc32c(), 12345u);

  // What the turn stored is the reference, not bytes.
  ASSERT_EQ(last_writes_.results.size(), 1u);
  ASSERT_NE(last_writes_.results[0].result.ref, nullptr);
  EXPECT_EQ(last_writes_.results[0].result.ref->key(), key);
  EXPECT_EQ(last_writes_.results[0].result.data, "");

  absl::StatusOr<v1::TaskStatus> a = scheduler_.TaskStatusOf(seq, "a");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->result().location(), "s3://results-bucket/dagd/" + key);
  EXPECT_EQ(a->result().size_bytes(), 300000u);
  EXPECT_EQ(a->result().crc32c(), 12345u);
}

TEST_F(SchedulerObjectsTest, InlineResultSaysInlineWithItsChecksum) {
  const uint64_t seq = Submit(kChain);
  AddWorker(kWorker, 1);
  std::vector<v1::Assignment> first = Dispatch(kWorker);
  ASSERT_EQ(first.size(), 1u);
  Report(kWorker, first[0], true, "[1,2,3]");
  std::vector<v1::Assignment> second = Dispatch(kWorker);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_TRUE(second[0].input_refs().empty());
  EXPECT_EQ(second[0].inputs(0).data(), "[1,2,3]");
  absl::StatusOr<v1::TaskStatus> a = scheduler_.TaskStatusOf(seq, "a");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->result().location(), "inline");
  EXPECT_EQ(a->result().size_bytes(), 7u);
  EXPECT_EQ(a->result().crc32c(), crc32c::Value("[1,2,3]"));
}

// Deleting a job deletes the objects its results name: a worker must not
// be able to make dagd record (and later delete) any other object.
TEST_F(SchedulerObjectsTest, ReferenceToAnotherKeyFailsTheAttempt) {
  const uint64_t seq = Submit(R"({"tasks": [{"id": "a", "fn": "const",
      "retry": {"max_attempts": 3}}]})");
  AddWorker(kWorker, 1);
  std::vector<v1::Assignment> first = Dispatch(kWorker);
  ASSERT_EQ(first.size(), 1u);
  ReportRef(first[0], RefAt("results-bucket", "results/j1/0/2"));
  absl::StatusOr<v1::TaskStatus> a = scheduler_.TaskStatusOf(seq, "a");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_NE(a->state(), v1::TASK_SUCCEEDED);
  ASSERT_EQ(a->attempts_size(), 1);
  EXPECT_THAT(a->attempts(0).error(),
              HasSubstr("belongs at s3://results-bucket/results/j1/0/1"));
  EXPECT_TRUE(last_writes_.results.empty());

  // Another bucket is refused too.
  clock_.Advance(absl::Seconds(10));
  std::vector<v1::Assignment> second = Dispatch(kWorker);
  ASSERT_EQ(second.size(), 1u);
  ReportRef(second[0], RefAt("other-bucket", "results/j1/0/2"));
  a = scheduler_.TaskStatusOf(seq, "a");
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_EQ(a->attempts_size(), 2);
  EXPECT_THAT(a->attempts(1).error(), HasSubstr("s3://other-bucket/"));
}

// The Lambda dispatcher's retries of one attempt each write under the
// attempt's key; a key that only starts with the same characters is not
// the attempt's.
TEST_F(SchedulerObjectsTest, KeysUnderTheAttemptsAreItsOwn) {
  const uint64_t seq = Submit(R"({"tasks": [{"id": "a", "fn": "const",
      "retry": {"max_attempts": 2}}]})");
  AddWorker(kWorker, 1);
  std::vector<v1::Assignment> first = Dispatch(kWorker);
  ASSERT_EQ(first.size(), 1u);
  ReportRef(first[0], RefAt("results-bucket", "results/j1/0/10"));
  clock_.Advance(absl::Seconds(10));
  std::vector<v1::Assignment> second = Dispatch(kWorker);
  ASSERT_EQ(second.size(), 1u);
  ASSERT_EQ(second[0].task().attempt(), 2u);
  ReportRef(second[0], RefAt("results-bucket", "results/j1/0/2/try3"));
  absl::StatusOr<v1::TaskStatus> a = scheduler_.TaskStatusOf(seq, "a");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->state(), v1::TASK_SUCCEEDED);
  EXPECT_THAT(a->attempts(0).error(), HasSubstr("belongs at"));
  EXPECT_EQ(a->result().location(),
            "s3://results-bucket/dagd/results/j1/0/2/try3");
}

TEST_F(SchedulerTest, ReferenceWithoutAStoreFailsTheAttempt) {
  const uint64_t seq = Submit(R"({"tasks": [{"id": "a", "fn": "const",
      "retry": {"max_attempts": 2}}]})");
  AddWorker(kWorker, 1);
  std::vector<v1::Assignment> first = Dispatch(kWorker);
  ASSERT_EQ(first.size(), 1u);
  ReportRef(scheduler_, first[0], RefAt("b", ResultObjectKey("j1", 0, 1)));
  absl::StatusOr<v1::TaskStatus> a = scheduler_.TaskStatusOf(seq, "a");
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_EQ(a->attempts_size(), 1);
  EXPECT_THAT(a->attempts(0).error(), HasSubstr("dagd has no object store"));
}

// Results in memory keep their content type by id, up to a cap; past it
// each result keeps its own. Either way the successor and GetResult get
// the type the worker reported.
TEST_F(SchedulerTest, EveryResultKeepsItsContentTypePastTheInternedOnes) {
  const int n = static_cast<int>(Scheduler::kMaxInternedContentTypes) + 10;
  std::string tasks;
  for (int i = 0; i < n; ++i) {
    absl::StrAppend(&tasks, i == 0 ? "" : ",", R"({"id": "t)", i,
                    R"(", "fn": "const"})", R"(,{"id": "u)", i,
                    R"(", "fn": "add", "inputs": ["t)", i, R"("]})");
  }
  const uint64_t seq = Submit(absl::StrCat(R"({"tasks": [)", tasks, "]}"));
  AddWorker(kWorker, 2 * n);
  std::vector<v1::Assignment> first = Dispatch(kWorker);
  ASSERT_EQ(first.size(), static_cast<size_t>(n));
  for (const v1::Assignment& a : first) {
    v1::TaskResult result;
    *result.mutable_task() = a.task();
    result.set_ok(true);
    result.mutable_output()->set_data("1");
    result.mutable_output()->set_content_type("type/" + a.task_id());
    scheduler_.OnTaskResult(kWorker, std::move(result));
  }
  std::vector<v1::Assignment> second = Dispatch(kWorker);
  ASSERT_EQ(second.size(), static_cast<size_t>(n));
  for (const v1::Assignment& a : second) {
    EXPECT_EQ(a.inputs(0).content_type(), "type/t" + a.task_id().substr(1));
  }
  for (int i : {0, n - 1}) {
    const std::string id = absl::StrCat("t", i);
    absl::StatusOr<StoredResult> result = scheduler_.ResultOf(seq, id);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->content_type, "type/" + id);
    EXPECT_EQ(scheduler_.TaskStatusOf(seq, id)->result().content_type(),
              "type/" + id);
  }
}

}  // namespace
}  // namespace dagd
