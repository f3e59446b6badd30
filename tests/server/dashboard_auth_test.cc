// The dashboard behind dagd's identities: tokens from the header or the
// cookie, 401 without one, and every answer scoped by tenant as JobService
// scopes it (another tenant's job is exactly an unknown one), in the JSON
// API, the live hub's shared streams and the HTTP front.
#include "server/dashboard/dashboard_auth.h"

#include <atomic>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/auth/authenticator.h"
#include "server/auth/token_table.h"
#include "server/dashboard/dashboard_api.h"
#include "server/dashboard/dashboard_http.h"
#include "server/dashboard/live_hub.h"
#include "tests/server/fake_dashboard_source.h"
#include "tests/testutil/fake_clock.h"

namespace dagd {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

Principal Who(const std::string& tenant, Role role) {
  Principal p;
  p.name = absl::StrCat("token ", tenant, "-", RoleName(role));
  p.tenant = tenant;
  p.role = role;
  return p;
}

const Principal kAlphaReader = Who("alpha", Role::kRead);
const Principal kAlphaSubmitter = Who("alpha", Role::kSubmit);
const Principal kBetaReader = Who("beta", Role::kRead);
const Principal kAdmin = Who("ops", Role::kAdmin);

TEST(RequestAuthorizationTest, TheHeaderElseTheCookie) {
  HttpRequest request{"GET", "/api/jobs", "", {}};
  EXPECT_EQ(RequestAuthorization(request), std::nullopt);
  request.headers = {{"Cookie", "theme=dark; dagd_token=a%2Bb%3D; x=1"}};
  EXPECT_EQ(RequestAuthorization(request), "Bearer a+b=");
  request.headers.push_back({"authorization", "Bearer from-header"});
  EXPECT_EQ(RequestAuthorization(request), "Bearer from-header");
  // A proxy in front of dagd passes its own credentials on: the cookie is
  // dagd's token then; without one the header is read (and refused).
  request.headers = {{"Cookie", "dagd_token=t"},
                     {"Authorization", "Basic dXNlcjpwdw=="}};
  EXPECT_EQ(RequestAuthorization(request), "Bearer t");
  request.headers = {{"Authorization", "Basic dXNlcjpwdw=="}};
  EXPECT_EQ(RequestAuthorization(request), "Basic dXNlcjpwdw==");
  request.headers = {{"Cookie", "dagd_token=t"},
                     {"Authorization", "bearer lower"}};
  EXPECT_EQ(RequestAuthorization(request), "bearer lower");
  // A cookie whose name only ends like it is not it.
  request.headers = {{"Cookie", "not_dagd_token=x"}};
  EXPECT_EQ(RequestAuthorization(request), std::nullopt);
  EXPECT_EQ(CookieValue("dagd_token=\"q\"", "dagd_token"), "q");
}

TEST(NeedRoleTest, SaysWhoHasWhichRoleAndWhatIsNeeded) {
  EXPECT_TRUE(NeedRole(kAlphaSubmitter, Role::kSubmit, "cancel").ok());
  absl::Status refused = NeedRole(kAlphaReader, Role::kSubmit, "cancel");
  EXPECT_TRUE(absl::IsPermissionDenied(refused));
  EXPECT_THAT(refused.message(), HasSubstr("has role read; cancel needs "
                                           "submit"));
}

class ScopedApiTest : public ::testing::Test {
 protected:
  ScopedApiTest()
      : tasks_(&source_, &clock_, TaskCache::Options()),
        access_(&source_, absl::Seconds(5)),
        api_(&source_, &tasks_, &access_, DashboardApi::Options()) {
    source_.AddJob(1, v1::JOB_RUNNING, {MakeTask("a", "const")})
        .set_tenant("alpha");
    source_.AddJob(2, v1::JOB_RUNNING, {MakeTask("b", "const")})
        .set_tenant("beta");
    source_.AddJob(3, v1::JOB_SUCCEEDED, {MakeTask("c", "const")})
        .set_tenant("alpha");
  }
  ApiResponse Get(const std::string& path, const Principal& caller,
                  const std::string& query = "") {
    return api_.Handle(HttpRequest{"GET", path, query, {}}, caller);
  }
  ApiResponse Cancel(const std::string& job_id, const Principal& caller) {
    HttpRequest request{"POST", "/api/jobs/" + job_id + "/cancel", "", {}};
    request.headers = {{"X-Requested-By", "dagd-dashboard"}};
    return api_.Handle(request, caller);
  }

