// Clients across a kill -9 and restart of dagd (same --data_dir, same
// port): dagctl watch and submit --wait end with the job's true final state
// and exit code, a submission cut by the kill is one job, commands wait for
// a dagd that is not up yet, and give up after their timeout, with exit 3,
// when it never comes back.
//
// The job's middle task is an `exec` task held by a gate file the test
// writes, so the kill always finds the job running, whatever the timing.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "tests/integration/integration_env.h"

namespace dagd::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::Duration kLong = absl::Seconds(20);

// a (const 1) -> g (waits for `gate`; fails if it says "fail", else
// outputs 2) -> z (add: 2).
std::string GatedJob(const std::string& gate) {
  const std::string script =
      absl::StrCat("while [ ! -e '", gate, "' ]; do sleep 0.05; done; ",
                   "if grep -q fail '", gate, "'; then exit 1; fi; echo 2");
  return absl::StrCat(
      R"({"tasks": [{"id": "a", "fn": "const", "args": {"value": 1}},)",
      R"({"id": "g", "fn": "exec", "inputs": ["a"], "args": {"argv": )",
      R"(["/bin/sh", "-c", ")", script, R"("]}},)",
      R"({"id": "z", "fn": "add", "inputs": ["g"]}]})");
}

// A dagd on a port and data directory that outlive it, so that it can be
// killed and started again where its clients look for it.
class Coordinator {
 public:
  static std::unique_ptr<Coordinator> Create() {
    absl::StatusOr<std::unique_ptr<TempDir>> dir =
        TempDir::Create("dagd-reconnect-");
    EXPECT_TRUE(dir.ok()) << dir.status();
    if (!dir.ok()) return nullptr;
    return std::unique_ptr<Coordinator>(new Coordinator(*std::move(dir)));
  }

  // Starts dagd with a local worker; recovered jobs go on at once.
  bool Start() {
    dagd_ = StartDagd({absl::StrCat("--listen=", address()),
                       "--local_workers=1", "--recovery_grace=0s"},
                      data_dir());
    return dagd_ != nullptr && dagd_->port() == port_ &&
           dagd_->WaitForWorkers(1, kLong).ok();
  }
  // SIGKILL, then everything of that dagd is reaped (its workers too).
  void Kill() {
    dagd_->Signal(SIGKILL);
    dagd_.reset();
  }
  void Signal(int signal) { dagd_->Signal(signal); }
  DagdProcess& dagd() { return *dagd_; }

  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  std::string data_dir() const { return dir_->path() + "/data"; }
  std::string path(absl::string_view name) const {
    return absl::StrCat(dir_->path(), "/", name);
  }

  // Starts dagctl against this address (whether dagd is up or not).
  std::unique_ptr<Subprocess> StartDagctl(std::vector<std::string> args,
                                          const std::string& stdin_data = "") {
    SubprocessOptions options;
    options.argv = {DAGCTL_BIN, "--server=" + address()};
    options.argv.insert(options.argv.end(), args.begin(), args.end());
    options.stdin_data = stdin_data;
    options.output_prefix = path(absl::StrCat("dagctl-", ++commands_));
    absl::StatusOr<std::unique_ptr<Subprocess>> process =
        Subprocess::Start(std::move(options));
    EXPECT_TRUE(process.ok()) << process.status();
    return process.ok() ? *std::move(process) : nullptr;
  }

 private:
  explicit Coordinator(std::unique_ptr<TempDir> dir)
      : dir_(std::move(dir)), port_(FreePort()) {}

  const std::unique_ptr<TempDir> dir_;
  const int port_;
  std::unique_ptr<DagdProcess> dagd_;
  int commands_ = 0;
};

// Waits for `process` to exit; its exit code, or -1.
int ExitCode(Subprocess& process, absl::Duration timeout = kLong) {
  absl::StatusOr<ExitStatus> exit = process.Wait(timeout);
  if (!exit.ok() || !exit->exited) return -1;
  return exit->code;
}

std::string Output(const Subprocess& process) {
  return absl::StrCat("stdout:\n", process.Stdout(), "stderr:\n",
                      process.Stderr());
}

absl::Status WaitForOutput(const Subprocess& process, bool err,
                           const std::string& text) {
  return PollUntil(
      [&] {
        return absl::StrContains(err ? process.Stderr() : process.Stdout(),
                                 text);
      },
      kLong, absl::StrCat("dagctl to print '", text, "'"));
}

