// dagbench: measures dagd end to end on fixed graph shapes.
//
// Each shape is built in code with JobBuilder (outside the timed section),
// then timed from just before Submit to when Wait returns, and its result is
// checked: a benchmark that measures a wrong answer measures nothing. One line
// per run goes to stdout:
//
//   dagd SHAPE tasks=N seconds=S tasks_per_s=R [shape-specific fields]
//
// and, with --repeat=N > 1, a final `dagd SHAPE median ...` line per shape.
// One unmeasured one-task job runs first (connection set-up).
// Progress and errors go to stderr. Exit code 1 when a job fails or its
// result is wrong, 2 on bad flags, 3 when the server is unreachable.
//
// The shapes (see --help):
//   tree     1,024 const leaves summed pairwise by 1,023 adds (523776)
//   tree100  the same with 100 ms sleep adds
//   wide     10,000 const tasks, then one add of all of them (10000)
//   chain    1,000 adds, each adding 1 to the previous one (1000)
//   sync     200 one-task jobs, each submitted and awaited before the next
//   big      one job of --big_chains (1,000) chains of 1,000 tasks (const,
//            then identities)
//   bytes    one `bytes` task of --bytes_size (1 GiB) in pool a, consumed
//            by one `checksum` task in pool b: the result moves between two
//            workers. Reports bytes=, transfer_s= (the consumer's worker's
//            fetch time, from its heartbeats) and gb_s= (bytes / transfer_s,
//            10^9 bytes per second)
//   shuffle  8 producers x 8 consumers: producer i makes its 8 pieces of
//            --shuffle_piece_size (8 MiB) as 8 `bytes` tasks (producers 0-3
//            in pool a, 4-7 in pool b); consumer j is a `checksum` of piece
//            j of every producer, placed by dagd
//
// bytes and shuffle need two workers, in pools `a` and `b` (compare.sh
// starts them so); their answers are checked against the size and CRC-32C
// dagd recorded for each piece where it was made.
//
// --background_list=N measures what reading a big finished job costs the
// others: it first runs one job of N independent const tasks, then each
// sync run twice, idle and while another client (a thread with a channel
// of its own) lists that job's tasks with ListTasks again and again. The
// second runs until 3 lists completed beside it (200 jobs at least) and
// prints `dagd sync_listing ...` with the lists and their mean seconds.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/bench/dagbench_shapes.h"
#include "client/client.h"
#include "client/job_builder.h"

ABSL_FLAG(std::string, server, "127.0.0.1:7700", "the dagd to measure");
ABSL_FLAG(std::string, shape, "tree,tree100,wide,chain,sync",
          "comma-separated shapes to run, in this order: tree, tree100, "
          "wide, chain, sync, big, bytes, shuffle (big, bytes and shuffle are "
          "not in the default set; bytes and shuffle need workers in pools a "
          "and b)");
ABSL_FLAG(int, repeat, 1,
          "runs of each shape; above 1, a median line follows each shape");
ABSL_FLAG(int, coordinator_pid, 0,
          "pid of the dagd process; if set, big reports its peak RSS "
          "(VmHWM from /proc/PID/status)");
ABSL_FLAG(int, wait_workers, 0,
          "before measuring, wait until this many workers are connected");
ABSL_FLAG(absl::Duration, call_timeout, absl::Minutes(10),
          "deadline of each unary call (Submit of a big job takes a while)");
ABSL_FLAG(absl::Duration, poll_interval, absl::ZeroDuration(),
          "0: wait with Client::Wait (a WatchJob stream, which carries every "
          "task event); above 0: poll GetJob this often instead, to see what "
          "the event stream costs");
ABSL_FLAG(absl::Duration, job_timeout, absl::Minutes(30),
          "deadline of waiting for one job");
ABSL_FLAG(int64_t, bytes_size, int64_t{1} << 30,
          "bytes: the size of the result moved between the two workers");
ABSL_FLAG(int64_t, shuffle_piece_size, int64_t{8} << 20,
          "shuffle: the size of each of the 64 pieces");