  FakeClock clock_;
  FakeDashboardSource source_;
  TaskCache tasks_;
  JobAccess access_;
  DashboardApi api_;
};

TEST_F(ScopedApiTest, TheJobsListHoldsOnlyTheCallersTenant) {
  for (const std::string query : {"", "state=RUNNING"}) {
    ApiResponse alpha = Get("/api/jobs", kAlphaReader, query);
    EXPECT_EQ(alpha.code, 200);
    EXPECT_THAT(alpha.body, Not(HasSubstr(R"("id":"j2")"))) << query;
    EXPECT_THAT(alpha.body, Not(HasSubstr("beta"))) << query;
    EXPECT_THAT(alpha.body,
                HasSubstr(R"("id":"j1","name":"","tenant":"alpha")"))
        << query;
  }
  EXPECT_EQ(source_.list_jobs_tenants.back(), "alpha");
  ApiResponse all = Get("/api/jobs", kAdmin);
  for (const char* id : {R"("id":"j1")", R"("id":"j2")", R"("id":"j3")"}) {
    EXPECT_THAT(all.body, HasSubstr(id));
  }
  EXPECT_THAT(all.body, HasSubstr(R"("tenant":"beta")"));
  EXPECT_EQ(source_.list_jobs_tenants.back(), "");
}

TEST_F(ScopedApiTest, AnotherTenantsJobAnswersExactlyAsAnUnknownOne) {
  for (const std::string what : {"", "/graph", "/stream", "/tasks"}) {
    ApiResponse hidden = Get("/api/jobs/j2" + what, kAlphaReader);
    ApiResponse unknown = Get("/api/jobs/j9" + what, kAlphaReader);
    EXPECT_EQ(hidden.code, 404) << what;
    EXPECT_EQ(hidden.body,
              absl::StrReplaceAll(unknown.body, {{"'j9'", "'j2'"}}))
        << what;
    EXPECT_THAT(hidden.body, Not(HasSubstr("beta"))) << what;
    // Its own tenant's job and, for an admin, any job are there.
    EXPECT_EQ(Get("/api/jobs/j1" + what, kAlphaReader).code, 200) << what;
    EXPECT_EQ(Get("/api/jobs/j2" + what, kAdmin).code, 200) << what;
  }
  // The task list was never read for the caller who may not see it.
  EXPECT_EQ(tasks_.fetches(), 2u);  // j1 and j2 (the admin's)
}

TEST_F(ScopedApiTest, CancelNeedsTheSubmitRoleAndTheJobsTenant) {
  ApiResponse reader = Cancel("j1", kAlphaReader);
  EXPECT_EQ(reader.code, 403);
  EXPECT_THAT(reader.body, HasSubstr(R"("field":"role")"));
  EXPECT_THAT(reader.body, HasSubstr("cancel needs submit"));
  ApiResponse other = Cancel("j2", kAlphaSubmitter);
  EXPECT_EQ(other.code, 404);
  EXPECT_EQ(other.body, absl::StrReplaceAll(Cancel("j9", kAlphaSubmitter).body,
                                            {{"'j9'", "'j2'"}}));
  EXPECT_EQ(source_.cancelled, std::vector<std::string>{});
  EXPECT_EQ(Cancel("j1", kAlphaSubmitter).code, 200);
  EXPECT_EQ(Cancel("j2", kAdmin).code, 200);
  EXPECT_EQ(source_.cancelled, (std::vector<std::string>{"j1", "j2"}));
}

// The dashboard's cancels are in the audit log as JobService's are: who
// asked, and what came of it, refused ones included.
TEST_F(ScopedApiTest, CancelsAreAuditedRefusedOnesToo) {
  ::testing::internal::CaptureStderr();
  Cancel("j1", kAlphaReader);
  Cancel("j2", kAlphaSubmitter);
  Cancel("j1", kAlphaSubmitter);
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(log, HasSubstr("audit: cancel by token alpha-read (tenant "
                             "'alpha'): PERMISSION_DENIED"));
  EXPECT_THAT(log, HasSubstr("audit: cancel by token alpha-submit (tenant "
                             "'alpha'): NOT_FOUND"));
  EXPECT_THAT(log, HasSubstr("audit: cancel by token alpha-submit (tenant "
                             "'alpha'): done"));
  // A job id from a URL is decoded: a newline in it forges no line.
  ::testing::internal::CaptureStderr();
  Cancel("j1\n2026-12-07T00:00:00Z dagd: audit: forged", kAlphaReader);
  // A submitter's is looked up: its NOT_FOUND quotes the id.
  Cancel("j9\n2026-12-07T00:00:00Z dagd: audit: forged", kAlphaSubmitter);
  const std::string forged = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(forged, HasSubstr("j1\\n2026"));
  EXPECT_THAT(forged, Not(HasSubstr("\n2026-12-07T00:00:00Z dagd: audit")));
}

TEST_F(ScopedApiTest, AJobsTenantIsAskedOnceForAllItsPagesRequests) {
  for (int i = 0; i < 5; ++i) {
    for (const std::string what : {"/graph", "/stream", "/tasks"}) {
      ASSERT_EQ(Get("/api/jobs/j1" + what, kAlphaReader).code, 200);
    }
  }
  EXPECT_EQ(access_.lookups(), 1u);
  EXPECT_EQ(source_.get_job_calls, 1u);
  // A GetJob the page makes anyway teaches it too.
  ASSERT_EQ(Get("/api/jobs/j3", kAlphaReader).code, 200);
  ASSERT_EQ(Get("/api/jobs/j3/graph", kAlphaReader).code, 200);
  EXPECT_EQ(access_.lookups(), 1u);
}

class ScopedHubTest : public ::testing::Test {
 protected:
  ScopedHubTest() {
    options_.start_thread = false;
    options_.max_streams = 20;
    source_.AddJob(1, v1::JOB_RUNNING).set_tenant("alpha");
    source_.AddJob(2, v1::JOB_RUNNING).set_tenant("beta");
  }
  static std::optional<LiveStream::Message> Take(LiveStream& stream) {
    return stream.Next(absl::ZeroDuration());
  }

