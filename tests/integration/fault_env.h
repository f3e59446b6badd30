// Pieces of the kill -9 fault suite (fault_test.cc): the shared task log
// that `exec` tasks append to, the jobs the suite submits, and a dagd with
// its workers that can be killed and restarted on the same port and data
// directory.
//
// Not thread-safe unless a class says otherwise: the test's main thread
// starts and kills processes (their parent-death signal is tied to the
// thread that forked them).
#ifndef DAGD_TESTS_INTEGRATION_FAULT_ENV_H_
#define DAGD_TESTS_INTEGRATION_FAULT_ENV_H_

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/client.h"
#include "client/job_builder.h"
#include "grpcpp/grpcpp.h"
#include "tests/integration/integration_env.h"

namespace dagd::testing {

// The script every `exec` task of the suite runs. It logs "start", sleeps,
// outputs V plus the sum of its N inputs, sleeps, then logs "end". Each log
// line is one short write to a file opened O_APPEND, so lines never mix.
// Fields: kind unix_time tag task attempt pid worker_pid job_id sink.
inline constexpr char kTaskScript[] =
    "log() {\n"
    "  echo \"$1 $(date +%s.%3N) $TAG $DAGD_TASK_ID $DAGD_ATTEMPT $$ $PPID \\\n"
    "$DAGD_JOB_ID $SINK\" >> \"$LOG\"\n"
    "}\n"
    "log start\n"
    "sleep \"$S1\"\n"
    "s=$V; i=0\n"
    "while [ \"$i\" -lt \"$N\" ]; do\n"
    "  eval \"f=\\$DAGD_INPUT_$i\"; s=$((s + $(cat \"$f\"))); i=$((i + 1))\n"
    "done\n"
    "echo \"$s\" > \"$DAGD_OUTPUT\"\n"
    "sleep \"$S2\"\n"
    "log end\n";

// One line of the task log.
struct LogLine {
  int64_t offset = 0;  // of the line's first byte in the log
  bool start = false;  // else "end"
  absl::Time time;     // when it was written
  std::string tag;     // the submission's tag (one per request_id)
  std::string task;
  int attempt = 0;
  int64_t pid = 0;
  int64_t worker_pid = 0;
  std::string job_id;
  bool sink = false;  // the task has no successors

  std::string key() const { return absl::StrCat(tag, "/", task); }
  std::string ToString() const {
    return absl::StrCat(
        "@", offset, " ",
        absl::FormatTime("%H:%M:%E3S", time, absl::UTCTimeZone()), " ",
        start ? "start" : "end", " ", tag, " ", task, " attempt ", attempt,
        " job ", job_id, " worker pid ", worker_pid);
  }
};

// The log, parsed incrementally as tasks append to it.
class TaskLog {
 public:
  explicit TaskLog(std::string path) : path_(std::move(path)) {}