ABSL_FLAG(int, big_chains, 1000,
          "big: chains of 1,000 tasks in the job (10000: ten million tasks, "
          "which a dagd takes with --max_tasks_per_job and --max_job_bytes "
          "raised)");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA certificates of dagd's --tls_cert: set, dagbench speaks "
          "TLS and checks dagd against them");
ABSL_FLAG(std::string, token, "",
          "bearer token for a dagd with --tokens_file (default: $DAGD_TOKEN)");
ABSL_FLAG(int, background_list, 0,
          "above 0 (300000, say): run a job of this many const tasks first, "
          "then run the sync shape both idle and while another client lists "
          "that finished job's tasks in a loop (a `sync_listing` line)");

namespace dagd {
namespace {

// One run's measurement.
struct Run {
  int64_t tasks = 0;
  double seconds = 0;
  // Latencies of the sync shape's jobs, in milliseconds.
  std::vector<double> job_ms;
  // big: seconds of the Submit call alone.
  double submit_seconds = 0;
  // bytes: seconds the workers spent fetching, by their heartbeats.
  double transfer_seconds = 0;
};

// The job must have succeeded and each expected result must match.
absl::Status CheckJob(Client& client, const std::string& job_id,
                      const v1::JobStatus& final_status, const Shape& shape) {
  if (final_status.state() != v1::JOB_SUCCEEDED) {
    std::string why;
    for (const v1::TaskNote& note : final_status.failures()) {
      absl::StrAppend(&why, "\n  ", note.ShortDebugString());
    }
    return absl::InternalError(
        absl::StrCat("job ", job_id, " (", shape.name, ") ended ",
                     v1::JobState_Name(final_status.state()), why));
  }
  std::vector<std::pair<std::string, std::string>> expected = shape.expected;
  if (shape.expected_after != nullptr) {
    absl::StatusOr<std::vector<std::pair<std::string, std::string>>> more =
        shape.expected_after(client, job_id);
    if (!more.ok()) return more.status();
    expected.insert(expected.end(), more->begin(), more->end());
  }
  for (const auto& [task, want] : expected) {
    absl::StatusOr<v1::GetResultResponse> result = client.Result(job_id, task);
    if (!result.ok()) return result.status();
    const std::string got(absl::StripAsciiWhitespace(result->data()));
    if (got != want) {
      return absl::InternalError(absl::StrCat(
          "WRONG RESULT: job ", job_id, " (", shape.name, ") task ", task,
          " is '", got, "', expected '", want, "'"));
    }
  }
  return absl::OkStatus();
}

// Client::Wait, or GetJob polls every --poll_interval until the job ends.
absl::StatusOr<v1::JobStatus> WaitForJob(Client& client,
                                         const std::string& job_id) {
  const absl::Duration interval = absl::GetFlag(FLAGS_poll_interval);
  if (interval <= absl::ZeroDuration()) return client.Wait(job_id);
  const absl::Time deadline = absl::Now() + absl::GetFlag(FLAGS_job_timeout);
  while (true) {
    absl::StatusOr<v1::JobStatus> status = client.Get(job_id);
    if (!status.ok()) return status.status();
    const v1::JobState state = status->state();
    if (state != v1::JOB_PENDING && state != v1::JOB_RUNNING) return status;
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("job ", job_id, " still running after --job_timeout"));
    }
    absl::SleepFor(interval);
  }
}

// Submits `spec`, waits for it, checks it; returns the seconds from just
// before the SubmitJob call to when Wait returned, and the call's own in
// `submit_seconds`. The request is made before the clock starts: copying a
// ten-million-task spec into it takes the client seconds, and that is not
// dagd's time.
absl::StatusOr<double> RunJob(Client& client, const v1::JobSpec& spec,
                              const Shape& shape, double* submit_seconds) {
  v1::SubmitJobRequest request;
  *request.mutable_job() = spec;
  const absl::Time start = absl::Now();
  absl::StatusOr<v1::SubmitJobResponse> response = client.SubmitJob(request);
  if (!response.ok()) return response.status();
  const std::string& job_id = response->job_id();
  const absl::Time submitted = absl::Now();
  absl::StatusOr<v1::JobStatus> final_status = WaitForJob(client, job_id);
  const absl::Time end = absl::Now();
  if (!final_status.ok()) return final_status.status();
  if (submit_seconds != nullptr) {
    *submit_seconds = absl::ToDoubleSeconds(submitted - start);
  }
  absl::Status checked = CheckJob(client, job_id, *final_status, shape);
  if (!checked.ok()) return checked;
  return absl::ToDoubleSeconds(end - start);
}

