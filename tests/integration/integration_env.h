// Shared helpers of the integration tests: the build's binaries, starting a
// dagd for a suite, and reading what dagctl printed.
#ifndef DAGD_TESTS_INTEGRATION_INTEGRATION_ENV_H_
#define DAGD_TESTS_INTEGRATION_INTEGRATION_ENV_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "client/job_file.h"
#include "client/proto_time.h"
#include "dagd/v1/job_service.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/process.h"

namespace dagd::testing {

inline DagdBinaries BuiltBinaries() {
  return {DAGD_BIN, DAGD_WORKER_BIN, DAGCTL_BIN};
}

inline std::string ExamplePath(absl::string_view name) {
  return std::string(EXAMPLES_DIR) + "/" + std::string(name);
}

// Starts a dagd built by this tree with `flags` added; fails the test (and
// returns null) if it does not come up.
inline std::unique_ptr<DagdProcess> StartDagd(
    std::vector<std::string> flags, const std::string& data_dir = "") {
  DagdOptions options;
  options.binaries = BuiltBinaries();
  options.flags = std::move(flags);
  options.data_dir = data_dir;
  absl::StatusOr<std::unique_ptr<DagdProcess>> dagd =
      DagdProcess::Start(std::move(options));
  EXPECT_TRUE(dagd.ok()) << dagd.status();
  return dagd.ok() ? *std::move(dagd) : nullptr;
}

// The job id `dagctl submit` prints alone on its first line.
// A dagd shared by every test of a suite. `Suite` gives its flags and how
// many local workers to wait for:
//   class RunTest : public SharedDagdTest<RunTest> {
//    public:
//     static std::vector<std::string> Flags() { return {"--local_workers=2"}; }
//     static size_t Workers() { return 2; }
//   };
template <typename Suite>
class SharedDagdTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dagd_ = StartDagd(Suite::Flags()).release();
    if (dagd_ != nullptr && Suite::Workers() > 0) {
      EXPECT_EQ(dagd_->WaitForWorkers(Suite::Workers()), absl::OkStatus());
    }
  }
  static void TearDownTestSuite() {
    if (dagd_ != nullptr) {
      EXPECT_EQ(dagd_->Stop(), absl::OkStatus());
    }
    delete dagd_;
    dagd_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(dagd_, nullptr) << "dagd did not start"; }

  static inline DagdProcess* dagd_ = nullptr;
};

inline std::string FirstLine(const std::string& text) {
  return std::string(absl::StripAsciiWhitespace(
      std::vector<std::string>(absl::StrSplit(text, '\n')).front()));
}

// Task id -> state, from ListTasks.
inline std::map<std::string, v1::TaskState> TaskStates(
    const v1::ListTasksResponse& tasks) {
  std::map<std::string, v1::TaskState> states;
  for (const v1::TaskStatus& task : tasks.tasks()) {
    states[task.task_id()] = task.state();
  }
  return states;
}

// Polls GetJob until the job is in `state`.
inline absl::Status WaitForJobState(
    Client& client, const std::string& job_id, v1::JobState state,
    absl::Duration timeout = absl::Seconds(30)) {
  return PollUntil(
      [&] {
        absl::StatusOr<v1::JobStatus> status = client.Get(job_id);
        return status.ok() && status->state() == state;
      },
      timeout, "job " + job_id + " to reach " + v1::JobState_Name(state));
}

// Polls GetTask until the task is in `state`.
inline absl::Status WaitForTaskState(
    Client& client, const std::string& job_id, const std::string& task_id,
    v1::TaskState state, absl::Duration timeout = absl::Seconds(30)) {
  return PollUntil(
      [&] {
        absl::StatusOr<v1::TaskStatus> status = client.Task(job_id, task_id);
        return status.ok() && status->state() == state;
      },
      timeout,
      "task " + task_id + " of " + job_id + " to reach " +
          v1::TaskState_Name(state));
}

// Binds a loopback socket to `port` (0: any) and closes it; the port bound,
// or 0 when it could not be.
inline int BindAndClose(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int bound = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    socklen_t len = sizeof(addr);
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    bound = ntohs(addr.sin_port);
  }
  close(fd);
  return bound;
}

