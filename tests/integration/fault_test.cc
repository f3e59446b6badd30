// The kill -9 fault suite: dagd loses nothing it acknowledged.
//
// CrashTest.KillDagdAtRandomPoints: two dagd-workers and a dagd that is
// killed with SIGKILL at random moments (during a submission, while tasks
// run, just after a job's last task ended) and restarted on the same port
// and data directory, while a submitter thread keeps submitting jobs of
// `exec` tasks that append "start" and "end" lines to one log file. Then:
// every acknowledged job SUCCEEDED with the right results, none is lost or
// duplicated, no task whose "end" line precedes a kill starts again after
// it, and no task starts more than once plus once per kill that found it
// running. It prints its figures.
//
// WorkerKillTest.JobFinishesOnTheOtherWorker: kill -9 of the worker running
// a 1 s task; the job still finishes right, on the other worker.
//
// DataPlaneFaultTest (data_plane_fault_test.cc): kills of workers holding
// intermediates, and of dagd.
//
// DAGD_FAULT_SEED repeats a run's random choices (not its timing);
// DAGD_FAULT_KILLS changes the number of kills (default 24).
#include <signal.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "tests/integration/fault_env.h"

namespace dagd::testing {
namespace {

// A submission that dagd acknowledged.
struct AckedJob {
  JobPlan plan;
  std::string job_id;
  int calls = 0;  // SubmitJob calls it took (1 + retries)
};

// Submits random jobs in rounds from its own thread until Stop(). Each
// submission has a unique request_id and is retried with it after the
// errors a dagd crash causes, until acknowledged. Thread-safe.
class Submitter {
 public:
  Submitter(const std::string& address, std::string log_path, uint64_t seed)
      : address_(address),
        client_(FastReconnectClient(address, CallTimeout(absl::Seconds(5)))),
        log_path_(std::move(log_path)),
        seed_(seed) {}
  ~Submitter() { Stop(); }

  void Start() {
    thread_ = std::thread([this] { Run(); });
  }
  // Stops once the submission in progress is acknowledged.
  void Stop() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    if (thread_.joinable()) thread_.join();
  }

  // Blocks until the submitter is about to send a SubmitJob call; false if
  // none comes within `timeout`.
  bool AwaitNextSubmitCall(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    want_signal_ = true;
    signalled_ = false;
    const bool signalled =
        mu_.AwaitWithTimeout(absl::Condition(&signalled_), timeout);
    want_signal_ = false;
    return signalled;
  }

  std::vector<AckedJob> acked() const {
    absl::MutexLock lock(&mu_);
    return acked_;
  }
  size_t acked_count() const {
    absl::MutexLock lock(&mu_);
    return acked_.size();
  }
  std::vector<std::string> errors() const {
    absl::MutexLock lock(&mu_);
    return errors_;
  }
  std::vector<absl::Duration> outages() const {
    absl::MutexLock lock(&mu_);
    return outages_;
  }
  std::vector<std::string> retry_messages() const {
    absl::MutexLock lock(&mu_);
    return {messages_.begin(), messages_.end()};
  }
  // Status code name -> failed calls that were retried.
  std::map<std::string, int> retried_codes() const {
    absl::MutexLock lock(&mu_);
    return retried_codes_;
  }

 private:
  void Run() {
    std::mt19937_64 rng(seed_);
    auto uniform = [&rng](int lo, int hi) {
      return std::uniform_int_distribution<int>(lo, hi)(rng);
    };
    int n = 0;
    for (int round = 0;; ++round) {
      const int jobs = uniform(4, 10);
      for (int j = 0; j < jobs; ++j) {
        Submit(MakeJobPlan(rng, absl::StrCat("r", round, "-j", n++)), rng);
        if (Pause(absl::Milliseconds(uniform(20, 300)))) return;
      }
      if (Pause(absl::Milliseconds(uniform(300, 1500)))) return;
    }
  }