// Submits `spec` and waits for it in one call, as a client running one
// small job at a time would; returns the seconds that call took.
absl::StatusOr<double> RunJobInOneCall(Client& client, const v1::JobSpec& spec,
                                       const Shape& shape) {
  const absl::Time start = absl::Now();
  absl::StatusOr<v1::SubmitJobResponse> done = client.SubmitAndWait(spec);
  const absl::Time end = absl::Now();
  if (!done.ok()) return done.status();
  absl::Status checked =
      CheckJob(client, done->job_id(), done->final_status(), shape);
  if (!checked.ok()) return checked;
  return absl::ToDoubleSeconds(end - start);
}

// Another client reading a big finished job: ListTasks of it in a loop, on
// a channel of its own, until Stop. Each answer is checked (all tasks, all
// succeeded): a benchmark that measures a wrong answer measures nothing.
class BackgroundLister {
 public:
  BackgroundLister(const std::string& server, const ClientOptions& options,
                   std::string job_id, int tasks)
      : client_(Client::Connect(server, options)),
        job_id_(std::move(job_id)),
        tasks_(tasks) {}
  ~BackgroundLister() { Stop().IgnoreError(); }

  void Start() {
    stop_ = false;
    lists_ = 0;
    list_seconds_ = 0;
    error_ = absl::OkStatus();
    thread_ = std::thread([this] { Loop(); });
  }
  // Ends after the list in progress; its first error, if any.
  absl::Status Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return error_;
  }
  // Lists completed since Start (any thread).
  int lists() const { return lists_; }
  double mean_list_seconds() const {
    return lists_ > 0 ? list_seconds_ / lists_ : 0;
  }

 private:
  void Loop() {
    while (!stop_) {
      const absl::Time start = absl::Now();
      absl::StatusOr<v1::ListTasksResponse> listed =
          client_->ListTasks(job_id_);
      if (!listed.ok()) {
        error_ = listed.status();
        return;
      }
      if (listed->tasks_size() != tasks_ ||
          listed->tasks(tasks_ - 1).state() != v1::TASK_SUCCEEDED) {
        error_ = absl::InternalError(absl::StrCat(
            "WRONG ANSWER: ListTasks of ", job_id_, " gave ",
            listed->tasks_size(), " tasks, expected ", tasks_, " succeeded"));
        return;
      }
      // Counted only when whole: the sync run overlapped it all along.
      if (stop_) return;
      ++lists_;
      list_seconds_ += absl::ToDoubleSeconds(absl::Now() - start);
    }
  }

  const std::unique_ptr<Client> client_;
  const std::string job_id_;
  const int tasks_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::atomic<int> lists_{0};
  // Written by the thread, read after Stop() joined it.
  double list_seconds_ = 0;
  absl::Status error_;
};

// Runs a job of `tasks` independent const tasks to its end; its id.
absl::StatusOr<std::string> RunListedJob(Client& client, int tasks) {
  JobBuilder job("bench-listed");
  for (int i = 0; i < tasks; ++i) {
    job.Task(absl::StrCat("c", i), "const").Arg("value", 1);
  }
  absl::StatusOr<v1::JobSpec> spec = job.Build();
  if (!spec.ok()) return spec.status();
  absl::StatusOr<v1::SubmitJobResponse> done = client.SubmitAndWait(*spec);
  if (!done.ok()) return done.status();
  if (done->final_status().state() != v1::JOB_SUCCEEDED) {
    return absl::InternalError(
        absl::StrCat("the job to list, ", done->job_id(), ", ended ",
                     v1::JobState_Name(done->final_status().state())));
  }
  return done->job_id();
}

// Under listing, sync jobs run until at least this many lists completed
// beside them (and at least kSyncJobs ran), so that they meet every part of
// a list: the read, the encoding, the sending.
constexpr int kMinLists = 3;