int Count(const std::string& text, const std::string& part) {
  int n = 0;
  for (size_t at = text.find(part); at != std::string::npos;
       at = text.find(part, at + 1)) {
    ++n;
  }
  return n;
}

absl::Status OpenGate(const std::string& gate, const std::string& says) {
  return WriteFile(gate, says);
}

TEST(ClientReconnectTest, WatchRidesThroughAKillAndRestart) {
  std::unique_ptr<Coordinator> c = Coordinator::Create();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Start());
  const std::string gate = c->path("gate");
  absl::StatusOr<std::string> job =
      SubmitJob(c->dagd().client(), GatedJob(gate));
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_EQ(WaitForTaskState(c->dagd().client(), *job, "g", v1::TASK_RUNNING),
            absl::OkStatus());

  std::unique_ptr<Subprocess> watch =
      c->StartDagctl({"watch", *job, "--reconnect_timeout=20s"});
  ASSERT_NE(watch, nullptr);
  ASSERT_EQ(WaitForOutput(*watch, false, "1/3 done"), absl::OkStatus())
      << Output(*watch);
  c->Kill();
  ASSERT_EQ(WaitForOutput(*watch, true, "lost dagd at " + c->address()),
            absl::OkStatus())
      << Output(*watch);
  EXPECT_TRUE(watch->Running()) << Output(*watch);
  ASSERT_TRUE(c->Start());
  ASSERT_EQ(WaitForOutput(*watch, true, "reconnected to dagd at"),
            absl::OkStatus())
      << Output(*watch);
  ASSERT_EQ(OpenGate(gate, "ok"), absl::OkStatus());

  EXPECT_EQ(ExitCode(*watch), 0) << Output(*watch);
  EXPECT_THAT(watch->Stdout(),
              HasSubstr(absl::StrCat("job ", *job, " SUCCEEDED: 3/3 tasks")));
  // The counts went on from the job's state, never past it.
  EXPECT_THAT(watch->Stdout(), Not(HasSubstr("4/3")));
  EXPECT_EQ(Count(watch->Stderr(), "lost dagd"), 1) << Output(*watch);
  EXPECT_EQ(Count(watch->Stderr(), "reconnected"), 1) << Output(*watch);
  EXPECT_THAT(watch->Stderr(),
              HasSubstr("for up to 20s (--reconnect_timeout)"));
}

TEST(ClientReconnectTest,
     SubmitWaitRidesThroughAKillAndEndsWithTheRealFailure) {
  std::unique_ptr<Coordinator> c = Coordinator::Create();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Start());
  const std::string gate = c->path("gate");
  std::unique_ptr<Subprocess> submit =
      c->StartDagctl({"submit", "-", "--wait"}, GatedJob(gate));
  ASSERT_NE(submit, nullptr);
  ASSERT_EQ(WaitForOutput(*submit, false, "\n"), absl::OkStatus())
      << Output(*submit);
  const std::string job = FirstLine(submit->Stdout());
  ASSERT_EQ(WaitForTaskState(c->dagd().client(), job, "g", v1::TASK_RUNNING),
            absl::OkStatus());
  c->Kill();
  ASSERT_EQ(WaitForOutput(*submit, true, "lost dagd at " + c->address()),
            absl::OkStatus())
      << Output(*submit);
  ASSERT_TRUE(c->Start());
  ASSERT_EQ(OpenGate(gate, "fail"), absl::OkStatus());

  // The job failed after the restart: exit 1, and the failure said.
  EXPECT_EQ(ExitCode(*submit), 1) << Output(*submit);
  EXPECT_THAT(submit->Stdout(),
              HasSubstr(absl::StrCat("job ", job, " FAILED")));
  EXPECT_THAT(submit->Stderr(), HasSubstr("waiting for job " + job));
  EXPECT_EQ(Count(submit->Stderr(), "reconnected"), 1) << Output(*submit);
  absl::StatusOr<v1::ListJobsResponse> jobs = c->dagd().client().ListJobs();
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  ASSERT_EQ(jobs->jobs_size(), 1);
  EXPECT_EQ(jobs->jobs(0).state(), v1::JOB_FAILED);
  // dagctl gave the submission a request id of its own.
  EXPECT_TRUE(absl::StartsWith(jobs->jobs(0).request_id(), "dagctl-"))
      << jobs->jobs(0).request_id();
}

