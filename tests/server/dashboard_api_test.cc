// DashboardApi: the JSON the pages read, and 4xx errors naming the field
// for bad input, over a fake coordinator.
#include "server/dashboard/dashboard_api.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/dashboard/dashboard_json.h"
#include "tests/server/fake_dashboard_source.h"
#include "tests/testutil/fake_clock.h"

namespace dagd {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class DashboardApiTest : public ::testing::Test {
 protected:
  DashboardApiTest()
      : tasks_(&source_, &clock_, TaskCache::Options()),
        access_(&source_, absl::Seconds(5)),
        api_(&source_, &tasks_, &access_, DashboardApi::Options()) {}

  ApiResponse Get(const std::string& path, const std::string& query = "") {
    return api_.Handle(HttpRequest{"GET", path, query, {}}, OpenAccess());
  }
  // The `field` of an error answer.
  static std::string FieldOf(const ApiResponse& response) {
    const std::string key = "\"field\":\"";
    size_t at = response.body.find(key);
    if (at == std::string::npos) return "<none>";
    at += key.size();
    return response.body.substr(at, response.body.find('"', at) - at);
  }

  FakeClock clock_;
  FakeDashboardSource source_;
  TaskCache tasks_;
  JobAccess access_;
  DashboardApi api_;
};

TEST_F(DashboardApiTest, UnknownJobIs404NamingTheJobId) {
  for (const std::string path :
       {"/api/jobs/j42", "/api/jobs/j42/graph", "/api/jobs/j42/stream",
        "/api/jobs/j42/tasks"}) {
    ApiResponse response = Get(path);
    EXPECT_EQ(response.code, 404) << path;
    EXPECT_EQ(FieldOf(response), "job_id") << path;
    EXPECT_THAT(response.body, HasSubstr("no job 'j42'")) << path;
  }
}

TEST_F(DashboardApiTest, BadPageTokenSizeAndStateAre400NamingTheField) {
  source_.AddJob(1, v1::JOB_RUNNING, {MakeTask("a", "const")});
  struct Case {
    std::string path, query, field;
  };
  for (const Case& c : std::vector<Case>{
           {"/api/jobs", "page_token=abc", "page_token"},
           {"/api/jobs", "page_size=0", "page_size"},
           {"/api/jobs", "page_size=100000", "page_size"},
           {"/api/jobs", "state=SLEEPY", "state"},
           {"/api/jobs", "colour=red", "colour"},
           {"/api/jobs", "state=FAILED&state=RUNNING", "state"},
           {"/api/jobs/j1/tasks", "page_token=-1", "page_token"},
           {"/api/jobs/j1/tasks", "page_token=7", "page_token"},  // past end
           {"/api/jobs/j1/tasks", "state=JOB_FAILED", "state"},
       }) {
    ApiResponse response = Get(c.path, c.query);
    EXPECT_EQ(response.code, 400) << c.path << "?" << c.query;
    EXPECT_EQ(FieldOf(response), c.field) << c.path << "?" << c.query;
  }
}

TEST_F(DashboardApiTest, WrongMethodAndUnknownPathAreErrors) {
  source_.AddJob(1, v1::JOB_RUNNING);
  EXPECT_EQ(Get("/api/jobs/j1/cancel").code, 405);
  EXPECT_EQ(
      api_.Handle(HttpRequest{"POST", "/api/jobs/j1", "", {}}, OpenAccess())
          .code,
      405);
  EXPECT_EQ(Get("/api/nothing").code, 404);
  EXPECT_EQ(Get("/api/jobs/j1/nothing").code, 404);
  EXPECT_TRUE(source_.cancelled.empty());
}

TEST_F(DashboardApiTest, CancelCallsTheCoordinatorOnPost) {
  source_.AddJob(1, v1::JOB_RUNNING);
  HttpRequest cancel{"POST", "/api/jobs/j1/cancel", "", {}};
  cancel.headers = {{"x-requested-by", "dagd-dashboard"}};
  ApiResponse response = api_.Handle(cancel, OpenAccess());
  EXPECT_EQ(response.code, 200);
  EXPECT_EQ(response.body, R"({"state":"CANCELLED","cancelled":true})");
  EXPECT_EQ(source_.cancelled, std::vector<std::string>{"j1"});
}

TEST_F(DashboardApiTest, ACancelWithoutTheDashboardsHeaderIsRefused) {
  source_.AddJob(1, v1::JOB_RUNNING);
  // What a form on another web site can send: no custom header.
  ApiResponse response = api_.Handle(
      HttpRequest{"POST", "/api/jobs/j1/cancel", "", {}}, OpenAccess());
  EXPECT_EQ(response.code, 403);
  EXPECT_EQ(FieldOf(response), "X-Requested-By");
  EXPECT_TRUE(source_.cancelled.empty());
}

TEST_F(DashboardApiTest, TasksComeInPagesWithATokenForTheNext) {
  std::vector<v1::TaskStatus> tasks;
  for (int i = 0; i < 250; ++i) {
    tasks.push_back(
        MakeTask("t" + std::to_string(i), "const", {},
                 i % 5 == 0 ? v1::TASK_FAILED : v1::TASK_SUCCEEDED));
  }
  source_.AddJob(1, v1::JOB_FAILED, tasks);
  ApiResponse first = Get("/api/jobs/j1/tasks", "page_size=100");
  EXPECT_THAT(first.body, HasSubstr(R"("total":250,"next_page_token":"100")"));
  ApiResponse last = Get("/api/jobs/j1/tasks", "page_size=100&page_token=200");
  EXPECT_THAT(last.body, HasSubstr(R"({"id":"t249")"));
  EXPECT_THAT(last.body, HasSubstr(R"("next_page_token":"")"));
  ApiResponse failed = Get("/api/jobs/j1/tasks", "state=failed&page_size=10");
  EXPECT_THAT(failed.body, HasSubstr(R"("total":50,"next_page_token":"10")"));
  EXPECT_THAT(failed.body, Not(HasSubstr("SUCCEEDED")));
  // Three pages, one list of the job's tasks from the coordinator.
  EXPECT_EQ(source_.list_tasks_calls, 1u);
}

TEST_F(DashboardApiTest, JobsFilteredByStateAcrossPages) {
  for (uint64_t seq = 1; seq <= 30; ++seq) {
    source_.AddJob(seq, seq % 10 == 0 ? v1::JOB_FAILED : v1::JOB_SUCCEEDED);
  }
  ApiResponse failed = Get("/api/jobs", "state=FAILED&page_size=2");
  EXPECT_EQ(failed.code, 200);
  EXPECT_THAT(failed.body, HasSubstr(R"("id":"j30")"));
  EXPECT_THAT(failed.body, HasSubstr(R"("id":"j20")"));
  EXPECT_THAT(failed.body, Not(HasSubstr(R"("id":"j29")")));
  EXPECT_THAT(failed.body, HasSubstr(R"("next_page_token":"20")"));
  ApiResponse rest = Get("/api/jobs", "state=FAILED&page_size=2&page_token=20");
  EXPECT_THAT(rest.body, HasSubstr(R"("id":"j10")"));
  EXPECT_THAT(rest.body, HasSubstr(R"("next_page_token":"")"));
}

TEST_F(DashboardApiTest, GraphIsDrawnTaskByTaskUpToTheLimitThenByGroup) {
  source_.AddJob(1, v1::JOB_SUCCEEDED,
                 {MakeTask("a", "const"), MakeTask("b", "add", {"a"})});
  std::vector<v1::TaskStatus> big;
  for (size_t i = 0; i <= kMaxDrawnTasks; ++i) {
    big.push_back(MakeTask("t" + std::to_string(i), "const"));
  }
  source_.AddJob(2, v1::JOB_SUCCEEDED, big);
  EXPECT_EQ(Get("/api/jobs/j1/graph").body,
            R"({"grouped":false,"nodes":[)"
            R"({"id":"a","fn":"const","state":"SUCCEEDED","depth":0},)"
            R"({"id":"b","fn":"add","state":"SUCCEEDED","depth":1}],)"
            R"("edges":[[0,1]],"tasks":2})");
  EXPECT_EQ(Get("/api/jobs/j2/graph").body,
            R"({"grouped":true,"groups":[{"fn":"const","depth":0,)"
            R"("total":2001,"counts":{"SUCCEEDED":2001}}],"edges":[],)"
            R"("tasks":2001})");
}

TEST_F(DashboardApiTest, JobJsonCarriesCountsTimesAndFailures) {
  v1::JobStatus& job = source_.AddJob(3, v1::JOB_FAILED);
  job.set_name("nightly");
  job.set_total_tasks(3);
  auto* count = job.add_counts();
  count->set_state(v1::TASK_UPSTREAM_FAILED);
  count->set_count(2);
  job.mutable_submitted_at()->set_seconds(5);
  auto* failure = job.add_failures();
  failure->set_task_id("x");
  failure->set_text("it \"broke\"");
  EXPECT_EQ(Get("/api/jobs/j3").body,
            R"({"id":"j3","name":"nightly","tenant":"","state":"FAILED",)"
            R"("priority":0,)"
            R"("total":3,"counts":{"UPSTREAM_FAILED":2},"submitted":5000,)"
            R"("started":null,"finished":null,"error":"",)"
            R"("failures":[{"task":"x","text":"it \"broke\""}]})");
}