  // Waits `duration`; true if Stop() was called.
  bool Pause(absl::Duration duration) {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&stopping_), duration);
  }

  void Submit(const JobPlan& plan, std::mt19937_64& rng) {
    absl::StatusOr<v1::JobSpec> spec = BuildJobSpec(plan, log_path_, rng);
    if (!spec.ok()) return AddError(plan.tag, spec.status());
    const absl::Time give_up = absl::Now() + absl::Seconds(60);
    absl::Time first_failure;
    for (int calls = 1;; ++calls) {
      {
        absl::MutexLock lock(&mu_);
        if (want_signal_) {
          want_signal_ = false;
          signalled_ = true;
        }
      }
      absl::StatusOr<std::string> id = client_->Submit(*spec, plan.tag);
      if (id.ok()) {
        absl::MutexLock lock(&mu_);
        acked_.push_back({plan, *id, calls});
        if (calls > 1) outages_.push_back(absl::Now() - first_failure);
        return;
      }
      if (calls == 1) first_failure = absl::Now();
      const absl::StatusCode code = id.status().code();
      const bool retryable = code == absl::StatusCode::kUnavailable ||
                             code == absl::StatusCode::kDeadlineExceeded ||
                             code == absl::StatusCode::kCancelled ||
                             code == absl::StatusCode::kUnknown ||
                             code == absl::StatusCode::kAborted;
      if (!retryable || absl::Now() > give_up) {
        return AddError(plan.tag, id.status());
      }
      {
        absl::MutexLock lock(&mu_);
        ++retried_codes_[absl::StatusCodeToString(code)];
        if (messages_.size() < 6) {
          messages_.insert(std::string(id.status().message()));
        }
      }
      absl::SleepFor(absl::Milliseconds(20));  // a client's retry pacing
      client_ = FastReconnectClient(address_, CallTimeout(absl::Seconds(5)));
    }
  }

  void AddError(const std::string& tag, const absl::Status& status) {
    absl::MutexLock lock(&mu_);
    errors_.push_back(absl::StrCat(tag, ": ", status.ToString()));
  }

  const std::string address_;
  // Only the submitter's thread uses it. Replaced after a failed call: a
  // new channel connects at once, where the old one may still be backing
  // off from the connections dagd refused while it was down.
  std::unique_ptr<Client> client_;
  const std::string log_path_;
  const uint64_t seed_;
  std::thread thread_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool want_signal_ ABSL_GUARDED_BY(mu_) = false;
  bool signalled_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<AckedJob> acked_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> errors_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> retried_codes_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> messages_ ABSL_GUARDED_BY(mu_);
  // First failed call to acknowledgement, of each retried submission.
  std::vector<absl::Duration> outages_ ABSL_GUARDED_BY(mu_);
};

// One kill of dagd and the restart after it.
struct KillRecord {
  std::string phase;           // "submit", "run" or "end"
  bool phase_reached = false;  // else killed when the wait for it timed out
  absl::Duration at;           // since the test began
  int64_t log_offset = 0;      // the log's size right after the kill
  int in_flight = 0;           // tasks started and not ended at the kill
  size_t acked = 0;            // jobs acknowledged before the kill
  absl::Duration serving;      // restart to the port file written
  absl::Duration progress = absl::InfiniteDuration();  // to a finished task
};

// Updates `log` every 2 ms until `ready()` or `timeout`; true if ready.
bool WatchLog(TaskLog& log, const std::function<bool()>& ready,
              absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    log.Update();
    if (ready()) return true;
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(2));
  }
}