// The call reached dagd (the job exists and runs) and its answer was lost
// with dagd: SubmitAndWait sends it again with its request id, and waits
// for that job rather than making a second.
TEST(ClientReconnectTest, SubmitAndWaitRetriedAcrossARestartIsOneJob) {
  std::unique_ptr<Coordinator> c = Coordinator::Create();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Start());
  const std::string gate = c->path("gate");
  absl::StatusOr<v1::JobSpec> spec = ParseJobSpecJson(GatedJob(gate));
  ASSERT_TRUE(spec.ok()) << spec.status();
  std::unique_ptr<Client> client = Client::Connect(c->address());

  absl::StatusOr<v1::SubmitJobResponse> done = absl::UnknownError("not yet");
  int losses = 0;
  std::thread submitter([&] {
    done = client->SubmitAndWait(
        *spec, "one-job-please", [&](const ConnectionChange& change) {
          if (change.kind == ConnectionChange::Kind::kLost) {
            ++losses;
          }
        });
  });
  // No ASSERT before the join: the thread must not outlive the test.
  Client& observer = c->dagd().client();
  EXPECT_EQ(PollUntil(
                [&] {
                  absl::StatusOr<v1::ListJobsResponse> jobs =
                      observer.ListJobs();
                  return jobs.ok() && jobs->jobs_size() == 1;
                },
                kLong, "the job to exist"),
            absl::OkStatus());
  absl::StatusOr<v1::ListJobsResponse> before = observer.ListJobs();
  const std::string job =
      before.ok() && before->jobs_size() == 1 ? before->jobs(0).job_id() : "";
  EXPECT_EQ(WaitForTaskState(observer, job, "g", v1::TASK_RUNNING),
            absl::OkStatus());
  c->Kill();
  const bool restarted = c->Start();
  EXPECT_TRUE(restarted);
  EXPECT_EQ(OpenGate(gate, "ok"), absl::OkStatus());
  submitter.join();
  ASSERT_TRUE(restarted);

  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->job_id(), job);
  EXPECT_TRUE(done->existing());
  EXPECT_EQ(done->final_status().state(), v1::JOB_SUCCEEDED);
  EXPECT_EQ(losses, 1);
  absl::StatusOr<v1::ListJobsResponse> jobs = c->dagd().client().ListJobs();
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  EXPECT_EQ(jobs->jobs_size(), 1);
}

// A TCP proxy on loopback in front of dagd that passes each connection's
// bytes both ways, except that it holds back the first answer it sees: the
// first HTTP/2 HEADERS frame dagd sends on a stream (the start of a
// response). The request has then reached dagd and been acted on, and its
// answer never comes back. Every later answer passes.
//
// One thread accepts; two pump each connection. The destructor closes every
// socket and joins them.
class AnswerHoldingProxy {
 public:
  explicit AnswerHoldingProxy(int upstream_port)
      : upstream_port_(upstream_port) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = Loopback(0);
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    listen(listen_fd_, 16);
    socklen_t len = sizeof(addr);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    threads_.emplace_back([this] { AcceptLoop(); });
  }
  ~AnswerHoldingProxy() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
      for (int fd : fds_) shutdown(fd, SHUT_RDWR);
    }
    shutdown(listen_fd_, SHUT_RDWR);
    // Pumps start threads no more once stopping_ is set; join them all.
    std::vector<std::thread> threads;
    {
      absl::MutexLock lock(&mu_);
      threads.swap(threads_);
    }
    for (std::thread& thread : threads) thread.join();
    absl::MutexLock lock(&mu_);
    for (int fd : fds_) close(fd);
    close(listen_fd_);
  }

  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  // True once an answer is held (within `timeout`).
  bool WaitForHeldAnswer(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&held_), timeout);
  }

 private:
  static sockaddr_in Loopback(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
  }

  void AcceptLoop() {
    while (true) {
      const int client = accept(listen_fd_, nullptr, nullptr);
      if (client < 0) return;  // shut down
      const int server = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr = Loopback(upstream_port_);
      const bool connected = connect(server, reinterpret_cast<sockaddr*>(&addr),
                                     sizeof(addr)) == 0;
      absl::MutexLock lock(&mu_);
      fds_.push_back(client);
      fds_.push_back(server);
      if (stopping_ || !connected) {  // dagd is down: so is the connection
        shutdown(client, SHUT_RDWR);
        continue;
      }
      threads_.emplace_back(
          [this, client, server] { Pump(client, server, /*answers=*/false); });
      threads_.emplace_back(
          [this, client, server] { Pump(server, client, /*answers=*/true); });
    }
  }

  // Copies `from` to `to` until either end closes, then closes both.
  // `answers`: the dagd-to-client direction, read frame by frame.
  void Pump(int from, int to, bool answers) {
    std::string pending;  // answers: bytes of frames not yet complete
    bool holding = false;
    char buffer[16384];
    for (ssize_t n; (n = read(from, buffer, sizeof(buffer))) > 0;) {
      if (!answers) {
        if (!WriteAll(to, absl::string_view(buffer, n))) break;
        continue;
      }
      pending.append(buffer, n);
      // HTTP/2 frames: a 24-bit length, a type, flags, a 31-bit stream id.
      while (!holding && pending.size() >= 9) {
        const size_t length = (static_cast<uint8_t>(pending[0]) << 16) |
                              (static_cast<uint8_t>(pending[1]) << 8) |
                              static_cast<uint8_t>(pending[2]);
        if (pending.size() < 9 + length) break;
        const bool headers = pending[3] == 0x1;
        if (headers && TakeTheHold()) {
          holding = true;  // this answer and all after it stay here
          break;
        }
        if (!WriteAll(to, absl::string_view(pending).substr(0, 9 + length))) {
          return Close(from, to);
        }
        pending.erase(0, 9 + length);
      }
    }
    Close(from, to);
  }

  // True for the first caller only.
  bool TakeTheHold() {
    absl::MutexLock lock(&mu_);
    if (held_) return false;
    held_ = true;
    return true;
  }

  // send(MSG_NOSIGNAL): a peer that went away (dagd killed mid-answer) is
  // an ordinary end of the copy, not a SIGPIPE that kills the test.
  static bool WriteAll(int fd, absl::string_view data) {
    while (!data.empty()) {
      const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(n);
    }
    return true;
  }

  static void Close(int a, int b) {
    shutdown(a, SHUT_RDWR);
    shutdown(b, SHUT_RDWR);
  }

  const int upstream_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool held_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<int> fds_ ABSL_GUARDED_BY(mu_);  // closed by the destructor
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
};