// What the workers reported fetching from each other (ListWorkers, as of
// their last heartbeats), summed over the workers.
struct Transfers {
  uint64_t fetched_bytes = 0;
  double seconds = 0;
};

absl::StatusOr<Transfers> ReadTransfers(Client& client) {
  absl::StatusOr<v1::ListWorkersResponse> workers = client.ListWorkers();
  if (!workers.ok()) return workers.status();
  Transfers sum;
  for (const v1::WorkerInfo& worker : workers->workers()) {
    sum.fetched_bytes += worker.fetched_bytes();
    sum.seconds += worker.transfer_seconds();
  }
  return sum;
}

// The workers' figures once two reads 1.5 s apart agree: what they
// fetched before is all reported (dagd_lib.sh's workers heartbeat every
// second), so none of it is counted in the next run.
absl::StatusOr<Transfers> SettledTransfers(Client& client) {
  absl::StatusOr<Transfers> last = ReadTransfers(client);
  for (int i = 0; i < 20 && last.ok(); ++i) {
    absl::SleepFor(absl::Milliseconds(1500));
    absl::StatusOr<Transfers> now = ReadTransfers(client);
    if (!now.ok()) return now.status();
    if (now->fetched_bytes == last->fetched_bytes &&
        now->seconds == last->seconds) {
      return now;
    }
    last = now;
  }
  return last;
}

// The seconds spent fetching since `before`, once the workers' heartbeats
// show `bytes` more fetched (at most a minute).
absl::StatusOr<double> TransferSecondsSince(Client& client,
                                            const Transfers& before,
                                            uint64_t bytes) {
  const absl::Time deadline = absl::Now() + absl::Minutes(1);
  while (true) {
    absl::StatusOr<Transfers> now = ReadTransfers(client);
    if (!now.ok()) return now.status();
    if (now->fetched_bytes >= before.fetched_bytes + bytes) {
      return now->seconds - before.seconds;
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "the workers reported fetching ",
          now->fetched_bytes - before.fetched_bytes, " bytes of ", bytes,
          " a minute after the job ended (are the producer and the consumer "
          "on different workers, in pools a and b?)"));
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
}

absl::StatusOr<Run> RunShape(Client& client, const Shape& shape,
                             const BackgroundLister* lister = nullptr) {
  absl::StatusOr<v1::JobSpec> spec = shape.build();
  if (!spec.ok()) return spec.status();
  Run run;
  if (shape.name == "sync") {
    for (int i = 0;
         i < kSyncJobs || (lister != nullptr && lister->lists() < kMinLists);
         ++i) {
      ++run.tasks;
      absl::StatusOr<double> seconds = RunJobInOneCall(client, *spec, shape);
      if (!seconds.ok()) return seconds.status();
      run.seconds += *seconds;
      run.job_ms.push_back(*seconds * 1e3);
    }
    return run;
  }
  run.tasks = spec->tasks_size();
  absl::StatusOr<Transfers> before = Transfers{};
  if (shape.moved_bytes > 0) before = SettledTransfers(client);
  if (!before.ok()) return before.status();
  absl::StatusOr<double> seconds =
      RunJob(client, *spec, shape, &run.submit_seconds);
  if (!seconds.ok()) return seconds.status();
  run.seconds = *seconds;
  if (shape.moved_bytes > 0) {
    absl::StatusOr<double> transfer =
        TransferSecondsSince(client, *before, shape.moved_bytes);
    if (!transfer.ok()) return transfer.status();
    run.transfer_seconds = *transfer;
  }
  return run;
}

// Nearest-rank percentile of `values` (0 < p <= 100).
double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t rank = static_cast<size_t>(p / 100.0 * values.size() + 0.999999);
  rank = std::clamp<size_t>(rank, 1, values.size());
  return values[rank - 1];
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// VmHWM of `pid` in MiB, or nullopt when it cannot be read.
std::optional<double> PeakRssMb(int pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view rest = line;
    if (!absl::ConsumePrefix(&rest, "VmHWM:")) continue;
    rest = absl::StripAsciiWhitespace(rest);
    absl::ConsumeSuffix(&rest, "kB");
    int64_t kb = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(rest), &kb)) {
      return kb / 1024.0;
    }
  }
  return std::nullopt;
}