// Waits for the moment of `phase`, kills dagd, restarts it; the record.
absl::StatusOr<KillRecord> KillAndRestart(const std::string& phase,
                                          RestartableCluster& cluster,
                                          Submitter& submitter, TaskLog& log,
                                          std::mt19937_64& rng,
                                          absl::Time began) {
  auto uniform = [&rng](int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng);
  };
  KillRecord kill;
  kill.phase = phase;
  absl::SleepFor(absl::Milliseconds(uniform(100, 1200)));  // a random moment
  const absl::Duration phase_timeout = absl::Seconds(20);
  if (phase == "submit") {
    kill.phase_reached = submitter.AwaitNextSubmitCall(phase_timeout);
    absl::SleepFor(absl::Microseconds(uniform(0, 3000)));
  } else if (phase == "run") {
    kill.phase_reached = WatchLog(
        log, [&] { return log.in_flight() > 0; }, phase_timeout);
    absl::SleepFor(absl::Milliseconds(uniform(0, 20)));
  } else {
    const int ends = log.sink_ends();
    kill.phase_reached = WatchLog(
        log, [&] { return log.sink_ends() > ends; }, phase_timeout);
    absl::SleepFor(absl::Milliseconds(uniform(0, 8)));
  }
  if (absl::Status s = cluster.KillDagd(); !s.ok()) return s;
  kill.log_offset = log.SizeOnDisk();
  kill.at = absl::Now() - began;
  kill.acked = submitter.acked_count();
  log.Update();
  kill.in_flight = log.in_flight();

  absl::SleepFor(absl::Milliseconds(uniform(0, 300)));  // dagd stays down
  const absl::Time restart = absl::Now();
  if (absl::Status s = cluster.StartDagd(); !s.ok()) return s;
  kill.serving = absl::Now() - restart;
  if (PollUntil([&] { return cluster.TasksFinishedMetric() > 0; },
                absl::Seconds(30), "a finished task", absl::Milliseconds(5))
          .ok()) {
    kill.progress = absl::Now() - restart;
  }
  return kill;
}

// Polls GetJob until every job has ended or `timeout` passes.
void WaitForJobsToEnd(Client& client, const std::vector<AckedJob>& jobs,
                      absl::Duration timeout) {
  std::vector<const AckedJob*> open;
  for (const AckedJob& job : jobs) open.push_back(&job);
  const absl::Time deadline = absl::Now() + timeout;
  while (!open.empty() && absl::Now() < deadline) {
    std::vector<const AckedJob*> still_open;
    for (const AckedJob* job : open) {
      absl::StatusOr<v1::JobStatus> status = client.Get(job->job_id);
      const bool ended = status.ok() && status->state() != v1::JOB_PENDING &&
                         status->state() != v1::JOB_RUNNING;
      if (!ended) still_open.push_back(job);
    }
    open = std::move(still_open);
    if (!open.empty()) absl::SleepFor(absl::Milliseconds(100));
  }
}

// Every acknowledged job exists, SUCCEEDED, and each task's result is
// right; failures are added to `problems`.
void CheckJobs(Client& client, const std::vector<AckedJob>& jobs,
               std::vector<std::string>& problems) {
  for (const AckedJob& job : jobs) {
    absl::StatusOr<v1::JobStatus> status = client.Get(job.job_id);
    if (!status.ok()) {
      problems.push_back(absl::StrCat("job ", job.job_id, " (", job.plan.tag,
                                      ") lost: ", status.status().ToString()));
      continue;
    }
    if (status->state() != v1::JOB_SUCCEEDED) {
      problems.push_back(absl::StrCat("job ", job.job_id, " (", job.plan.tag,
                                      ") ended ",
                                      v1::JobState_Name(status->state()), ": ",
                                      status->ShortDebugString()));
      continue;
    }
    for (const TaskPlan& task : job.plan.tasks) {
      absl::StatusOr<v1::GetResultResponse> result =
          client.Result(job.job_id, task.id);
      const std::string got =
          result.ok() ? std::string(absl::StripAsciiWhitespace(result->data()))
                      : result.status().ToString();
      if (got != absl::StrCat(task.expected)) {
        problems.push_back(absl::StrCat("job ", job.job_id, " task ", task.id,
                                        ": result ", got, ", want ",
                                        task.expected));
      }
    }
  }
}

