#include "storage/job_tasks.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace dagd {
namespace {

using google::protobuf::util::MessageDifferencer;

v1::TaskSpec Task(int i, size_t code_bytes = 0) {
  v1::TaskSpec task;
  task.set_id(absl::StrCat("t", i));
  task.set_fn(i % 2 ? "identity" : "const");
  if (i > 0) task.add_inputs(absl::StrCat("t", i - 1));
  if (i > 1) task.add_after(absl::StrCat("t", i - 2));
  (*task.mutable_args()->mutable_struct_value()->mutable_fields())["value"]
      .set_number_value(i);
  task.set_priority(i % 3);
  task.mutable_timeout()->set_seconds(i);
  task.set_code(std::string(code_bytes, 'c'));
  task.set_cost(0.5 * i);  // a fixed64 field, for the scans to skip
  return task;
}

TEST(JobTasksTest, EachTaskReadsBackAsAdded) {
  JobTasks tasks;
  std::vector<v1::TaskSpec> added;
  for (int i = 0; i < 5; ++i) tasks.Add(added.emplace_back(Task(i)));
  ASSERT_EQ(tasks.size(), 5u);
  uint64_t bytes = 0;
  for (uint32_t i = 0; i < 5; ++i) {
    EXPECT_TRUE(MessageDifferencer::Equals(tasks.Get(i), added[i])) << i;
    EXPECT_EQ(tasks.id(i), absl::StrCat("t", i));
    EXPECT_EQ(tasks.encoded(i), added[i].SerializeAsString());
    bytes += added[i].ByteSizeLong();
  }
  EXPECT_EQ(tasks.bytes(), bytes);
}

TEST(JobTasksTest, TasksAcrossBlocksAndLargerThanOneStayWhereTheyAre) {
  JobTasks tasks;
  std::vector<v1::TaskSpec> added;
  tasks.Add(added.emplace_back(Task(0)));
  // A view taken now must survive every later Add.
  const absl::string_view first_id = tasks.id(0);
  // 3,000 tasks of 1 KiB fill several 1 MiB blocks; one of 3 MiB gets a
  // block of its own, between others.
  for (int i = 1; i < 3000; ++i) {
    tasks.Add(added.emplace_back(Task(i, i == 1500 ? 3 << 20 : 1024)));
  }
  EXPECT_EQ(first_id, "t0");
  for (uint32_t i = 0; i < tasks.size(); ++i) {
    ASSERT_EQ(tasks.encoded(i), added[i].SerializeAsString()) << i;
  }
  EXPECT_EQ(tasks.Get(1500).code().size(), size_t{3} << 20);
}

TEST(JobTasksTest, ScanningVisitsLengthDelimitedFieldsInOrder) {
  // Priority 1 (a varint) and cost 2 (a fixed64) lie between them.
  const v1::TaskSpec task = Task(4);
  ASSERT_EQ(task.priority(), 1);
  std::vector<std::pair<uint32_t, std::string>> seen;
  ASSERT_TRUE(ForEachLengthDelimited(task.SerializeAsString(),
                                     [&](uint32_t field, absl::string_view v) {
                                       seen.emplace_back(field, v);
                                     })
                  .ok());
  // id, fn, args, inputs, after, timeout.
  ASSERT_EQ(seen.size(), 6u);
  EXPECT_EQ(seen[0], std::make_pair(1u, std::string("t4")));
  EXPECT_EQ(seen[1], std::make_pair(2u, std::string("const")));
  EXPECT_EQ(seen[2].first, 3u);
  EXPECT_EQ(seen[3], std::make_pair(4u, std::string("t3")));
  EXPECT_EQ(seen[4], std::make_pair(5u, std::string("t2")));
  EXPECT_EQ(seen[5].first, 8u);
}

TEST(JobTasksTest, GetFieldsParsesOnlyTheFieldsAskedFor) {
  JobTasks tasks;
  v1::TaskSpec task = Task(4, 100);
  task.mutable_retry()->set_max_attempts(3);
  tasks.Add(task);
  const v1::TaskSpec some = tasks.GetFields(
      0, {v1::TaskSpec::kRetryFieldNumber, v1::TaskSpec::kInputsFieldNumber});
  EXPECT_EQ(some.retry().max_attempts(), 3u);
  EXPECT_THAT(some.inputs(), ::testing::ElementsAre("t3"));
  EXPECT_TRUE(some.id().empty());
  EXPECT_TRUE(some.code().empty());
  EXPECT_FALSE(some.has_args());
  EXPECT_EQ(some.after_size(), 0);
  EXPECT_EQ(some.priority(), 0);
}

TEST(TaskIdIndexTest, FindsEveryTaskByIdAndNothingElse) {
  JobTasks tasks;
  for (int i = 0; i < 10'000; ++i) tasks.Add(Task(i));
  const TaskIdIndex index(tasks);
  for (uint32_t i = 0; i < tasks.size(); ++i) {
    ASSERT_EQ(index.Find(absl::StrCat("t", i)), i);
  }
  EXPECT_EQ(index.Find("t10000"), TaskIdIndex::kNone);
  EXPECT_EQ(index.Find(""), TaskIdIndex::kNone);
  uint32_t earlier = 0;
  EXPECT_EQ(index.FirstDuplicate(&earlier), TaskIdIndex::kNone);
}

TEST(TaskIdIndexTest, TheFirstDuplicateNamesTheTaskWhoseIdItTakes) {
  JobTasks tasks;
  for (int i : {0, 1, 2, 1, 0}) tasks.Add(Task(i));
  const TaskIdIndex index(tasks);
  uint32_t earlier = 0;
  EXPECT_EQ(index.FirstDuplicate(&earlier), 3u);
  EXPECT_EQ(earlier, 1u);
  // An id is found at its first task.
  EXPECT_EQ(index.Find("t0"), 0u);
  EXPECT_EQ(index.Find("t1"), 1u);
}

TEST(JobTasksTest, ScanningRefusesBytesThatAreNoMessage) {
  auto nothing = [](uint32_t, absl::string_view) {};
  const std::string task = Task(4).SerializeAsString();
  // Cut inside a field, a length past the end, and a zero tag.
  for (const std::string& bad : {task.substr(0, task.size() - 1),
                                 std::string("\x0a\x05"
                                             "ab",
                                             4),
                                 std::string("\x00\x01", 2)}) {
    EXPECT_EQ(ForEachLengthDelimited(bad, nothing).code(),
              absl::StatusCode::kInvalidArgument);
  }
  EXPECT_TRUE(ForEachLengthDelimited("", nothing).ok());
}

}  // namespace
}  // namespace dagd