// bytes=, transfer_s= and gb_s= (10^9 bytes per second of fetching).
std::string TransferFields(uint64_t bytes, double transfer_seconds) {
  return absl::StrFormat(
      " bytes=%d transfer_s=%.4f gb_s=%.3f", bytes, transfer_seconds,
      transfer_seconds > 0 ? bytes / transfer_seconds / 1e9 : 0.0);
}

// The fields after `dagd SHAPE [median] `.
std::string Fields(const std::string& shape, int64_t tasks, double seconds,
                   const std::vector<double>& job_ms, double submit_seconds,
                   uint64_t moved_bytes, double transfer_seconds) {
  std::string out =
      absl::StrFormat("tasks=%d seconds=%.4f tasks_per_s=%.1f", tasks, seconds,
                      seconds > 0 ? tasks / seconds : 0.0);
  if (shape == "chain") {
    absl::StrAppendFormat(&out, " us_per_hop=%.1f", seconds * 1e6 / tasks);
  } else if (shape == "sync" || shape == "sync_listing") {
    // A client waits for each job before the next, so a stall of the
    // coordinator delays one job however long it lasts: the percentiles
    // hide it, the mean and the maximum show it.
    absl::StrAppendFormat(
        &out, " p50_ms=%.3f p99_ms=%.3f mean_ms=%.3f max_ms=%.3f",
        Percentile(job_ms, 50), Percentile(job_ms, 99),
        tasks > 0 ? seconds * 1e3 / tasks : 0.0, Percentile(job_ms, 100));
  } else if (moved_bytes > 0) {
    absl::StrAppend(&out, TransferFields(moved_bytes, transfer_seconds));
  } else if (shape == "big") {
    absl::StrAppendFormat(&out, " submit_seconds=%.3f", submit_seconds);
    const int pid = absl::GetFlag(FLAGS_coordinator_pid);
    if (pid > 0) {
      if (std::optional<double> mb = PeakRssMb(pid)) {
        absl::StrAppendFormat(&out, " coordinator_peak_rss_mb=%.1f", *mb);
      } else {
        std::cerr << "dagbench: cannot read VmHWM of pid " << pid << "\n";
      }
    }
  }
  return out;
}