  FakeClock clock_;
  FakeDashboardSource source_;
  LiveHub::Options options_;
};

TEST_F(ScopedHubTest, JobsStreamsShareOneListPerTenantAndAdminsOneOfAll) {
  LiveHub hub(&source_, &clock_, options_);
  std::vector<std::unique_ptr<LiveStream>> alpha, beta, admins;
  for (int i = 0; i < 3; ++i) alpha.push_back(*hub.WatchJobs(kAlphaReader));
  alpha.push_back(*hub.WatchJobs(kAlphaSubmitter));  // the same tenant
  beta.push_back(*hub.WatchJobs(kBetaReader));
  for (int i = 0; i < 2; ++i) admins.push_back(*hub.WatchJobs(kAdmin));
  EXPECT_EQ(hub.jobs_feeds(), 3u);
  hub.Tick();
  EXPECT_EQ(source_.list_jobs_calls, 3u);
  EXPECT_EQ(std::set<std::string>(source_.list_jobs_tenants.begin(),
                                  source_.list_jobs_tenants.end()),
            (std::set<std::string>{"alpha", "beta", ""}));
  for (auto& page : alpha) {
    std::optional<LiveStream::Message> jobs = Take(*page);
    ASSERT_TRUE(jobs.has_value());
    EXPECT_THAT(jobs->data, HasSubstr(R"("id":"j1")"));
    EXPECT_THAT(jobs->data, Not(HasSubstr(R"("id":"j2")")));
  }
  std::optional<LiveStream::Message> beta_jobs = Take(*beta[0]);
  ASSERT_TRUE(beta_jobs.has_value());
  EXPECT_THAT(beta_jobs->data, Not(HasSubstr(R"("id":"j1")")));
  std::optional<LiveStream::Message> all = Take(*admins[1]);
  ASSERT_TRUE(all.has_value());
  EXPECT_THAT(all->data, HasSubstr(R"("id":"j1")"));
  EXPECT_THAT(all->data, HasSubstr(R"("id":"j2")"));
  // The last page of a tenant gone, its list is no longer asked for.
  beta.clear();
  EXPECT_EQ(hub.jobs_feeds(), 2u);
  clock_.Advance(options_.jobs_interval);
  hub.Tick();
  EXPECT_EQ(source_.list_jobs_calls, 5u);
}

TEST_F(ScopedHubTest, AJobsStreamShowsItOnlyToThoseWhoSeeItsTenant) {
  LiveHub hub(&source_, &clock_, options_);
  std::unique_ptr<LiveStream> owner = *hub.WatchJob("j1", kAlphaReader);
  // Had the Dashboard let it join, the hub still would not show it.
  std::unique_ptr<LiveStream> other = *hub.WatchJob("j1", kBetaReader);
  std::unique_ptr<LiveStream> admin = *hub.WatchJob("j1", kAdmin);
  EXPECT_EQ(source_.WatchCount("j1"), 1u);
  hub.Tick();
  std::optional<LiveStream::Message> shown = Take(*owner);
  ASSERT_TRUE(shown.has_value());
  EXPECT_EQ(shown->event, "job");
  ASSERT_TRUE(Take(*admin).has_value());
  std::optional<LiveStream::Message> hidden = Take(*other);
  ASSERT_TRUE(hidden.has_value());
  EXPECT_EQ(hidden->event, "error");
  EXPECT_EQ(hidden->code, 404);
  EXPECT_TRUE(hidden->last);
  EXPECT_THAT(hidden->data, HasSubstr("no job 'j1'"));
  EXPECT_THAT(hidden->data, Not(HasSubstr("alpha")));
  // One joining later gets the same from the shared watch's last message.
  std::unique_ptr<LiveStream> late = *hub.WatchJob("j1", kBetaReader);
  std::optional<LiveStream::Message> late_first = Take(*late);
  ASSERT_TRUE(late_first.has_value());
  EXPECT_EQ(late_first->event, "error");
  EXPECT_EQ(late_first->code, 404);
}

// An HttpExchange that keeps the answer; event streams do not start, so a
// stream's handler returns at once.
class RecordingExchange : public HttpExchange {
 public:
  void Respond(int code, absl::string_view content_type,
               absl::string_view body) override {
    this->code = code;
    this->content_type = std::string(content_type);
    this->body = std::string(body);
  }
  bool StartEventStream() override {
    code = 200;
    streamed = true;
    return false;
  }
  bool Write(absl::string_view) override { return false; }
  bool ServerRunning() const override { return true; }