// dagctl's submission reaches dagd, which takes the job, but the answer is
// lost with dagd (kill -9): dagctl sends the job again with the same
// request id to the restarted dagd, which answers with that job. One job.
TEST(ClientReconnectTest, DagctlSubmissionWhoseAnswerIsLostIsOneJob) {
  std::unique_ptr<Coordinator> c = Coordinator::Create();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Start());
  AnswerHoldingProxy proxy(c->dagd().port());
  // The later --server wins: dagctl talks to dagd through the proxy.
  std::unique_ptr<Subprocess> submit =
      c->StartDagctl({"--server=" + proxy.address(), "submit",
                      ExamplePath("diamond.json"), "--timeout=20s"});
  ASSERT_NE(submit, nullptr);
  ASSERT_TRUE(proxy.WaitForHeldAnswer(kLong)) << Output(*submit);
  // dagd answers once the job is stored: it is there.
  absl::StatusOr<v1::ListJobsResponse> before = c->dagd().client().ListJobs();
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_EQ(before->jobs_size(), 1);
  c->Kill();
  ASSERT_EQ(WaitForOutput(*submit, true, "sending the job again"),
            absl::OkStatus())
      << Output(*submit);
  ASSERT_TRUE(c->Start());

  EXPECT_EQ(ExitCode(*submit), 0) << Output(*submit);
  const std::string job = FirstLine(submit->Stdout());
  EXPECT_EQ(job, before->jobs(0).job_id());
  absl::StatusOr<v1::ListJobsResponse> jobs = c->dagd().client().ListJobs();
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  ASSERT_EQ(jobs->jobs_size(), 1);
  EXPECT_EQ(jobs->jobs(0).job_id(), job);
  // The id the retry was announced with is the one dagd has.
  EXPECT_THAT(submit->Stderr(),
              HasSubstr("request id " + jobs->jobs(0).request_id()));
  EXPECT_EQ(Count(submit->Stderr(), "reconnected"), 1) << Output(*submit);
  EXPECT_EQ(WaitForJobState(c->dagd().client(), job, v1::JOB_SUCCEEDED),
            absl::OkStatus());
}