  // Parses the complete lines appended since the last call.
  void Update() {
    std::ifstream in(path_, std::ios::binary);
    if (!in) return;
    in.seekg(parsed_);
    std::string data((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
    const size_t end = data.rfind('\n');
    if (end == std::string::npos) return;
    int64_t offset = parsed_;
    for (absl::string_view text :
         absl::StrSplit(absl::string_view(data).substr(0, end), '\n')) {
      Parse(text, offset);
      offset += static_cast<int64_t>(text.size()) + 1;
    }
    parsed_ += static_cast<int64_t>(end) + 1;
  }

  // The log's size on disk now (parsed or not).
  int64_t SizeOnDisk() const {
    std::error_code error;
    const uintmax_t size = std::filesystem::file_size(path_, error);
    return error ? 0 : static_cast<int64_t>(size);
  }

  const std::string& path() const { return path_; }
  const std::vector<LogLine>& lines() const { return lines_; }
  const std::vector<std::string>& malformed() const { return malformed_; }
  // Tasks with more "start" than "end" lines so far.
  int in_flight() const { return in_flight_; }
  // "end" lines of sink tasks so far (a job's last task, for most shapes).
  int sink_ends() const { return sink_ends_; }

 private:
  void Parse(absl::string_view text, int64_t offset) {
    std::vector<std::string> f = absl::StrSplit(text, ' ');
    LogLine line;
    line.offset = offset;
    double time = 0;
    if (f.size() != 9 || (f[0] != "start" && f[0] != "end") ||
        !absl::SimpleAtod(f[1], &time) ||
        !absl::SimpleAtoi(f[4], &line.attempt) ||
        !absl::SimpleAtoi(f[5], &line.pid) ||
        !absl::SimpleAtoi(f[6], &line.worker_pid)) {
      malformed_.push_back(absl::StrCat("@", offset, ": ", text));
      return;
    }
    line.start = f[0] == "start";
    line.time = absl::FromUnixMicros(static_cast<int64_t>(time * 1e6));
    line.tag = f[2];
    line.task = f[3];
    line.job_id = f[7];
    line.sink = f[8] == "1";
    int& open = open_[line.key()];
    const bool was_open = open > 0;
    open += line.start ? 1 : -1;
    in_flight_ += (open > 0) - was_open;
    if (!line.start && line.sink) ++sink_ends_;
    lines_.push_back(std::move(line));
  }

  const std::string path_;
  int64_t parsed_ = 0;
  std::vector<LogLine> lines_;
  std::vector<std::string> malformed_;
  std::map<std::string, int> open_;  // key -> starts minus ends
  int in_flight_ = 0;
  int sink_ends_ = 0;
};

// One task of a planned job and the output it must produce.
struct TaskPlan {
  std::string id;
  std::vector<std::string> inputs;
  int64_t value = 0;
  int64_t expected = 0;  // value plus the expected outputs of its inputs
  bool sink = false;
};

// A job the suite submits: its shape and what every task must output.
struct JobPlan {
  std::string tag;  // unique; also the request_id
  std::string shape;
  std::vector<TaskPlan> tasks;
};

// A random job: a chain, a fan-in to a sum, independent tasks, or a
// diamond, of 3 to 6 tasks.
inline JobPlan MakeJobPlan(std::mt19937_64& rng, const std::string& tag) {
  auto uniform = [&rng](int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng);
  };
  JobPlan plan;
  plan.tag = tag;
  auto add = [&](std::string id, std::vector<std::string> inputs) {
    TaskPlan task;
    task.id = std::move(id);
    task.inputs = std::move(inputs);
    task.value = uniform(1, 1000);
    plan.tasks.push_back(std::move(task));
  };
  switch (uniform(0, 3)) {
    case 0: {
      plan.shape = "chain";
      const int n = uniform(3, 5);
      for (int i = 0; i < n; ++i) {
        add(absl::StrCat("c", i),
            i == 0 ? std::vector<std::string>{}
                   : std::vector<std::string>{absl::StrCat("c", i - 1)});
      }
      break;
    }
    case 1: {
      plan.shape = "fanin";
      const int n = uniform(2, 5);
      std::vector<std::string> leaves;
      for (int i = 0; i < n; ++i) {
        leaves.push_back(absl::StrCat("l", i));
        add(leaves.back(), {});
      }
      add("sum", leaves);
      break;
    }
    case 2: {
      plan.shape = "independent";
      const int n = uniform(3, 5);
      for (int i = 0; i < n; ++i) add(absl::StrCat("i", i), {});
      break;
    }
    default: {
      plan.shape = "diamond";
      add("a", {});
      add("b", {"a"});
      add("c", {"a"});
      add("d", {"b", "c"});
      break;
    }
  }
  std::map<std::string, TaskPlan*> by_id;
  std::map<std::string, bool> has_successor;
  for (TaskPlan& task : plan.tasks) {
    task.expected = task.value;
    for (const std::string& input : task.inputs) {
      task.expected += by_id.at(input)->expected;
      has_successor[input] = true;
    }
    by_id[task.id] = &task;
  }
  for (TaskPlan& task : plan.tasks) task.sink = !has_successor[task.id];
  return plan;
}

// The JobSpec of `plan`: `exec` tasks running kTaskScript, appending to
// `log_path`, each sleeping two random spans of 0-50 ms.
inline absl::StatusOr<v1::JobSpec> BuildJobSpec(const JobPlan& plan,
                                                const std::string& log_path,
                                                std::mt19937_64& rng) {
  std::uniform_int_distribution<int> sleep_ms(0, 50);
  auto seconds = [](int ms) { return absl::StrFormat("%d.%03d", 0, ms); };
  JobBuilder job(plan.tag);
  for (const TaskPlan& task : plan.tasks) {
    google::protobuf::Value args;
    auto& fields = *args.mutable_struct_value()->mutable_fields();
    auto* argv = fields["argv"].mutable_list_value();
    argv->add_values()->set_string_value("/bin/sh");
    argv->add_values()->set_string_value("-c");
    argv->add_values()->set_string_value(kTaskScript);
    auto& env = *fields["env"].mutable_struct_value()->mutable_fields();
    env["LOG"].set_string_value(log_path);
    env["TAG"].set_string_value(plan.tag);
    env["V"].set_string_value(absl::StrCat(task.value));
    env["N"].set_string_value(absl::StrCat(task.inputs.size()));
    env["S1"].set_string_value(seconds(sleep_ms(rng)));
    env["S2"].set_string_value(seconds(sleep_ms(rng)));
    env["SINK"].set_string_value(task.sink ? "1" : "0");
    job.Task(task.id, "exec").Inputs(task.inputs).Args(args);
  }
  return job.Build();
}

// A client whose channel retries the connection quickly, so calls after a
// dagd restart do not sit in gRPC's own reconnect backoff (up to 120 s).
// GRPC_ARG_MIN_RECONNECT_BACKOFF_MS is left alone: gRPC uses it as the
// minimum connect timeout (default 20 s), and a small one cuts handshakes
// with a dagd that has just started ("tcp handshaker shutdown").
inline std::unique_ptr<Client> FastReconnectClient(const std::string& address,
                                                   ClientOptions options) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 300);
  args.SetMaxReceiveMessageSize(-1);
  auto channel = grpc::CreateCustomChannel(
      address, grpc::InsecureChannelCredentials(), args);
  return std::make_unique<Client>(v1::JobService::NewStub(channel), options);
}