// What the task log shows, judged against the kills.
struct LogVerdict {
  int tasks_started = 0;
  int total_starts = 0;
  int reruns = 0;  // tasks started more than once
  int64_t planned_tasks = 0;
  // Tasks whose "end" precedes a kill and that started again after it.
  std::vector<std::string> finished_reruns;
  // Tasks that started more than 1 + (kills that found them running).
  std::vector<std::string> over_bound;
  int over_bound_not_finished_reruns = 0;  // of over_bound
  // Lines of unknown submissions or of a second job for one submission.
  std::vector<std::string> strangers;
  std::vector<std::string> never_started;
};

LogVerdict JudgeLog(const TaskLog& log, const std::vector<AckedJob>& jobs,
                    const std::vector<KillRecord>& kills) {
  LogVerdict verdict;
  std::map<std::string, const AckedJob*> by_tag;
  for (const AckedJob& job : jobs) by_tag[job.plan.tag] = &job;
  std::map<std::string, std::vector<const LogLine*>> starts, ends;
  for (const LogLine& line : log.lines()) {
    auto it = by_tag.find(line.tag);
    if (it == by_tag.end() || it->second->job_id != line.job_id) {
      verdict.strangers.push_back(line.ToString());
    }
    (line.start ? starts : ends)[line.key()].push_back(&line);
  }
  for (const AckedJob& job : jobs) {
    for (const TaskPlan& task : job.plan.tasks) {
      ++verdict.planned_tasks;
      const std::string key = absl::StrCat(job.plan.tag, "/", task.id);
      if (starts[key].empty()) verdict.never_started.push_back(key);
    }
  }
  for (const auto& [key, task_starts] : starts) {
    ++verdict.tasks_started;
    verdict.total_starts += task_starts.size();
    if (task_starts.size() > 1) ++verdict.reruns;
    const int64_t first_start = task_starts.front()->offset;
    const auto& task_ends = ends[key];
    const int64_t first_end =
        task_ends.empty() ? INT64_MAX : task_ends.front()->offset;
    int in_flight_kills = 0;
    bool reported = false;
    for (size_t k = 0; k < kills.size(); ++k) {
      const int64_t at = kills[k].log_offset;
      if (first_start < at && first_end >= at) ++in_flight_kills;
      if (first_end >= at || reported) continue;
      for (const LogLine* start : task_starts) {
        if (start->offset < at) continue;
        verdict.finished_reruns.push_back(
            absl::StrCat(key, ": ", task_ends.front()->ToString(), "; kill #",
                         k + 1, " (", kills[k].phase, ") at log offset ", at,
                         "; then ", start->ToString()));
        reported = true;
        break;
      }
    }
    if (static_cast<int>(task_starts.size()) > 1 + in_flight_kills) {
      std::vector<std::string> lines;
      for (const LogLine* start : task_starts)
        lines.push_back(start->ToString());
      if (!reported) ++verdict.over_bound_not_finished_reruns;
      verdict.over_bound.push_back(absl::StrCat(
          key, ": ", task_starts.size(), " starts, running at ",
          in_flight_kills, " kills", reported ? " (a finished rerun)" : "",
          ": ", absl::StrJoin(lines, "; ")));
    }
  }
  return verdict;
}

std::string Ms(absl::Duration d) {
  if (d == absl::InfiniteDuration()) return "none in 30 s";
  return absl::StrCat(absl::ToInt64Milliseconds(d), " ms");
}

// min / median / max of the finite durations.
std::string Spread(std::vector<absl::Duration> values) {
  values.erase(
      std::remove(values.begin(), values.end(), absl::InfiniteDuration()),
      values.end());
  if (values.empty()) return "n/a";
  std::sort(values.begin(), values.end());
  return absl::StrCat(Ms(values.front()), " / ", Ms(values[values.size() / 2]),
                      " / ", Ms(values.back()));
}