absl::Status WaitForWorkers(Client& client, int want) {
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  size_t have = 0;
  while (absl::Now() < deadline) {
    absl::StatusOr<v1::ListWorkersResponse> workers = client.ListWorkers();
    if (workers.ok()) {
      have = workers->workers_size();
      if (static_cast<int>(have) >= want) return absl::OkStatus();
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::UnavailableError(absl::StrCat("only ", have, " of ", want,
                                             " workers connected after 60 s"));
}

// A shape's runs, for its median line.
// Under listing, sync runs differ in their number of jobs.
struct Series {
  std::string name;
  std::vector<double> tasks, seconds, rates, p50s, p99s, means, maxes,
      transfer_seconds;
  uint64_t moved_bytes = 0;
};

// Runs `shape` once (while `lister` lists, if given), prints its line and
// adds it to `series`; an exit code, 0 when it went well.
int RunAndPrint(Client& client, const Shape& shape, BackgroundLister* lister,
                Series& series) {
  if (lister != nullptr) lister->Start();
  absl::StatusOr<Run> run = RunShape(client, shape, lister);
  absl::Status listed = lister != nullptr ? lister->Stop() : absl::OkStatus();
  if (run.ok() && !listed.ok()) run = listed;
  if (!run.ok()) {
    std::cerr << "dagbench: " << series.name << ": " << run.status() << "\n";
    return absl::IsUnavailable(run.status()) ? 3 : 1;
  }
  series.tasks.push_back(run->tasks);
  series.seconds.push_back(run->seconds);
  series.rates.push_back(run->seconds > 0 ? run->tasks / run->seconds : 0);
  series.p50s.push_back(Percentile(run->job_ms, 50));
  series.p99s.push_back(Percentile(run->job_ms, 99));
  series.means.push_back(run->seconds * 1e3 / std::max<int64_t>(run->tasks, 1));
  series.maxes.push_back(Percentile(run->job_ms, 100));
  series.transfer_seconds.push_back(run->transfer_seconds);
  series.moved_bytes = shape.moved_bytes;
  std::string line = absl::StrCat(
      "dagd ", series.name, " ",
      Fields(series.name, run->tasks, run->seconds, run->job_ms,
             run->submit_seconds, shape.moved_bytes, run->transfer_seconds));
  if (lister != nullptr) {
    absl::StrAppendFormat(&line, " lists=%d list_seconds=%.3f", lister->lists(),
                          lister->mean_list_seconds());
  }
  std::cout << line << std::endl;
  return 0;
}

// `dagd NAME median ...`; with `idle`, the p50 and p99 as multiples of its.
void PrintMedian(const Series& series, const Series* idle = nullptr) {
  const double seconds = Median(series.seconds);
  const double tasks = Median(series.tasks);
  std::string line =
      absl::StrFormat("dagd %s median tasks=%.0f seconds=%.4f tasks_per_s=%.1f",
                      series.name, tasks, seconds, Median(series.rates));
  if (series.name == "chain") {
    absl::StrAppendFormat(&line, " us_per_hop=%.1f", seconds * 1e6 / tasks);
  } else if (series.moved_bytes > 0) {
    absl::StrAppend(&line, TransferFields(series.moved_bytes,
                                          Median(series.transfer_seconds)));
  } else if (series.name == "sync" || series.name == "sync_listing") {
    absl::StrAppendFormat(&line,
                          " p50_ms=%.3f p99_ms=%.3f mean_ms=%.3f max_ms=%.3f",
                          Median(series.p50s), Median(series.p99s),
                          Median(series.means), Median(series.maxes));
  }
  if (idle != nullptr && Median(idle->p50s) > 0 && Median(idle->p99s) > 0) {
    absl::StrAppendFormat(
        &line, " p50_vs_idle=%.2f p99_vs_idle=%.2f mean_vs_idle=%.2f",
        Median(series.p50s) / Median(idle->p50s),
        Median(series.p99s) / Median(idle->p99s),
        Median(series.means) / Median(idle->means));
  }
  std::cout << line << std::endl;
}

int Main(const std::vector<Shape>& shapes) {
  ClientOptions options;
  options.call_timeout = absl::GetFlag(FLAGS_call_timeout);
  options.watch_timeout = absl::GetFlag(FLAGS_job_timeout);
  options.token = absl::GetFlag(FLAGS_token);
  if (const char* env = std::getenv("DAGD_TOKEN");
      options.token.empty() && env != nullptr) {
    options.token = env;
  }
  if (absl::Status s = CheckToken(options.token); !s.ok()) {
    std::cerr << "dagbench: --token (or $DAGD_TOKEN): " << s.message() << "\n";
    return 2;
  }
  if (std::string ca = absl::GetFlag(FLAGS_tls_ca); !ca.empty()) {
    std::ifstream in(ca);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in || text.str().empty()) {
      std::cerr << "dagbench: --tls_ca: cannot read '" << ca << "'\n";
      return 2;
    }
    options.tls = true;
    options.tls_root_certs = text.str();
  }
  std::unique_ptr<Client> client =
      Client::Connect(absl::GetFlag(FLAGS_server), options);
  if (const int want = absl::GetFlag(FLAGS_wait_workers); want > 0) {
    if (absl::Status s = WaitForWorkers(*client, want); !s.ok()) {
      std::cerr << "dagbench: " << s.message() << "\n";
      return 3;
    }
  }
  // One unmeasured job first, so no shape pays for connection set-up.
  if (std::optional<Shape> warm = FindShape("sync", ShapeSizes())) {
    absl::StatusOr<v1::JobSpec> spec = warm->build();
    absl::StatusOr<double> seconds =
        spec.ok() ? RunJob(*client, *spec, *warm, nullptr)
                  : absl::StatusOr<double>(spec.status());
    if (!seconds.ok()) {
      std::cerr << "dagbench: warm-up job: " << seconds.status() << "\n";
      return absl::IsUnavailable(seconds.status()) ? 3 : 1;
    }
  }
  // The job another client lists while sync runs, made before any timing.
  std::unique_ptr<BackgroundLister> lister;
  if (const int n = absl::GetFlag(FLAGS_background_list); n > 0) {
    std::cerr << "dagbench: running the " << n << "-task job to list\n";
    absl::StatusOr<std::string> listed = RunListedJob(*client, n);
    if (!listed.ok()) {
      std::cerr << "dagbench: " << listed.status() << "\n";
      return absl::IsUnavailable(listed.status()) ? 3 : 1;
    }
    lister = std::make_unique<BackgroundLister>(absl::GetFlag(FLAGS_server),
                                                options, *listed, n);
  }
  const int repeat = absl::GetFlag(FLAGS_repeat);
  for (const Shape& shape : shapes) {
    // Under listing, each sync run is followed by one while the job lists.
    const bool with_listing = lister != nullptr && shape.name == "sync";
    Series idle, listing;
    idle.name = shape.name;
    listing.name = "sync_listing";
    for (int r = 0; r < repeat; ++r) {
      if (int code = RunAndPrint(*client, shape, nullptr, idle); code != 0) {
        return code;
      }
      if (!with_listing) continue;
      if (int code = RunAndPrint(*client, shape, lister.get(), listing);
          code != 0) {
        return code;
      }
    }
    if (repeat > 1) {
      PrintMedian(idle);
      if (with_listing) PrintMedian(listing, &idle);
    }
  }
  return 0;
}

}  // namespace
}  // namespace dagd

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "dagbench [--server=HOST:PORT] [--shape=tree,wide,...] [--repeat=N]\n"
      "Runs fixed graph shapes on a running dagd, checks their results, and\n"
      "prints `dagd SHAPE tasks=N seconds=S tasks_per_s=R ...` per run.\n"
      "Shapes: tree (1,024 leaves summed pairwise), tree100 (the same with\n"
      "100 ms sleep adds), wide (10,000 consts, one add), chain (1,000 adds\n"
      "in a line), sync (200 one-task jobs one after another), big (one job\n"
      "of 1,000 chains of 1,000 tasks; not run by default), bytes (one 1 GiB\n"
      "result moved between workers in pools a and b; reports GB/s), shuffle\n"
      "(8 producers x 8 consumers exchanging 8 MiB pieces across pools a\n"
      "and b); the last two are not run by default.\n"
      "--background_list=300000 --shape=sync: sync idle and while another\n"
      "client lists a finished 300,000-task job in a loop, side by side.");
  const std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) {
    std::cerr << "dagbench: unexpected argument '" << rest[1]
              << "'; see --help\n";
    return 2;
  }
  if (absl::GetFlag(FLAGS_repeat) < 1) {
    std::cerr << "dagbench: --repeat must be at least 1\n";
    return 2;
  }
  if (absl::GetFlag(FLAGS_bytes_size) < 1 ||
      absl::GetFlag(FLAGS_shuffle_piece_size) < 1) {
    std::cerr << "dagbench: --bytes_size and --shuffle_piece_size must be at "
                 "least 1\n";
    return 2;
  }
  std::vector<dagd::Shape> shapes;
  for (absl::string_view name :
       absl::StrSplit(absl::GetFlag(FLAGS_shape), ',', absl::SkipEmpty())) {
    dagd::ShapeSizes sizes;
    sizes.bytes_size = absl::GetFlag(FLAGS_bytes_size);
    sizes.shuffle_piece_size = absl::GetFlag(FLAGS_shuffle_piece_size);
    sizes.big_chains = absl::GetFlag(FLAGS_big_chains);
    std::optional<dagd::Shape> shape =
        dagd::FindShape(std::string(name), sizes);
    if (!shape) {
      std::cerr << "dagbench: unknown shape '" << name
                << "'; known: tree, tree100, wide, chain, sync, big, bytes, "
                   "shuffle\n";
      return 2;
    }
    shapes.push_back(*std::move(shape));
  }
  if (shapes.empty()) {
    std::cerr << "dagbench: --shape names no shape\n";
    return 2;
  }
  return dagd::Main(shapes);
}