  int code = 0;
  std::string content_type, body;
  bool streamed = false;
};

class DashboardAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.live.start_thread = false;
    // No tick runs: a stream that opens does not wait for its first event.
    options_.first_event_wait = absl::ZeroDuration();
    path_ = absl::StrCat(::testing::TempDir(), "/dashboard_tokens_",
                         ::testing::UnitTest::GetInstance()->random_seed());
    std::ofstream(path_) << TokenHash("alpha-read") << " alpha read reader\n"
                         << TokenHash("alpha-submit") << " alpha submit ci\n"
                         << TokenHash("ops-admin") << " ops admin boss\n";
    absl::StatusOr<std::unique_ptr<Authenticator>> auth =
        Authenticator::FromFile(path_);
    ASSERT_TRUE(auth.ok()) << auth.status();
    auth_ = *std::move(auth);
    source_.AddJob(1, v1::JOB_RUNNING).set_tenant("alpha");
    source_.AddJob(2, v1::JOB_RUNNING).set_tenant("beta");
  }
  void TearDown() override { std::remove(path_.c_str()); }

  RecordingExchange Serve(
      Dashboard& dashboard, const std::string& path,
      std::vector<std::pair<std::string, std::string>> headers = {}) {
    RecordingExchange exchange;
    dashboard.Serve(HttpRequest{"GET", path, "", std::move(headers)}, exchange);
    return exchange;
  }

  FakeClock clock_;
  FakeDashboardSource source_;
  DashboardOptions options_;
  std::string path_;
  std::unique_ptr<Authenticator> auth_;
};

