// TaskCache and LiveHub: what keeps the coordinator's cost bounded however
// many dashboard pages are open.
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/dashboard/live_hub.h"
#include "server/dashboard/task_cache.h"
#include "tests/server/fake_dashboard_source.h"
#include "tests/testutil/fake_clock.h"

namespace dagd {
namespace {

using ::testing::HasSubstr;

TEST(TaskCacheTest, PagesOfOneJobShareOneListUntilItIsOld) {
  FakeClock clock;
  FakeDashboardSource source;
  source.AddJob(1, v1::JOB_RUNNING,
                {MakeTask("a", "const", {}, v1::TASK_RUNNING)});
  TaskCache cache(&source, &clock, TaskCache::Options());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(cache.Get("j1").ok());
  EXPECT_EQ(source.list_tasks_calls, 1u);
  clock.Advance(absl::Milliseconds(999));
  ASSERT_TRUE(cache.Get("j1").ok());
  EXPECT_EQ(source.list_tasks_calls, 1u);
  clock.Advance(absl::Milliseconds(1));
  ASSERT_TRUE(cache.Get("j1").ok());
  EXPECT_EQ(source.list_tasks_calls, 2u);
}

TEST(TaskCacheTest, ABigLiveJobIsListedLessOften) {
  FakeClock clock;
  FakeDashboardSource source;
  std::vector<v1::TaskStatus> tasks;
  for (int i = 0; i < 50'000; ++i) {
    tasks.push_back(
        MakeTask("t" + std::to_string(i), "const", {}, v1::TASK_READY));
  }
  source.AddJob(1, v1::JOB_RUNNING, std::move(tasks));
  TaskCache cache(&source, &clock, TaskCache::Options());
  ASSERT_TRUE(cache.Get("j1").ok());
  clock.Advance(absl::Seconds(4));  // 100 us per task: 5 s
  ASSERT_TRUE(cache.Get("j1").ok());
  EXPECT_EQ(source.list_tasks_calls, 1u);
  clock.Advance(absl::Seconds(1));
  ASSERT_TRUE(cache.Get("j1").ok());
  EXPECT_EQ(source.list_tasks_calls, 2u);
}

TEST(TaskCacheTest, AFinishedJobIsListedOnceAndItsLayoutKept) {
  FakeClock clock;
  FakeDashboardSource source;
  source.AddJob(1, v1::JOB_SUCCEEDED, {MakeTask("a", "const")});
  TaskCache cache(&source, &clock, TaskCache::Options());
  auto first = cache.Get("j1");
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE((*first)->final);
  clock.Advance(absl::Hours(1));
  auto later = cache.Get("j1");
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->get(), first->get());
  EXPECT_EQ(source.list_tasks_calls, 1u);
}

// A finished job deleted since it was listed is not served from the cache
// once its existence is due to be asked again (a GetJob, not a list): its
// graph and tasks were served for as long as the dashboard ran.
TEST(TaskCacheTest, AFinishedJobDeletedSinceIsNotServed) {
  FakeClock clock;
  FakeDashboardSource source;
  source.AddJob(1, v1::JOB_SUCCEEDED, {MakeTask("a", "const")});
  source.AddJob(2, v1::JOB_SUCCEEDED, {MakeTask("b", "const")});
  TaskCache cache(&source, &clock, TaskCache::Options());
  ASSERT_TRUE(cache.Get("j1").ok());
  ASSERT_TRUE(cache.Get("j2").ok());
  source.DeleteJob(1);
  clock.Advance(TaskCache::Options().max_age);
  EXPECT_TRUE(absl::IsNotFound(cache.Get("j1").status()));
  EXPECT_TRUE(absl::IsNotFound(cache.Get("j1").status()));
  EXPECT_TRUE(cache.Get("j2").ok());
  EXPECT_EQ(source.list_tasks_calls, 3u);  // j1, j2, then j1 unknown
}

TEST(TaskCacheTest, ConcurrentReadersOfOneJobWaitForOneFetch) {
  FakeClock clock;
  FakeDashboardSource source;
  source.AddJob(1, v1::JOB_SUCCEEDED, {MakeTask("a", "const")});
  TaskCache cache(&source, &clock, TaskCache::Options());
  std::vector<std::thread> readers;
  for (int i = 0; i < 8; ++i) {
    readers.emplace_back([&] { EXPECT_TRUE(cache.Get("j1").ok()); });
  }
  for (auto& reader : readers) reader.join();
  EXPECT_EQ(cache.fetches(), 1u);
}

TEST(TaskCacheTest, KeepsAtMostMaxTasksDroppingTheLeastRecentlyUsed) {
  FakeClock clock;
  FakeDashboardSource source;
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    source.AddJob(seq, v1::JOB_SUCCEEDED,
                  {MakeTask("a", "const"), MakeTask("b", "const")});
  }
  TaskCache::Options options;
  options.max_tasks = 4;
  TaskCache cache(&source, &clock, options);
  ASSERT_TRUE(cache.Get("j1").ok());
  ASSERT_TRUE(cache.Get("j2").ok());
  ASSERT_TRUE(cache.Get("j1").ok());  // j2 is now the least recent
  ASSERT_TRUE(cache.Get("j3").ok());  // evicts j2
  EXPECT_EQ(source.list_tasks_calls, 3u);
  ASSERT_TRUE(cache.Get("j1").ok());
  EXPECT_EQ(source.list_tasks_calls, 3u);
  ASSERT_TRUE(cache.Get("j2").ok());
  EXPECT_EQ(source.list_tasks_calls, 4u);
}