// A dagd on a fixed loopback port and data directory that can be killed
// and started again, and dagd-worker processes connected to that port.
// An integer from the environment (DAGD_FAULT_SEED, DAGD_FAULT_KILLS), or
// `fallback`.
inline int64_t EnvInt(const char* name, int64_t fallback) {
  const char* text = std::getenv(name);
  int64_t value = 0;
  return text != nullptr && absl::SimpleAtoi(text, &value) ? value : fallback;
}

// Client options with each call bounded by `timeout`.
inline ClientOptions CallTimeout(absl::Duration timeout) {
  ClientOptions options;
  options.call_timeout = timeout;
  return options;
}

class RestartableCluster {
 public:
  // `dagd_flags` are added to every start of dagd.
  static absl::StatusOr<std::unique_ptr<RestartableCluster>> Create(
      std::vector<std::string> dagd_flags) {
    absl::StatusOr<std::unique_ptr<TempDir>> dir = TempDir::Create("dagd-ft-");
    if (!dir.ok()) return dir.status();
    return std::unique_ptr<RestartableCluster>(
        new RestartableCluster(*std::move(dir), std::move(dagd_flags)));
  }

  // Starts dagd and waits until it has written its port file (it serves).
  absl::Status StartDagd(absl::Duration timeout = absl::Seconds(30)) {
    const std::string port_file = absl::StrCat(dir_->path(), "/port-", starts_);
    SubprocessOptions options;
    options.argv = {DAGD_BIN, absl::StrCat("--listen=127.0.0.1:", port_),
                    absl::StrCat("--port_file=", port_file),
                    absl::StrCat("--data_dir=", data_dir()),
                    absl::StrCat("--metrics_listen=127.0.0.1:", metrics_port_)};
    options.argv.insert(options.argv.end(), dagd_flags_.begin(),
                        dagd_flags_.end());
    options.output_prefix = absl::StrCat(dir_->path(), "/dagd-", starts_++);
    absl::StatusOr<std::unique_ptr<Subprocess>> dagd =
        Subprocess::Start(std::move(options));
    if (!dagd.ok()) return dagd.status();
    dagd_ = *std::move(dagd);
    absl::Status up = PollUntil(
        [&] {
          return !ReadFileOrEmpty(port_file).empty() || !dagd_->Running();
        },
        timeout, "dagd's port file");
    if (up.ok() && dagd_->Running()) return absl::OkStatus();
    return absl::UnavailableError(absl::StrCat("dagd did not come up (",
                                               up.ToString(), "); its log:\n",
                                               dagd_->Stderr()));
  }

  // Added to the next starts of dagd.
  void AddDagdFlag(std::string flag) { dagd_flags_.push_back(std::move(flag)); }

