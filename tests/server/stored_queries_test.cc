#include "server/stored_queries.h"

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dagd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A view over a few maps, for the answers built from it. Counts the point
// reads of task records, so a test can tell a scan from a read per task.
class MemoryView : public MetaReadView {
 public:
  struct Task {
    v1::TaskSpec spec;
    std::optional<v1::TaskStatus> status;
    std::optional<StoredResult> result;
  };
  std::map<uint64_t, v1::JobStatus> jobs;
  std::map<std::pair<uint64_t, uint32_t>, Task> tasks;
  std::map<std::string, uint64_t> requests;
  int point_reads = 0;

  absl::StatusOr<v1::JobStatus> GetJobStatus(uint64_t seq) override {
    auto it = jobs.find(seq);
    if (it == jobs.end()) return absl::NotFoundError("jobs not found");
    return it->second;
  }
  absl::StatusOr<std::vector<v1::JobStatus>> ListJobStatuses(
      uint64_t before_seq, size_t limit) override {
    std::vector<v1::JobStatus> out;
    for (auto it = jobs.rbegin(); it != jobs.rend() && out.size() < limit;
         ++it) {
      if (it->first < before_seq) out.push_back(it->second);
    }
    return out;
  }
  absl::StatusOr<uint32_t> FindTaskIndex(uint64_t seq,
                                         absl::string_view task_id) override {
    for (const auto& [key, task] : tasks) {
      if (key.first == seq && task.spec.id() == task_id) return key.second;
    }
    return absl::NotFoundError("task id not found");
  }
  absl::StatusOr<v1::TaskStatus> GetTaskStatus(uint64_t seq,
                                               uint32_t index) override {
    ++point_reads;
    auto it = tasks.find({seq, index});
    if (it == tasks.end() || !it->second.status) {
      return absl::NotFoundError("task_states not found");
    }
    return *it->second.status;
  }
  absl::StatusOr<v1::TaskSpec> GetTaskSpec(uint64_t seq,
                                           uint32_t index) override {
    ++point_reads;
    auto it = tasks.find({seq, index});
    if (it == tasks.end()) return absl::NotFoundError("task_specs not found");
    return it->second.spec;
  }
  absl::StatusOr<StoredResult> GetResult(uint64_t seq,
                                         uint32_t index) override {
    auto it = tasks.find({seq, index});
    if (it == tasks.end() || !it->second.result) {
      return absl::NotFoundError("result not found");
    }
    return *it->second.result;
  }
  absl::StatusOr<std::optional<uint64_t>> FindRequest(
      absl::string_view request_id) override {
    auto it = requests.find(std::string(request_id));
    if (it == requests.end()) return std::optional<uint64_t>();
    return std::optional<uint64_t>(it->second);
  }
  absl::Status ForEachStoredTask(uint64_t seq, uint32_t from, uint32_t end,
                                 TaskVisitor visit) override {
    for (auto& [key, task] : tasks) {
      if (key.first != seq || !task.status) continue;
      if (key.second < from || key.second >= end) continue;
      v1::TaskStatus status = *task.status;
      visit(key.second, status, task.spec);
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<v1::ObjectRef>> ListResultObjects(
      uint64_t seq) override {
    std::vector<v1::ObjectRef> out;
    for (const auto& [key, task] : tasks) {
      if (key.first == seq && task.result && task.result->ref) {
        out.push_back(*task.result->ref);
      }
    }
    return out;
  }

  // Job `seq` in `state`: task "a", then "b" taking a's output and after
  // "a" too. Both succeeded (with results) when the job succeeded; only
  // "a" has a status otherwise.
  void AddJob(uint64_t seq, v1::JobState state,
              const std::string& request_id = "") {
    v1::JobStatus& job = jobs[seq];
    job.set_job_id(JobIdFromSeq(seq));
    job.set_state(state);
    job.set_total_tasks(2);
    job.set_request_id(request_id);
    if (!request_id.empty()) requests[request_id] = seq;
    for (uint32_t i = 0; i < 2; ++i) {
      Task& task = tasks[{seq, i}];
      task.spec.set_id(i == 0 ? "a" : "b");
      if (i == 1) {
        task.spec.add_inputs("a");
        task.spec.add_after("a");
      }
      if (i == 0 || state == v1::JOB_SUCCEEDED) {
        v1::TaskStatus status;
        status.set_task_id(task.spec.id());
        status.set_state(state == v1::JOB_SUCCEEDED ? v1::TASK_SUCCEEDED
                                                    : v1::TASK_FAILED);
        task.status = status;
        if (state == v1::JOB_SUCCEEDED) {
          task.result = StoredResult{absl::StrCat(i), "text/plain", nullptr};
        }
      }
    }
  }
};

TEST(StoredQueriesTest, ListsTasksInOneScanWithTheirDependencies) {
  MemoryView view;
  view.AddJob(3, v1::JOB_SUCCEEDED);
  absl::StatusOr<v1::ListTasksResponse> tasks =
      StoredTaskStatuses(view, 3, "j3");
  ASSERT_TRUE(tasks.ok()) << tasks.status();
  ASSERT_EQ(tasks->tasks_size(), 2);
  EXPECT_EQ(tasks->tasks(0).task_id(), "a");
  EXPECT_THAT(tasks->tasks(1).inputs(), ElementsAre("a"));
  EXPECT_THAT(tasks->tasks(1).after(), ElementsAre("a"));
  EXPECT_EQ(view.point_reads, 0);
}

TEST(StoredQueriesTest, ListsTasksAPageAtATime) {
  MemoryView view;
  view.AddJob(3, v1::JOB_SUCCEEDED);
  v1::ListTasksRequest request;
  request.set_page_size(1);
  absl::StatusOr<TasksPage> page = ParseTasksPage(request);
  ASSERT_TRUE(page.ok()) << page.status();
  absl::StatusOr<v1::ListTasksResponse> first =
      StoredTaskStatuses(view, 3, "j3", *page);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->tasks_size(), 1);
  EXPECT_EQ(first->tasks(0).task_id(), "a");
  ASSERT_FALSE(first->next_page_token().empty());
  request.set_page_token(first->next_page_token());
  page = ParseTasksPage(request);
  ASSERT_TRUE(page.ok()) << page.status();
  absl::StatusOr<v1::ListTasksResponse> second =
      StoredTaskStatuses(view, 3, "j3", *page);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(second->tasks_size(), 1);
  EXPECT_EQ(second->tasks(0).task_id(), "b");
  EXPECT_THAT(second->tasks(0).inputs(), ElementsAre("a"));
  EXPECT_TRUE(second->next_page_token().empty());

  request.set_page_token("not-a-token");
  EXPECT_THAT(ParseTasksPage(request).status().message(),
              HasSubstr("page_token: not a token that ListTasks returned"));
}

TEST(StoredQueriesTest, AJobTooBigToListUnpagedIsRefused) {
  TasksPage whole;  // page_size 0
  whole.max_unpaged = TasksPage::kMaxUnpaged;
  EXPECT_TRUE(TaskPageRange(whole, TasksPage::kMaxUnpaged, "j1").ok());
  absl::StatusOr<std::pair<uint32_t, uint32_t>> refused =
      TaskPageRange(whole, TasksPage::kMaxUnpaged + 1, "j1");
  EXPECT_TRUE(absl::IsFailedPrecondition(refused.status()));
  EXPECT_THAT(refused.status().message(),
              HasSubstr("job j1 has 100001 tasks, more than ListTasks "
                        "answers without paging (100000): give page_size"));
  // A page of it, and dagd's own callers (no limit), are answered.
  TasksPage paged = whole;
  paged.size = 20'000;
  EXPECT_EQ(*TaskPageRange(paged, 1'000'000, "j1"),
            std::make_pair(0u, 20'000u));
  EXPECT_TRUE(TaskPageRange(TasksPage(), 1'000'000, "j1").ok());
  // A page token without a page_size asks for all the rest: as limited.
  TasksPage rest = whole;
  rest.from = 1;
  EXPECT_TRUE(absl::IsFailedPrecondition(
      TaskPageRange(rest, 1'000'000, "j1").status()));
  rest.from = 1'000'000 - TasksPage::kMaxUnpaged;
  EXPECT_TRUE(TaskPageRange(rest, 1'000'000, "j1").ok());
  v1::ListTasksRequest huge;
  huge.set_page_size(1'000'000);
  EXPECT_EQ(ParseTasksPage(huge)->size, TasksPage::kMaxSize);
}

TEST(StoredQueriesTest, GetsATaskWithItsDependencies) {
  MemoryView view;
  view.AddJob(3, v1::JOB_SUCCEEDED);
  absl::StatusOr<v1::TaskStatus> task = StoredTaskStatus(view, 3, "b");
  ASSERT_TRUE(task.ok()) << task.status();
  EXPECT_EQ(task->state(), v1::TASK_SUCCEEDED);
  EXPECT_THAT(task->inputs(), ElementsAre("a"));
}

TEST(StoredQueriesTest, NamesTheMissingJobOrTask) {
  MemoryView view;
  view.AddJob(3, v1::JOB_SUCCEEDED);
  EXPECT_EQ(StoredJobStatus(view, 4, "j4").status().message(), "no job 'j4'");
  EXPECT_EQ(StoredTaskStatuses(view, 4, "j4").status().message(),
            "no job 'j4'");
  EXPECT_EQ(StoredCancel(view, 4, "j4").status().message(), "no job 'j4'");
  absl::Status no_task = StoredTaskStatus(view, 3, "zz").status();
  EXPECT_TRUE(absl::IsNotFound(no_task));
  EXPECT_EQ(no_task.message(), "job 'j3' has no task 'zz'");
  EXPECT_EQ(StoredResultOf(view, 4, "a").status().message(), "no job 'j4'");
}

TEST(StoredQueriesTest, AResultOfATaskThatDidNotSucceedSaysItsState) {
  MemoryView view;
  view.AddJob(5, v1::JOB_FAILED);
  absl::Status failed = StoredResultOf(view, 5, "a").status();
  EXPECT_TRUE(absl::IsNotFound(failed));
  EXPECT_THAT(failed.message(), HasSubstr("it is TASK_FAILED"));
  view.AddJob(6, v1::JOB_SUCCEEDED);
  EXPECT_EQ(StoredResultOf(view, 6, "b")->data, "1");
}

TEST(StoredQueriesTest, CancellingAFinishedJobChangesNothing) {
  MemoryView view;
  view.AddJob(3, v1::JOB_FAILED);
  absl::StatusOr<v1::CancelJobResponse> cancel = StoredCancel(view, 3, "j3");
  ASSERT_TRUE(cancel.ok());
  EXPECT_FALSE(cancel->cancelled());
  EXPECT_EQ(cancel->state(), v1::JOB_FAILED);
}

TEST(StoredQueriesTest, PagesOfJobsAskForOneMore) {
  MemoryView view;
  for (uint64_t seq = 1; seq <= 5; ++seq) view.AddJob(seq, v1::JOB_SUCCEEDED);
  v1::ListJobsRequest request;
  request.set_page_size(2);
  request.set_page_token("5");
  absl::StatusOr<JobsPage> page = ParseJobsPage(request);
  ASSERT_TRUE(page.ok());
  absl::StatusOr<std::vector<v1::JobStatus>> jobs = StoredJobsPage(view, *page);
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 3u);
  EXPECT_EQ((*jobs)[0].job_id(), "j4");
  request.set_page_token("next");
  EXPECT_EQ(ParseJobsPage(request).status().code(),
            absl::StatusCode::kInvalidArgument);
  request.set_page_size(5000);
  request.clear_page_token();
  EXPECT_EQ(ParseJobsPage(request)->size, 1000u);
}

TEST(StoredQueriesTest, PlansTheDeletionOfAFinishedJobOnly) {
  MemoryView view;
  view.AddJob(1, v1::JOB_SUCCEEDED, "nightly");
  view.AddJob(2, v1::JOB_RUNNING);
  absl::StatusOr<PlannedDeletion> plan =
      PlanDeletion(view, 1, /*with_objects=*/true);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->job.seq, 1u);
  EXPECT_EQ(plan->job.total_tasks, 2u);
  EXPECT_EQ(plan->job.request_id, "nightly");
  absl::Status running = PlanDeletion(view, 2, true).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(running));
  EXPECT_EQ(running.message(),
            "job 'j2' is RUNNING: only a finished job can be deleted");
  EXPECT_EQ(PlanDeletion(view, 9, true).status().message(), "no job 'j9'");
}

}  // namespace
}  // namespace dagd