TEST(TaskCacheTest, ASnapshotsGraphIsRenderedOnceForEveryPage) {
  FakeClock clock;
  FakeDashboardSource source;
  source.AddJob(1, v1::JOB_SUCCEEDED, {MakeTask("a", "const")});
  TaskCache cache(&source, &clock, TaskCache::Options());
  int renders = 0;
  for (int page = 0; page < 5; ++page) {
    auto snapshot = cache.Get("j1");
    ASSERT_TRUE(snapshot.ok());
    EXPECT_EQ((*snapshot)->Rendered(TaskSnapshot::kGraph,
                                    [&] {
                                      ++renders;
                                      return std::string("graph");
                                    }),
              "graph");
  }
  EXPECT_EQ(renders, 1);
}

TEST(TaskCacheTest, AnUnknownJobIsNotFound) {
  FakeClock clock;
  FakeDashboardSource source;
  TaskCache cache(&source, &clock, TaskCache::Options());
  EXPECT_TRUE(absl::IsNotFound(cache.Get("j9").status()));
}

class LiveHubTest : public ::testing::Test {
 protected:
  LiveHubTest() {
    options_.start_thread = false;  // the test ticks
    options_.max_streams = 5;
  }
  std::unique_ptr<LiveHub> MakeHub() {
    return std::make_unique<LiveHub>(&source_, &clock_, options_);
  }
  static std::optional<LiveStream::Message> Take(LiveStream& stream) {
    return stream.Next(absl::ZeroDuration());
  }

  FakeClock clock_;
  FakeDashboardSource source_;
  LiveHub::Options options_;
};

TEST_F(LiveHubTest, PagesOfOneJobShareOneWatchAndOneGetJobPerTick) {
  source_.AddJob(1, v1::JOB_RUNNING);
  auto hub = MakeHub();
  std::vector<std::unique_ptr<LiveStream>> pages;
  for (int i = 0; i < 4; ++i)
    pages.push_back(*hub->WatchJob("j1", OpenAccess()));
  EXPECT_EQ(source_.WatchCount("j1"), 1u);
  // End only: the scheduler makes no event per task for the dashboard.
  EXPECT_EQ(source_.all_event_watches, 0u);
  hub->Tick();
  EXPECT_EQ(source_.get_job_calls, 1u);
  for (auto& page : pages) {
    std::optional<LiveStream::Message> first = Take(*page);
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(first->event, "job");
    EXPECT_THAT(first->data, HasSubstr(R"("state":"RUNNING")"));
  }
  // Nothing changed: one call for the four pages, nothing sent.
  hub->Tick();
  EXPECT_EQ(source_.get_job_calls, 2u);
  EXPECT_FALSE(Take(*pages[0]).has_value());
  // A change reaches every page at the next tick, for one call.
  source_.SetState(1, v1::JOB_CANCELLED);
  hub->Tick();
  EXPECT_EQ(source_.get_job_calls, 3u);
  for (auto& page : pages) {
    std::optional<LiveStream::Message> next = Take(*page);
    ASSERT_TRUE(next.has_value());
    EXPECT_THAT(next->data, HasSubstr(R"("state":"CANCELLED")"));
  }
}