TEST_F(DashboardAuthTest, TheApiNeedsATokenThePagesFilesDoNot) {
  Dashboard dashboard(&source_, auth_.get(), &clock_, options_);
  for (const std::string path :
       {"/api/jobs", "/api/jobs/j1", "/api/whoami", "/api/workers",
        "/api/events", "/api/jobs/j1/events", "/api/jobs/j1/graph"}) {
    RecordingExchange none = Serve(dashboard, path);
    EXPECT_EQ(none.code, 401) << path;
    EXPECT_EQ(none.content_type, "application/json") << path;
    EXPECT_THAT(none.body, HasSubstr(R"("status":"UNAUTHENTICATED")")) << path;
    EXPECT_EQ(Serve(dashboard, path, {{"Cookie", "dagd_token=wrong"}}).code,
              401)
        << path;
  }
  EXPECT_EQ(source_.list_jobs_calls + source_.get_job_calls, 0u);
  for (const std::string path : {"/", "/app.js", "/style.css"}) {
    EXPECT_EQ(Serve(dashboard, path).code, 200) << path;
  }
}

// README "Dashboard": an unknown parameter is a 400 naming it and a wrong
// method a 405, on every path of the API, streams and whoami included (they
// were answered as if neither had been given); nothing is streamed.
TEST_F(DashboardAuthTest,
       UnknownParametersAndWrongMethodsAreRefusedEverywhere) {
  Dashboard dashboard(&source_, auth_.get(), &clock_, options_);
  const std::vector<std::pair<std::string, std::string>> admin = {
      {"Authorization", "Bearer ops-admin"}};
  for (const std::string path :
       {"/api/whoami", "/api/events", "/api/jobs/j1/events", "/api/jobs/j1",
        "/api/workers", "/api/jobs/j1/graph", "/api/jobs/j1/stream"}) {
    RecordingExchange typo;
    dashboard.Serve(HttpRequest{"GET", path, "page_size=5", admin}, typo);
    EXPECT_EQ(typo.code, 400) << path;
    EXPECT_THAT(typo.body,
                HasSubstr("page_size: not a parameter here (it takes none)"))
        << path;
    EXPECT_THAT(typo.body, HasSubstr(R"("field":"page_size")")) << path;
    EXPECT_FALSE(typo.streamed) << path;
    RecordingExchange post;
    dashboard.Serve(HttpRequest{"POST", path, "", admin}, post);
    EXPECT_EQ(post.code, 405) << path;
    EXPECT_THAT(post.body, HasSubstr(absl::StrCat("POST ", path, ": use GET")))
        << path;
    EXPECT_FALSE(post.streamed) << path;
    // Both: the method is named first, everywhere.
    RecordingExchange both;
    dashboard.Serve(HttpRequest{"POST", path, "x=1", admin}, both);
    EXPECT_EQ(both.code, 405) << path;
    // Without either, each is served.
    EXPECT_EQ(Serve(dashboard, path, admin).code, 200) << path;
  }
  // An event stream is read with GET: one answered to HEAD sent a body
  // after the headers and held a stream slot.
  for (const std::string path : {"/api/events", "/api/jobs/j1/events"}) {
    RecordingExchange head;
    dashboard.Serve(HttpRequest{"HEAD", path, "", admin}, head);
    EXPECT_EQ(head.code, 405) << path;
    EXPECT_FALSE(head.streamed) << path;
  }
  // A path of no API is not found, whatever its parameters.
  RecordingExchange nowhere;
  dashboard.Serve(HttpRequest{"GET", "/api/nothing", "x=1", admin}, nowhere);
  EXPECT_EQ(nowhere.code, 404);
  EXPECT_TRUE(source_.cancelled.empty());
}