// Up to 12 entries of `items`, one a line, under `title`.
void PrintList(const std::string& title,
               const std::vector<std::string>& items) {
  if (items.empty()) return;
  std::cout << "[fault] " << title << ": " << items.size() << "\n";
  for (size_t i = 0; i < items.size() && i < 12; ++i) {
    std::cout << "[fault]   " << items[i] << "\n";
  }
}

void PrintFigures(uint64_t seed, const std::vector<KillRecord>& kills,
                  const std::vector<AckedJob>& jobs, int64_t jobs_in_dagd,
                  const Submitter& submitter, const LogVerdict& verdict,
                  absl::Duration wall) {
  std::map<std::string, int> phases;
  std::vector<absl::Duration> serving, progress;
  int retried_submissions = 0;
  for (const AckedJob& job : jobs) retried_submissions += job.calls > 1;
  std::cout << "[fault] seed " << seed
            << " (DAGD_FAULT_SEED), --recovery_grace 2s\n";
  for (size_t k = 0; k < kills.size(); ++k) {
    const KillRecord& kill = kills[k];
    ++phases[kill.phase];
    serving.push_back(kill.serving);
    progress.push_back(kill.progress);
    std::cout << "[fault] kill #" << k + 1 << " " << kill.phase
              << (kill.phase_reached ? "" : " (phase wait timed out)") << " at "
              << absl::FormatDuration(
                     absl::Trunc(kill.at, absl::Milliseconds(1)))
              << ": log offset " << kill.log_offset << ", " << kill.in_flight
              << " tasks in flight, " << kill.acked
              << " jobs acked; restart: serving in " << Ms(kill.serving)
              << ", first finished task in " << Ms(kill.progress) << "\n";
  }
  std::vector<std::string> codes;
  for (const auto& [code, n] : submitter.retried_codes()) {
    codes.push_back(absl::StrCat(code, " x", n));
  }
  std::cout << "[fault] figures: kills " << kills.size() << " (submit "
            << phases["submit"] << ", run " << phases["run"] << ", end "
            << phases["end"] << "); jobs acknowledged " << jobs.size()
            << " (in dagd " << jobs_in_dagd << "); tasks "
            << verdict.planned_tasks << "; total starts "
            << verdict.total_starts << "; tasks rerun " << verdict.reruns
            << "; reruns of tasks finished before a kill "
            << verdict.finished_reruns.size() << "; tasks over the start bound "
            << verdict.over_bound.size() << " ("
            << verdict.over_bound_not_finished_reruns
            << " of them not finished reruns); submissions retried "
            << retried_submissions
            << " (failed calls: " << absl::StrJoin(codes, ", ")
            << "; first failure to ack " << Spread(submitter.outages())
            << "); recovery min/median/max: serving " << Spread(serving)
            << ", first finished task " << Spread(progress) << "; wall time "
            << absl::FormatDuration(absl::Trunc(wall, absl::Milliseconds(1)))
            << "\n";
  PrintList("errors of retried submissions", submitter.retry_messages());
  PrintList("reruns of tasks that had finished before a kill",
            verdict.finished_reruns);
  PrintList("tasks started more often than 1 + kills that found them running",
            verdict.over_bound);
  PrintList("log lines of no acknowledged job", verdict.strangers);
  PrintList("tasks of acknowledged jobs that never started",
            verdict.never_started);
}

// Jobs dagd lists, all pages.
absl::StatusOr<int64_t> CountJobs(Client& client) {
  int64_t count = 0;
  std::string token;
  do {
    absl::StatusOr<v1::ListJobsResponse> page = client.ListJobs(1000, token);
    if (!page.ok()) return page.status();
    count += page->jobs_size();
    token = page->next_page_token();
  } while (!token.empty());
  return count;
}