// A loopback port nothing listens on right now. Chosen at random below the
// kernel's ephemeral range, then bound to check: a port from that range
// (bind 0) can be given to another test's outgoing connection before the
// process told to listen on it binds it.
inline int FreePort() {
  int low = 0;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> low;
  static std::mt19937 random(std::random_device{}());
  for (int i = 0; low > 10000 && i < 100; ++i) {
    const int port = std::uniform_int_distribution<int>(10000, low - 1)(random);
    if (BindAndClose(port) == port) return port;
  }
  return BindAndClose(0);
}

// GET `path` from 127.0.0.1:`port` over plain HTTP/1.0; the whole response.
inline std::string HttpGet(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "";
  }
  const std::string request = absl::StrCat("GET ", path, " HTTP/1.0\r\n\r\n");
  // MSG_NOSIGNAL: a dagd that closes the connection (it may be stopping)
  // fails the request, not the whole test binary with SIGPIPE.
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) < 0) {
    close(fd);
    return "";
  }
  std::string response;
  char buffer[4096];
  for (ssize_t n; (n = read(fd, buffer, sizeof(buffer))) > 0;) {
    response.append(buffer, n);
  }
  close(fd);
  return response;
}

// A local "worker" (for --worker_binary) that ignores SIGTERM, so it holds
// dagd in its stop for the 5 s dagd gives local workers. A SIGTERM sent
// before the script has set its trap ends it at once: signal dagd only
// after WaitForTrap.
struct StubbornWorker {
  std::string binary;
  std::string trapped;  // the file the script makes once its trap is set

  static StubbornWorker Write(const std::string& dir) {
    StubbornWorker worker{dir + "/stubborn-worker", dir + "/trapped"};
    std::ofstream script(worker.binary);
    script << "#!/bin/sh\ntrap '' TERM\ntouch " << worker.trapped
           << "\nwhile :; do sleep 1; done\n";
    script.close();
    chmod(worker.binary.c_str(), 0755);
    return worker;
  }

  absl::Status WaitForTrap() const {
    return PollUntil([&] { return access(trapped.c_str(), F_OK) == 0; },
                     absl::Seconds(10), "the stubborn worker to set its trap");
  }
};

// Two tasks of builtins: `b` answers 42.
inline constexpr char kAnswerJob[] = R"({"tasks": [
  {"id": "a", "fn": "const", "args": {"value": 41}},
  {"id": "b", "fn": "add", "inputs": ["a"], "args": {"value": 1}}]})";

// Parses the proto3 JSON job `json` and submits it through `client`; the
// job id.
inline absl::StatusOr<std::string> SubmitJob(Client& client,
                                             absl::string_view json) {
  absl::StatusOr<v1::JobSpec> spec = ParseJobSpecJson(json);
  if (!spec.ok()) return spec.status();
  return client.Submit(*spec);
}

// When an attempt ran, by its worker's clock.
struct RunInterval {
  std::string job_id;
  std::string task_id;
  std::string worker;
  absl::Time start;
  absl::Time end;
};

// The intervals of every attempt of `job_id` that started and ended.
inline absl::StatusOr<std::vector<RunInterval>> RunIntervals(
    Client& client, const std::string& job_id) {
  absl::StatusOr<v1::ListTasksResponse> tasks = client.ListTasks(job_id);
  if (!tasks.ok()) return tasks.status();
  std::vector<RunInterval> out;
  for (const v1::TaskStatus& task : tasks->tasks()) {
    for (const v1::Attempt& attempt : task.attempts()) {
      if (!attempt.has_started_at() || !attempt.has_finished_at()) continue;
      out.push_back({job_id, task.task_id(), attempt.worker(),
                     FromProtoTimestamp(attempt.started_at()),
                     FromProtoTimestamp(attempt.finished_at())});
    }
  }
  return out;
}

// The most intervals that overlap at any instant. An interval ending when
// another starts does not overlap it.
inline int MaxOverlap(const std::vector<RunInterval>& intervals) {
  std::vector<std::pair<absl::Time, int>> edges;
  for (const RunInterval& r : intervals) {
    edges.emplace_back(r.start, 1);
    edges.emplace_back(r.end, -1);
  }
  // At equal times, ends (-1) sort before starts (+1).
  std::sort(edges.begin(), edges.end());
  int now = 0;
  int most = 0;
  for (const auto& [time, delta] : edges) {
    now += delta;
    most = std::max(most, now);
  }
  return most;
}

}  // namespace dagd::testing

#endif  // DAGD_TESTS_INTEGRATION_INTEGRATION_ENV_H_