TEST_F(DashboardAuthTest, WhoamiFromTheHeaderOrTheCookie) {
  Dashboard dashboard(&source_, auth_.get(), &clock_, options_);
  RecordingExchange header =
      Serve(dashboard, "/api/whoami", {{"Authorization", "Bearer ops-admin"}});
  EXPECT_EQ(header.code, 200);
  EXPECT_EQ(header.body,
            R"({"identities":true,"name":"token boss","tenant":"ops",)"
            R"("role":"admin"})");
  RecordingExchange cookie =
      Serve(dashboard, "/api/whoami", {{"Cookie", "dagd_token=alpha-read"}});
  EXPECT_EQ(cookie.code, 200);
  EXPECT_THAT(cookie.body, HasSubstr(R"("tenant":"alpha","role":"read")"));
  Authenticator open;
  Dashboard open_dashboard(&source_, &open, &clock_, options_);
  RecordingExchange anyone = Serve(open_dashboard, "/api/whoami");
  EXPECT_EQ(anyone.code, 200);
  EXPECT_THAT(anyone.body, HasSubstr(R"("identities":false)"));
  EXPECT_THAT(anyone.body, HasSubstr(R"("role":"admin")"));
}

TEST_F(DashboardAuthTest, AnotherTenantsJobStreamIsA404BeforeAnyWatch) {
  Dashboard dashboard(&source_, auth_.get(), &clock_, options_);
  const std::vector<std::pair<std::string, std::string>> alpha = {
      {"Cookie", "dagd_token=alpha-read"}};
  RecordingExchange hidden = Serve(dashboard, "/api/jobs/j2/events", alpha);
  RecordingExchange unknown = Serve(dashboard, "/api/jobs/j9/events", alpha);
  EXPECT_EQ(hidden.code, 404);
  EXPECT_FALSE(hidden.streamed);
  EXPECT_EQ(hidden.body, absl::StrReplaceAll(unknown.body, {{"'j9'", "'j2'"}}));
  EXPECT_EQ(source_.WatchCount("j2"), 0u);
  // The caller's own job's stream opens.
  RecordingExchange own = Serve(dashboard, "/api/jobs/j1/events", alpha);
  EXPECT_TRUE(own.streamed);
  RecordingExchange list = Serve(dashboard, "/api/jobs", alpha);
  EXPECT_THAT(list.body, HasSubstr(R"("id":"j1")"));
  EXPECT_THAT(list.body, Not(HasSubstr(R"("id":"j2")")));
}

TEST(HostIsAnAddressTest, IpLiteralsAndLocalhostWithOrWithoutAPort) {
  for (const char* host :
       {"127.0.0.1", "127.0.0.1:9470", "10.1.2.3:80", "localhost",
        "LocalHost:9470", "[::1]:9470", "[fe80::1]", ""}) {
    EXPECT_TRUE(HostIsAnAddress(host)) << host;
  }
  for (const char* host :
       {"attacker.example", "attacker.example:9470", "127.0.0.1.nip.io:9470",
        "[::1", "[::1]x", "localhost.example", "1.2.3"}) {
    EXPECT_FALSE(HostIsAnAddress(host)) << host;
  }
}