TEST(CrashTest, KillDagdAtRandomPoints) {
  const absl::Time began = absl::Now();
  const uint64_t seed = static_cast<uint64_t>(
      EnvInt("DAGD_FAULT_SEED", absl::ToUnixMicros(began) % 1000000007));
  const int kill_count = static_cast<int>(EnvInt("DAGD_FAULT_KILLS", 24));
  std::cout << "[fault] seed " << seed << "\n";
  std::mt19937_64 rng(seed);

  absl::StatusOr<std::unique_ptr<RestartableCluster>> made =
      RestartableCluster::Create({"--recovery_grace=2s"});
  ASSERT_TRUE(made.ok()) << made.status();
  RestartableCluster& cluster = **made;
  ASSERT_EQ(cluster.StartDagd(), absl::OkStatus());
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(cluster.StartWorker({"--slots=3", "--allow_exec",
                                   absl::StrCat("--name=w", i),
                                   "--drain_timeout=60s"}),
              absl::OkStatus());
  }

  TaskLog log(cluster.log_path());
  Submitter submitter(cluster.address(), cluster.log_path(), seed + 1);
  submitter.Start();
  std::vector<std::string> phases;
  for (int k = 0; k < kill_count; ++k) {
    phases.push_back(k % 3 == 0 ? "submit" : k % 3 == 1 ? "run" : "end");
  }
  std::shuffle(phases.begin(), phases.end(), rng);
  std::vector<KillRecord> kills;
  for (const std::string& phase : phases) {
    absl::StatusOr<KillRecord> kill =
        KillAndRestart(phase, cluster, submitter, log, rng, began);
    ASSERT_TRUE(kill.ok()) << kill.status();
    kills.push_back(*kill);
  }
  submitter.Stop();
  const std::vector<AckedJob> jobs = submitter.acked();

  std::unique_ptr<Client> client =
      FastReconnectClient(cluster.address(), CallTimeout(absl::Seconds(10)));
  WaitForJobsToEnd(*client, jobs, absl::Minutes(3));
  std::vector<std::string> problems;
  CheckJobs(*client, jobs, problems);
  absl::StatusOr<int64_t> jobs_in_dagd = CountJobs(*client);
  EXPECT_TRUE(jobs_in_dagd.ok()) << jobs_in_dagd.status();
  // Drained workers have ended every attempt they ran: the log is complete.
  EXPECT_EQ(cluster.StopWorkers(), absl::OkStatus());
  log.Update();
  const LogVerdict verdict = JudgeLog(log, jobs, kills);
  PrintFigures(seed, kills, jobs, jobs_in_dagd.value_or(-1), submitter, verdict,
               absl::Now() - began);
  PrintList("job problems", problems);

  EXPECT_GE(kills.size(), 20u);
  EXPECT_THAT(submitter.errors(), ::testing::IsEmpty());
  EXPECT_THAT(problems, ::testing::IsEmpty());
  EXPECT_EQ(jobs_in_dagd.value_or(-1), static_cast<int64_t>(jobs.size()))
      << "dagd holds jobs no submission was acknowledged for (duplicates)";
  EXPECT_THAT(verdict.finished_reruns, ::testing::IsEmpty())
      << "tasks that had finished before a kill ran again after it";
  EXPECT_THAT(verdict.over_bound, ::testing::IsEmpty())
      << "tasks ran more than once more than their in-flight attempts";
  EXPECT_THAT(verdict.strangers, ::testing::IsEmpty());
  EXPECT_THAT(verdict.never_started, ::testing::IsEmpty());
  EXPECT_THAT(log.malformed(), ::testing::IsEmpty());
  EXPECT_EQ(cluster.StopDagd(), absl::OkStatus());
  if (::testing::Test::HasFailure()) {
    cluster.KeepFiles();
    std::cout << "[fault] logs, task log and data kept in " << cluster.dir()
              << "\n";
  }
}