// The workers page says which worker drains (nothing new goes there).
TEST_F(DashboardApiTest, WorkersJsonSaysWhichDrains) {
  v1::WorkerInfo* leaving = source_.workers.add_workers();
  leaving->set_worker_id("w1-1");
  leaving->set_draining(true);
  source_.workers.add_workers()->set_worker_id("w1-2");
  const std::string body = Get("/api/workers").body;
  EXPECT_THAT(body, HasSubstr(R"("id":"w1-1",)"));
  const size_t second = body.find(R"("id":"w1-2")");
  ASSERT_NE(second, std::string::npos);
  EXPECT_THAT(body.substr(0, second), HasSubstr(R"("draining":true)"));
  EXPECT_THAT(body.substr(second), HasSubstr(R"("draining":false)"));
}

TEST(ParseQueryTest, DecodesEscapesAndRefusesUnknownNames) {
  auto params =
      ParseQuery("state=RUN%4eING&page_token=a+b", {"state", "page_token"});
  ASSERT_TRUE(params.ok());
  EXPECT_EQ((*params)[0].second, "RUNNING");
  EXPECT_EQ((*params)[1].second, "a b");
  EXPECT_FALSE(ParseQuery("nope=1", {"state"}).ok());
}

}  // namespace
}  // namespace dagd