// Without tokens, a request to this port under another site's name (DNS
// rebinding: the browser takes the page and dagd's API for one site) is
// refused before the coordinator is asked; with tokens the token decides.
TEST_F(DashboardAuthTest, WithoutTokensTheApiAnswersOnlyRequestsToAnAddress) {
  Authenticator open;
  Dashboard dashboard(&source_, &open, &clock_, options_);
  RecordingExchange named =
      Serve(dashboard, "/api/jobs", {{"Host", "attacker.example:9470"}});
  EXPECT_EQ(named.code, 403);
  EXPECT_THAT(named.body, HasSubstr(R"("field":"host")"));
  EXPECT_EQ(source_.list_jobs_calls, 0u);
  EXPECT_EQ(Serve(dashboard, "/api/jobs", {{"Host", "127.0.0.1:9470"}}).code,
            200);
  EXPECT_EQ(Serve(dashboard, "/api/jobs", {{"Host", "localhost:9470"}}).code,
            200);
  // The page itself holds no data.
  EXPECT_EQ(Serve(dashboard, "/", {{"Host", "attacker.example:9470"}}).code,
            200);
  Dashboard guarded(&source_, auth_.get(), &clock_, options_);
  EXPECT_EQ(Serve(guarded, "/api/jobs",
                  {{"Host", "dagd.internal:9470"},
                   {"Authorization", "Bearer ops-admin"}})
                .code,
            200);
}

// A dashboard told to stop answers the API at once, without asking the
// coordinator (which stops next: a question posted to it then would wait
// out its timeout, and hold dagd's exit).
TEST_F(DashboardAuthTest, AStoppedDashboardAnswersAtOnceWithoutTheSource) {
  Dashboard dashboard(&source_, auth_.get(), &clock_, options_);
  dashboard.Stop();
  for (const std::string path :
       {"/api/jobs", "/api/jobs/j1", "/api/workers", "/api/events"}) {
    RecordingExchange stopped =
        Serve(dashboard, path, {{"Authorization", "Bearer ops-admin"}});
    EXPECT_EQ(stopped.code, 503) << path;
    EXPECT_THAT(stopped.body, HasSubstr("dagd is stopping")) << path;
    EXPECT_FALSE(stopped.streamed) << path;
  }
  EXPECT_EQ(source_.list_jobs_calls + source_.get_job_calls, 0u);
}

// An HttpExchange whose event stream opens and stays open while the
// server runs.
class StreamingExchange : public HttpExchange {
 public:
  void Respond(int code, absl::string_view, absl::string_view) override {
    this->code = code;
  }
  bool StartEventStream() override {
    streamed.Notify();
    return true;
  }
  bool Write(absl::string_view) override { return true; }
  bool ServerRunning() const override { return running.load(); }

  std::atomic<int> code{0};
  absl::Notification streamed;
  std::atomic<bool> running{true};
};

// A token taken off --tokens_file (and SIGHUP) ends the event streams
// opened with it: its holder no longer sees every job go by.
TEST_F(DashboardAuthTest, AStreamEndsOnceItsTokenIsTakenOff) {
  Dashboard dashboard(&source_, auth_.get(), &clock_, options_);
  StreamingExchange exchange;
  absl::Notification ended;
  std::thread stream([&] {
    dashboard.Serve(
        HttpRequest{
            "GET", "/api/events", "", {{"Authorization", "Bearer ops-admin"}}},
        exchange);
    ended.Notify();
  });
  ASSERT_TRUE(
      exchange.streamed.WaitForNotificationWithTimeout(absl::Seconds(30)));
  // Still listed: the stream stays open.
  EXPECT_FALSE(ended.WaitForNotificationWithTimeout(absl::Seconds(1)));
  std::ofstream(path_) << TokenHash("alpha-read") << " alpha read reader\n";
  ASSERT_EQ(auth_->Reload(), absl::OkStatus());
  EXPECT_TRUE(ended.WaitForNotificationWithTimeout(absl::Seconds(30)));
  exchange.running.store(false);  // ends it either way, so the test ends
  stream.join();
}

}  // namespace
}  // namespace dagd