// c0 = 41 -> c1 = c0 + 1 (the one made slow) -> c2 = c1 + 1000.
JobPlan SlowChainPlan(const std::string& tag) {
  JobPlan plan;
  plan.tag = tag;
  plan.shape = "chain";
  plan.tasks = {{"c0", {}, 41, 41, false},
                {"c1", {"c0"}, 1, 42, false},
                {"c2", {"c1"}, 1000, 1042, true}};
  return plan;
}

// Makes task `index` of a spec built by BuildJobSpec sleep `seconds`
// between its start and end lines (its S1 variable).
void SetSleepSeconds(v1::JobSpec& spec, int index, const std::string& seconds) {
  (*spec.mutable_tasks(index)
        ->mutable_args()
        ->mutable_struct_value()
        ->mutable_fields())["env"]
      .mutable_struct_value()
      ->mutable_fields()
      ->at("S1")
      .set_string_value(seconds);
}

TEST(WorkerKillTest, JobFinishesOnTheOtherWorker) {
  std::unique_ptr<DagdProcess> dagd = StartDagd({});
  ASSERT_NE(dagd, nullptr);
  std::vector<Subprocess*> workers;
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<Subprocess*> worker = dagd->StartWorker(
        {"--slots=2", "--allow_exec", absl::StrCat("--name=w", i)});
    ASSERT_TRUE(worker.ok()) << worker.status();
    workers.push_back(*worker);
  }
  ASSERT_EQ(dagd->WaitForWorkers(2), absl::OkStatus());
  absl::StatusOr<std::unique_ptr<TempDir>> dir = TempDir::Create("dagd-wk-");
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string log_path = (*dir)->path() + "/tasks.log";

  // 41 -> +1 (sleeps 1 s) -> +1000.
  const JobPlan plan = SlowChainPlan("wk");
  std::mt19937_64 rng(1);
  absl::StatusOr<v1::JobSpec> spec = BuildJobSpec(plan, log_path, rng);
  ASSERT_TRUE(spec.ok()) << spec.status();
  SetSleepSeconds(*spec, 1, "1.0");
  absl::StatusOr<std::string> job_id = dagd->client().Submit(*spec, "wk");
  ASSERT_TRUE(job_id.ok()) << job_id.status();

  TaskLog log(log_path);
  auto slow_starts = [&log] {
    std::vector<LogLine> starts;
    for (const LogLine& line : log.lines()) {
      if (line.start && line.task == "c1") starts.push_back(line);
    }
    return starts;
  };
  ASSERT_TRUE(WatchLog(
      log, [&] { return !slow_starts().empty(); }, absl::Seconds(30)))
      << "c1 never started";
  const int64_t running_on = slow_starts().front().worker_pid;
  auto victim =
      std::find_if(workers.begin(), workers.end(),
                   [&](Subprocess* w) { return w->pid() == running_on; });
  ASSERT_NE(victim, workers.end())
      << "c1 runs under pid " << running_on << ", no worker of the test";
  Subprocess* survivor = workers[victim == workers.begin() ? 1 : 0];
  (*victim)->Kill(SIGKILL);
  ASSERT_TRUE((*victim)->Wait(absl::Seconds(10)).ok());

  ASSERT_EQ(WaitForJobState(dagd->client(), *job_id, v1::JOB_SUCCEEDED,
                            absl::Seconds(60)),
            absl::OkStatus());
  for (const TaskPlan& task : plan.tasks) {
    absl::StatusOr<v1::GetResultResponse> result =
        dagd->client().Result(*job_id, task.id);
    ASSERT_TRUE(result.ok()) << task.id << ": " << result.status();
    EXPECT_EQ(absl::StripAsciiWhitespace(result->data()),
              absl::StrCat(task.expected))
        << task.id;
  }
  log.Update();
  const std::vector<LogLine> starts = slow_starts();
  ASSERT_EQ(starts.size(), 2u);
  EXPECT_EQ(starts[1].worker_pid, survivor->pid());
  EXPECT_GT(starts[1].attempt, starts[0].attempt);
  int other_starts = 0;
  for (const LogLine& line : log.lines()) {
    other_starts += line.start && line.task != "c1";
  }
  EXPECT_EQ(other_starts, 2) << "c0 and c2 run once each";
  std::cout << "[fault] worker kill: c1 started on pid " << starts[0].worker_pid
            << " (killed), again as attempt " << starts[1].attempt << " on pid "
            << starts[1].worker_pid << "; job " << *job_id
            << " SUCCEEDED with 1042\n";
  EXPECT_EQ(dagd->Stop(), absl::OkStatus());
}