TEST_F(LiveHubTest, ASlowPageGetsOnlyTheNewestStatus) {
  source_.AddJob(1, v1::JOB_PENDING);
  auto hub = MakeHub();
  std::unique_ptr<LiveStream> page = *hub->WatchJob("j1", OpenAccess());
  hub->Tick();
  source_.SetState(1, v1::JOB_RUNNING);
  hub->Tick();
  std::optional<LiveStream::Message> only = Take(*page);
  ASSERT_TRUE(only.has_value());
  EXPECT_THAT(only->data, HasSubstr(R"("state":"RUNNING")"));
  EXPECT_FALSE(Take(*page).has_value());
}

TEST_F(LiveHubTest, AnUnknownJobsStreamEndsWithAnErrorNamingTheJobId) {
  auto hub = MakeHub();
  std::unique_ptr<LiveStream> page = *hub->WatchJob("j7", OpenAccess());
  hub->Tick();
  std::optional<LiveStream::Message> error = Take(*page);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->event, "error");
  EXPECT_TRUE(error->last);
  EXPECT_EQ(error->code, 404);
  EXPECT_THAT(error->data, HasSubstr(R"("field":"job_id")"));
}

TEST_F(LiveHubTest, StreamsPastTheLimitAreRefusedAndFreedOnClose) {
  source_.AddJob(1, v1::JOB_RUNNING);
  auto hub = MakeHub();
  std::vector<std::unique_ptr<LiveStream>> pages;
  for (int i = 0; i < 5; ++i) pages.push_back(*hub->WatchJobs(OpenAccess()));
  absl::StatusOr<std::unique_ptr<LiveStream>> refused =
      hub->WatchJob("j1", OpenAccess());
  EXPECT_TRUE(absl::IsResourceExhausted(refused.status()));
  pages.pop_back();
  EXPECT_EQ(hub->open_streams(), 4u);
  EXPECT_TRUE(hub->WatchJob("j1", OpenAccess()).ok());
}

TEST_F(LiveHubTest, TheLastPageOfAJobClosingEndsItsWatch) {
  source_.AddJob(1, v1::JOB_RUNNING);
  auto hub = MakeHub();
  auto a = *hub->WatchJob("j1", OpenAccess());
  auto b = *hub->WatchJob("j1", OpenAccess());
  a.reset();
  EXPECT_EQ(source_.WatchCount("j1"), 1u);
  b.reset();
  EXPECT_EQ(source_.WatchCount("j1"), 0u);
}

TEST_F(LiveHubTest, JobsPagesShareOneListPerIntervalSentOnlyWhenChanged) {
  source_.AddJob(1, v1::JOB_RUNNING);
  auto hub = MakeHub();
  std::vector<std::unique_ptr<LiveStream>> pages;
  for (int i = 0; i < 3; ++i) pages.push_back(*hub->WatchJobs(OpenAccess()));
  hub->Tick();
  EXPECT_EQ(source_.list_jobs_calls, 1u);
  for (auto& page : pages) {
    std::optional<LiveStream::Message> jobs = Take(*page);
    ASSERT_TRUE(jobs.has_value());
    EXPECT_EQ(jobs->event, "jobs");
  }
  hub->Tick();  // before the interval: no call
  EXPECT_EQ(source_.list_jobs_calls, 1u);
  clock_.Advance(options_.jobs_interval);
  hub->Tick();  // the same jobs: nothing sent
  EXPECT_EQ(source_.list_jobs_calls, 2u);
  EXPECT_FALSE(Take(*pages[0]).has_value());
  source_.AddJob(2, v1::JOB_PENDING);
  clock_.Advance(options_.jobs_interval);
  hub->Tick();
  std::optional<LiveStream::Message> update = Take(*pages[0]);
  ASSERT_TRUE(update.has_value());
  EXPECT_THAT(update->data, HasSubstr(R"("id":"j2")"));
}

TEST_F(LiveHubTest, StopEndsEveryStreamAndRefusesNewOnes) {
  source_.AddJob(1, v1::JOB_RUNNING);
  auto hub = MakeHub();
  auto job = *hub->WatchJob("j1", OpenAccess());
  auto jobs = *hub->WatchJobs(OpenAccess());
  hub->Stop();
  for (LiveStream* stream : {job.get(), jobs.get()}) {
    std::optional<LiveStream::Message> last = Take(*stream);
    ASSERT_TRUE(last.has_value());
    EXPECT_TRUE(last->last);
  }
  EXPECT_TRUE(absl::IsUnavailable(hub->WatchJobs(OpenAccess()).status()));
}

}  // namespace
}  // namespace dagd