  // SIGKILLs dagd (not its group: the workers are separate) and reaps it.
  absl::Status KillDagd() {
    dagd_->Kill(SIGKILL);
    absl::StatusOr<ExitStatus> exit = dagd_->Wait(absl::Seconds(10));
    if (!exit.ok()) return exit.status();
    if (exit->signal != SIGKILL) {
      return absl::InternalError(absl::StrCat(
          "dagd ended by itself before the kill: ", exit->ToString(), "\n",
          dagd_->Stderr()));
    }
    return absl::OkStatus();
  }

  // SIGTERM; OK if dagd exits 0.
  absl::Status StopDagd() {
    dagd_->Kill(SIGTERM);
    absl::StatusOr<ExitStatus> exit = dagd_->Wait(absl::Seconds(30));
    if (!exit.ok()) return exit.status();
    if (!exit->ok()) {
      return absl::InternalError(
          absl::StrCat("dagd: ", exit->ToString(), "\n", dagd_->Stderr()));
    }
    return absl::OkStatus();
  }

  absl::Status StartWorker(std::vector<std::string> flags) {
    SubprocessOptions options;
    options.argv = {DAGD_WORKER_BIN,
                    absl::StrCat("--coordinator=127.0.0.1:", port_)};
    options.argv.insert(options.argv.end(), flags.begin(), flags.end());
    options.output_prefix =
        absl::StrCat(dir_->path(), "/worker-", workers_.size());
    absl::StatusOr<std::unique_ptr<Subprocess>> worker =
        Subprocess::Start(std::move(options));
    if (!worker.ok()) return worker.status();
    workers_.push_back(*std::move(worker));
    return absl::OkStatus();
  }

  // SIGKILLs worker `index` (in the order they were started) and reaps it.
  absl::Status KillWorker(size_t index) {
    if (index >= workers_.size()) {
      return absl::InvalidArgumentError(absl::StrCat("no worker ", index));
    }
    workers_[index]->Kill(SIGKILL);
    absl::StatusOr<ExitStatus> exit = workers_[index]->Wait(absl::Seconds(10));
    return exit.ok() ? absl::OkStatus() : exit.status();
  }
  size_t worker_count() const { return workers_.size(); }

  // SIGTERM to every worker (they drain: running tasks finish and report),
  // then waits for them.
  absl::Status StopWorkers() {
    for (auto& worker : workers_) {
      if (worker->Running()) worker->Kill(SIGTERM);
    }
    for (auto& worker : workers_) {
      absl::StatusOr<ExitStatus> exit = worker->Wait(absl::Seconds(60));
      if (!exit.ok()) return exit.status();
    }
    return absl::OkStatus();
  }

  // Sum of dagd_tasks_finished_total (tasks this run of dagd saw finish);
  // -1 while /metrics does not answer.
  int64_t TasksFinishedMetric() const {
    const std::string response = HttpGet(metrics_port_, "/metrics");
    if (response.find(" 200 ") == std::string::npos) return -1;
    double total = 0;
    for (absl::string_view line : absl::StrSplit(response, '\n')) {
      if (!absl::StartsWith(line, "dagd_tasks_finished_total")) continue;
      double value = 0;
      if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &value)) {
        total += value;
      }
    }
    return static_cast<int64_t>(total);
  }

  bool Healthy() const {
    return HttpGet(metrics_port_, "/healthz").find(" 200 ") !=
           std::string::npos;
  }

  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  std::string data_dir() const { return absl::StrCat(dir_->path(), "/data"); }
  std::string log_path() const {
    return absl::StrCat(dir_->path(), "/tasks.log");
  }
  const std::string& dir() const { return dir_->path(); }
  void KeepFiles() { dir_->Keep(); }

 private:
  RestartableCluster(std::unique_ptr<TempDir> dir,
                     std::vector<std::string> dagd_flags)
      : dir_(std::move(dir)),
        dagd_flags_(std::move(dagd_flags)),
        port_(FreePort()),
        metrics_port_(OtherFreePort(port_)) {}

  static int OtherFreePort(int taken) {
    int port = FreePort();
    while (port == taken) port = FreePort();
    return port;
  }

  const std::unique_ptr<TempDir> dir_;
  std::vector<std::string> dagd_flags_;
  const int port_;
  const int metrics_port_;
  std::unique_ptr<Subprocess> dagd_;
  std::vector<std::unique_ptr<Subprocess>> workers_;
  int starts_ = 0;
};

}  // namespace dagd::testing

#endif  // DAGD_TESTS_INTEGRATION_FAULT_ENV_H_