// A worker finishes a task while dagd is down; after the restart it reports
// the result and the task is not run again. With --recovery_grace=0s the
// restarted dagd would hand the ready task straight out if the worker's
// Register did not list it, so the single start is not a matter of timing.
TEST(WorkerOutlivesDagdTest, TaskFinishedWhileDagdWasDownIsNotRunAgain) {
  absl::StatusOr<std::unique_ptr<RestartableCluster>> made =
      RestartableCluster::Create({"--recovery_grace=0s"});
  ASSERT_TRUE(made.ok()) << made.status();
  RestartableCluster& cluster = **made;
  ASSERT_EQ(cluster.StartDagd(), absl::OkStatus());
  ASSERT_EQ(cluster.StartWorker({"--slots=2", "--allow_exec", "--name=w0"}),
            absl::OkStatus());
  std::unique_ptr<Client> client =
      FastReconnectClient(cluster.address(), ClientOptions());

  // 41 -> +1 (sleeps 1.5 s) -> +1000.
  const JobPlan plan = SlowChainPlan("down");
  std::mt19937_64 rng(1);
  absl::StatusOr<v1::JobSpec> spec =
      BuildJobSpec(plan, cluster.log_path(), rng);
  ASSERT_TRUE(spec.ok()) << spec.status();
  SetSleepSeconds(*spec, 1, "1.5");
  absl::StatusOr<std::string> job_id = client->Submit(*spec, "down");
  ASSERT_TRUE(job_id.ok()) << job_id.status();

  TaskLog log(cluster.log_path());
  auto lines_of = [&log](const std::string& task, bool start) {
    int n = 0;
    for (const LogLine& line : log.lines()) {
      n += line.task == task && line.start == start;
    }
    return n;
  };
  ASSERT_TRUE(WatchLog(
      log, [&] { return lines_of("c1", true) > 0; }, absl::Seconds(30)))
      << "c1 never started";
  ASSERT_EQ(cluster.KillDagd(), absl::OkStatus());
  ASSERT_TRUE(WatchLog(
      log, [&] { return lines_of("c1", false) > 0; }, absl::Seconds(30)))
      << "c1 did not finish while dagd was down";
  ASSERT_EQ(cluster.StartDagd(), absl::OkStatus());

  ASSERT_EQ(
      WaitForJobState(*client, *job_id, v1::JOB_SUCCEEDED, absl::Seconds(60)),
      absl::OkStatus());
  absl::StatusOr<v1::GetResultResponse> result = client->Result(*job_id, "c2");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(absl::StripAsciiWhitespace(result->data()), "1042");
  log.Update();
  for (const char* task : {"c0", "c1", "c2"}) {
    EXPECT_EQ(lines_of(task, true), 1) << task << " ran more than once";
  }
  absl::StatusOr<v1::TaskStatus> c1 = client->Task(*job_id, "c1");
  ASSERT_TRUE(c1.ok()) << c1.status();
  ASSERT_EQ(c1->attempts_size(), 1);
  EXPECT_EQ(c1->attempts(0).worker(), "w0");
  EXPECT_EQ(cluster.StopWorkers(), absl::OkStatus());
  EXPECT_EQ(cluster.StopDagd(), absl::OkStatus());
}

}  // namespace
}  // namespace dagd::testing