TEST(ClientReconnectTest, CommandsWaitForADagdThatStartsTwoSecondsLater) {
  std::unique_ptr<Coordinator> c = Coordinator::Create();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Start());
  CommandResult submitted =
      c->dagd().RunDagctl({"submit", ExamplePath("diamond.json"), "--wait"});
  ASSERT_EQ(submitted.exit_code, 0) << submitted.ToString();
  const std::string job = FirstLine(submitted.out);
  ASSERT_EQ(c->dagd().Stop(), absl::OkStatus());

  std::unique_ptr<Subprocess> status =
      c->StartDagctl({"status", job, "--timeout=20s"});
  std::unique_ptr<Subprocess> watch =
      c->StartDagctl({"watch", job, "--reconnect_timeout=20s"});
  ASSERT_NE(status, nullptr);
  ASSERT_NE(watch, nullptr);
  // The outage under test: dagd is down for two seconds (not a wait for
  // anything to happen).
  absl::SleepFor(absl::Seconds(2));
  EXPECT_TRUE(status->Running()) << Output(*status);
  EXPECT_TRUE(watch->Running()) << Output(*watch);
  ASSERT_TRUE(c->Start());

  EXPECT_EQ(ExitCode(*status), 0) << Output(*status);
  EXPECT_THAT(status->Stdout(), HasSubstr("SUCCEEDED"));
  EXPECT_EQ(status->Stderr(), "");
  EXPECT_EQ(ExitCode(*watch), 0) << Output(*watch);
  EXPECT_THAT(watch->Stdout(),
              HasSubstr(absl::StrCat("job ", job, " SUCCEEDED: 4/4 tasks")));
  EXPECT_THAT(watch->Stderr(),
              AllOf(HasSubstr("cannot reach dagd at " + c->address()),
                    HasSubstr("retrying for up to 20s"),
                    HasSubstr("reconnected to dagd")));
}

TEST(ClientReconnectTest, WithDagdGoneForGoodEachCommandGivesUpInItsTime) {
  std::unique_ptr<Coordinator> c = Coordinator::Create();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Start());
  // A submit --wait whose job was accepted, then dagd dies for good.
  std::unique_ptr<Subprocess> waiting =
      c->StartDagctl({"submit", "-", "--wait", "--reconnect_timeout=1s"},
                     GatedJob(c->path("gate")));
  ASSERT_NE(waiting, nullptr);
  ASSERT_EQ(WaitForOutput(*waiting, false, "\n"), absl::OkStatus())
      << Output(*waiting);
  const std::string job = FirstLine(waiting->Stdout());
  ASSERT_EQ(WaitForTaskState(c->dagd().client(), job, "g", v1::TASK_RUNNING),
            absl::OkStatus());
  c->Kill();
  EXPECT_EQ(ExitCode(*waiting), 3) << Output(*waiting);
  EXPECT_THAT(waiting->Stderr(),
              AllOf(HasSubstr("lost dagd at " + c->address()),
                    HasSubstr("none again within 1s"),
                    HasSubstr("--reconnect_timeout to wait longer")));

  const std::vector<std::vector<std::string>> commands = {
      {"status", job}, {"tasks", job}, {"result", job, "a"},
      {"jobs"},        {"workers"},    {"cancel", job},
      {"delete", job}, {"graph", job}, {"submit", ExamplePath("tiny.json")},
  };
  // All at once, with the watch: each waits its own 1s.
  const absl::Time start = absl::Now();
  std::vector<std::unique_ptr<Subprocess>> runs;
  for (const std::vector<std::string>& command : commands) {
    std::vector<std::string> args = command;
    args.push_back("--timeout=1s");
    runs.push_back(c->StartDagctl(args));
    ASSERT_NE(runs.back(), nullptr);
  }
  std::unique_ptr<Subprocess> watch =
      c->StartDagctl({"watch", job, "--reconnect_timeout=1s"});
  ASSERT_NE(watch, nullptr);
  for (size_t i = 0; i < commands.size(); ++i) {
    const std::string& name = commands[i][0];
    EXPECT_EQ(ExitCode(*runs[i]), 3) << name << "\n" << Output(*runs[i]);
    // "within 1s": it waited to the deadline --timeout set.
    EXPECT_THAT(
        runs[i]->Stderr(),
        AllOf(HasSubstr("cannot reach dagd at " + c->address() +
                        " (no connection within 1s"),
              HasSubstr("DAGD_SERVER"), HasSubstr("--timeout to wait longer")))
        << name;
  }
  EXPECT_EQ(ExitCode(*watch), 3) << Output(*watch);
  EXPECT_THAT(watch->Stderr(),
              AllOf(HasSubstr("retrying for up to 1s (--reconnect_timeout)"),
                    HasSubstr("(no connection within 1s"),
                    HasSubstr("--reconnect_timeout to wait longer")));
  // Far short of the 30s and 60s defaults (the margin is for a loaded
  // machine starting ten processes).
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

}  // namespace
}  // namespace dagd::testing
