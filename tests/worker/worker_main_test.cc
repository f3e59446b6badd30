// Runs the dagd-worker binary (DAGD_WORKER_BINARY, set by CMake) to check
// what a user sees for bad flags and --help, and what an operator sees of a
// running worker: its status pages, its JSON log, and a drain on SIGTERM.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "health.grpc.pb.h"
#include "tests/testutil/http_get.h"
#include "tests/testutil/pki.h"
#include "tests/worker/fake_coordinator.h"
#include "tests/worker/run_worker.h"
#include "tests/worker/test_task.h"
#include "worker/json_util.h"
#include "worker/subprocess.h"
#include "worker/temp_dir.h"

namespace dagd {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

WorkerRun RunWorker(std::vector<std::string> flags) {
  return RunWorkerBinary(std::move(flags));
}

TEST(WorkerMainTest, BadSlotsExitsTwo) {
  WorkerRun run = RunWorker({"--slots=many"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("--slots must be a whole number"));
}

TEST(WorkerMainTest, BadResourcesExitsTwo) {
  WorkerRun run = RunWorker({"--resources=gpu=lots"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("--resources"));
  EXPECT_THAT(run.err, HasSubstr("'gpu'"));
}

TEST(WorkerMainTest, MissingPluginNamesTheFile) {
  WorkerRun run = RunWorker({"--plugin=/nonexistent/libplug.so"});
  EXPECT_NE(run.exit_code, 0);
  EXPECT_THAT(run.err, HasSubstr("cannot load plugin /nonexistent/libplug.so"));
}

TEST(WorkerMainTest, HelpListsTheFlags) {
  WorkerRun run = RunWorker({"--help"});
  std::string text = run.out + run.err;
  for (const char* flag :
       {"--coordinator", "--slots", "--pool", "--labels", "--resources",
        "--plugin", "--name", "--metrics_listen", "--health_listen",
        "--drain_timeout", "--log_format"}) {
    EXPECT_THAT(text, HasSubstr(flag));
  }
  EXPECT_THAT(text, HasSubstr("usage: dagd-worker"));
}

// jemalloc's stats at exit list the options it took from the binary.
TEST(WorkerMainTest, SetsItsJemallocOptions) {
#ifndef DAGD_WORKER_JEMALLOC
  GTEST_SKIP() << "dagd-worker is built without jemalloc";
#endif
  WorkerRun run = RunWorkerBinary({"--slots=0"}, {"MALLOC_CONF="},
                                  {"MALLOC_CONF=stats_print:true"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, AllOf(HasSubstr("opt.oversize_threshold: 0\n"),
                             HasSubstr("opt.background_thread: true")));
}

TEST(WorkerMainTest, BadLogFormatExitsTwo) {
  WorkerRun run = RunWorker({"--log_format=xml"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("--log_format: 'xml' is not a log format"));
}

// A dagd-worker running in the background, its stderr read line by line.
class WorkerProcess {
 public:
  ~WorkerProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (reader_.joinable()) reader_.join();
  }

  bool Start(const std::vector<std::string>& flags) {
    std::vector<std::string> args = {DAGD_WORKER_BINARY};
    args.insert(args.end(), flags.begin(), flags.end());
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return false;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], STDERR_FILENO);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(fds[1]);
    if (pid_ < 0) {
      close(fds[0]);
      return false;
    }
    reader_ = std::thread([this, fd = fds[0]] { ReadLines(fd); });
    return true;
  }

  // The first stderr line containing `text`, once it is there.
  std::optional<std::string> WaitForLine(absl::string_view text) {
    absl::MutexLock lock(&mu_);
    std::optional<std::string> found;
    auto seen = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      for (const std::string& line : lines_) {
        if (absl::StrContains(line, text)) found = line;
      }
      return found.has_value() || eof_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&seen), kWait);
    return found;
  }

  // The exit code, or -1 if it did not exit normally within kWait.
  int WaitForExit() {
    {
      absl::MutexLock lock(&mu_);
      if (!mu_.AwaitWithTimeout(absl::Condition(&eof_), kWait)) return -1;
    }
    int status = 0;
    if (waitpid(pid_, &status, 0) != pid_) return -1;
    pid_ = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  void Signal(int signal) { kill(pid_, signal); }

  std::vector<std::string> lines() {
    absl::MutexLock lock(&mu_);
    return lines_;
  }

 private:
  void ReadLines(int fd) {
    std::string pending;
    char buffer[4096];
    ssize_t n;
    while ((n = read(fd, buffer, sizeof(buffer))) > 0) {
      pending.append(buffer, n);
      absl::MutexLock lock(&mu_);
      size_t newline;
      while ((newline = pending.find('\n')) != std::string::npos) {
        lines_.push_back(pending.substr(0, newline));
        pending.erase(0, newline + 1);
      }
    }
    close(fd);
    absl::MutexLock lock(&mu_);
    if (!pending.empty()) lines_.push_back(pending);
    eof_ = true;
  }

  pid_t pid_ = 0;
  std::thread reader_;
  absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
  bool eof_ ABSL_GUARDED_BY(mu_) = false;
};

// The port at the end of a JSON log line's message ("... port 1234").
int PortOf(const std::optional<std::string>& line) {
  if (!line.has_value()) return 0;
  auto value = ParseJson(*line);
  if (!value.ok()) return 0;
  std::string msg = value->struct_value().fields().at("msg").string_value();
  int port = 0;
  std::vector<std::string> words = absl::StrSplit(msg, ' ');
  if (!absl::SimpleAtoi(words.back(), &port)) return 0;
  return port;
}

grpc::health::v1::HealthCheckResponse::ServingStatus GrpcHealth(int port) {
  auto stub = grpc::health::v1::Health::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = stub->Check(&context, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response.status();
}

// The whole operator story on the real binary: status pages while it
// serves, then SIGTERM during a task: health turns NOT_SERVING, the task's
// result still reaches the coordinator, the worker closes its stream and
// exits 0, and every log line is a JSON object.
TEST(WorkerMainTest, ServesStatusAndDrainsOnSigterm) {
  FakeCoordinator coordinator;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(&coordinator);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  auto dir = TempDir::Create("dagd-worker-drain-test-");
  ASSERT_TRUE(dir.ok()) << dir.status();
  // The task blocks reading this FIFO until the test writes to it.
  const std::string fifo = absl::StrCat((*dir)->path(), "/gate");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);

  WorkerProcess worker;
  ASSERT_TRUE(
      worker.Start({absl::StrCat("--coordinator=127.0.0.1:", port), "--slots=1",
                    "--allow_exec", "--metrics_listen=127.0.0.1:0",
                    "--health_listen=127.0.0.1:0", "--log_format=json",
                    "--drain_timeout=30s"}));
  int http_port = PortOf(worker.WaitForLine("/healthz on HTTP port"));
  int health_port = PortOf(worker.WaitForLine("gRPC health on port"));
  ASSERT_GT(http_port, 0);
  ASSERT_GT(health_port, 0);
  ASSERT_TRUE(worker.WaitForLine("registered as worker").has_value());
  EXPECT_EQ(HttpGet(http_port, "/healthz").code, 200);
  EXPECT_EQ(GrpcHealth(health_port),
            grpc::health::v1::HealthCheckResponse::SERVING);

  v1::CoordinatorBatch batch;
  *batch.add_assignments() =
      Assign(0, "exec",
             absl::StrCat(R"({"argv": ["/bin/sh", "-c", "read x < )", fifo,
                          R"(; echo 42"]})"));
  ASSERT_TRUE(coordinator.Send(batch));
  ASSERT_TRUE(
      coordinator.WaitUntil([&] { return coordinator.started_.size() == 1; }));
  HttpReply metrics = HttpGet(http_port, "/metrics");
  EXPECT_EQ(metrics.code, 200);
  for (const char* line :
       {"dagd_worker_connected 1", "dagd_worker_reconnects_total 0",
        "dagd_worker_slots_capacity 1", "dagd_worker_slots_busy 1",
        "# TYPE dagd_worker_tasks_total counter",
        "# TYPE dagd_worker_task_seconds histogram"}) {
    EXPECT_THAT(metrics.body, HasSubstr(line));
  }

  worker.Signal(SIGTERM);
  ASSERT_TRUE(worker.WaitForLine("draining: taking no new tasks").has_value());
  EXPECT_EQ(HttpGet(http_port, "/healthz").code, 503);
  EXPECT_EQ(GrpcHealth(health_port),
            grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  {
    int gate = open(fifo.c_str(), O_WRONLY);  // the task holds the other end
    ASSERT_GE(gate, 0);
    ASSERT_EQ(write(gate, "go\n", 3), 3);
    close(gate);
  }
  EXPECT_EQ(worker.WaitForExit(), 0);

  {
    absl::MutexLock lock(&coordinator.mu_);
    ASSERT_EQ(coordinator.results_.size(), 1u);
    EXPECT_TRUE(coordinator.results_[0].first.ok())
        << coordinator.results_[0].first.error();
    EXPECT_TRUE(
        absl::StartsWith(coordinator.results_[0].first.output().data(), "42"));
    EXPECT_EQ(coordinator.half_closed_, 1);
  }
  std::vector<std::string> lines = worker.lines();
  ASSERT_FALSE(lines.empty());
  for (const std::string& line : lines) {
    auto value = ParseJson(line);
    ASSERT_TRUE(value.ok() && value->has_struct_value()) << line;
    const auto& fields = value->struct_value().fields();
    EXPECT_TRUE(fields.count("ts") && fields.count("level") &&
                fields.count("msg"))
        << line;
  }
  server->Shutdown(absl::ToChronoTime(absl::Now()));
}

TEST(WorkerMainTest, HelpListsTheDataPlaneFlags) {
  WorkerRun run = RunWorker({"--help"});
  std::string text = run.out + run.err;
  for (const char* flag :
       {"--data_listen", "--data_advertise", "--object_memory", "--spill_dir",
        "--max_concurrent_sends"}) {
    EXPECT_THAT(text, HasSubstr(flag));
  }
}

TEST(WorkerMainTest, BadObjectMemoryExitsTwo) {
  WorkerRun run = RunWorker({"--object_memory=lots"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("--object_memory: 'lots' is not a size"));
}

TEST(WorkerMainTest, BadMaxConcurrentSendsExitsTwo) {
  WorkerRun run = RunWorker({"--max_concurrent_sends=0"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("--max_concurrent_sends must be at least 1"));
}

TEST(WorkerMainTest, ADataListenItCannotUseExitsOne) {
  WorkerRun run = RunWorker({"--data_listen=not-an-address", "--insecure"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("--data_listen"));
  EXPECT_THAT(run.err, HasSubstr("not-an-address"));
}

TEST(WorkerMainTest, ADataPortOtherHostsReachNeedsTlsOrInsecure) {
  WorkerRun run = RunWorker({"--data_listen=0.0.0.0:0"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("--data_listen=0.0.0.0:0 can be reached"));
  EXPECT_THAT(run.err, HasSubstr("--insecure"));
}

TEST(WorkerMainTest, MetricsTlsNeedsACertificate) {
  WorkerRun run = RunWorker({"--metrics_listen=127.0.0.1:0", "--metrics_tls"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("--metrics_tls needs --tls_cert"));
}

// Runs `command` in a shell; what it printed on stdout.
std::string ShellOutput(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0)
    out.append(buffer, n);
  pclose(pipe);
  return out;
}

// --metrics_tls: /metrics and /healthz over HTTPS with the worker's own
// certificate (plain HTTP on that port gets nothing); --healthz_listen: a
// plain /healthz of its own.
TEST(WorkerMainTest, MetricsOverHttpsAndAHealthzOfItsOwn) {
  auto dir = TempDir::Create("dagd-worker-https-test-");
  ASSERT_TRUE(dir.ok()) << dir.status();
  dagd::testing::Pki pki((*dir)->path());
  ASSERT_EQ(pki.MakeCa("ca"), absl::OkStatus());
  ASSERT_EQ(pki.MakeCert("ca", "w", "worker-9"), absl::OkStatus());
  WorkerProcess worker;
  ASSERT_TRUE(worker.Start({"--coordinator=127.0.0.1:1", "--log_format=json",
                            "--data_listen=", "--metrics_listen=127.0.0.1:0",
                            "--metrics_tls", "--healthz_listen=127.0.0.1:0",
                            "--tls_ca=" + pki.Path("ca", "pem"),
                            "--tls_cert=" + pki.Path("w", "pem"),
                            "--tls_key=" + pki.Path("w", "key")}));
  const int https_port = PortOf(worker.WaitForLine("/healthz on HTTPS port"));
  const int healthz_port = PortOf(worker.WaitForLine("/healthz alone on port"));
  ASSERT_GT(https_port, 0);
  ASSERT_GT(healthz_port, 0);
  // Verified against the CA: the worker presents its certificate.
  const std::string page = ShellOutput(absl::StrCat(
      "printf 'GET /metrics HTTP/1.0\\r\\n\\r\\n' | openssl s_client -quiet "
      "-verify_return_error -CAfile ",
      pki.Path("ca", "pem"), " -connect 127.0.0.1:", https_port,
      " -servername worker-9 2>/dev/null"));
  EXPECT_THAT(page, HasSubstr("HTTP/1.1 200"));
  EXPECT_THAT(page, HasSubstr("dagd_worker_slots_capacity"));
  EXPECT_EQ(HttpGet(https_port, "/metrics").code, 0);  // no plain HTTP
  // Not registered (no coordinator): the plain /healthz says so.
  EXPECT_EQ(HttpGet(healthz_port, "/healthz").code, 503);
}

TEST(WorkerMainTest, AMissingSpillDirExitsOne) {
  WorkerRun run = RunWorker({"--spill_dir=/nonexistent/spill"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("--spill_dir"));
  EXPECT_THAT(run.err, HasSubstr("/nonexistent/spill"));
}

// A FakeCoordinator serving on a loopback port of its own.
struct CoordinatorServer {
  CoordinatorServer() {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(&fake);
    server = builder.BuildAndStart();
    address = absl::StrCat("127.0.0.1:", port);
  }
  ~CoordinatorServer() { server->Shutdown(absl::ToChronoTime(absl::Now())); }

  // The results reported so far, once there are `n`.
  std::vector<v1::TaskResult> WaitForResults(size_t n) {
    EXPECT_TRUE(fake.WaitUntil([&] { return fake.results_.size() >= n; }));
    absl::MutexLock lock(&fake.mu_);
    std::vector<v1::TaskResult> results;
    for (const auto& [result, connection] : fake.results_) {
      results.push_back(result);
    }
    std::sort(results.begin(), results.end(), [](const auto& a, const auto& b) {
      return a.task().task_index() < b.task().task_index();
    });
    return results;
  }

  FakeCoordinator fake;
  std::unique_ptr<grpc::Server> server;
  std::string address;
};

std::vector<std::string> FilesUnder(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) files.push_back(entry.path().string());
  }
  return files;
}

// Two dagd-worker processes, each with a fake dagd of its own that says
// what a data-plane dagd says: outputs over 1 KiB stay on the producer,
// spilled beyond its --object_memory of 64 KiB; the consumer, given their
// references as inputs, fetches them from the producer's --data_listen;
// dagd's release frees them; the spill directory goes with the process.
TEST(WorkerMainTest, HeldOutputsMoveFromWorkerToWorker) {
  CoordinatorServer producer_dagd;
  CoordinatorServer consumer_dagd;
  producer_dagd.fake.SetResultLimits(1024, 0);
  auto spill_parent = TempDir::Create("dagd-worker-spill-test-");
  ASSERT_TRUE(spill_parent.ok()) << spill_parent.status();
  WorkerProcess producer;
  WorkerProcess consumer;
  ASSERT_TRUE(
      producer.Start({absl::StrCat("--coordinator=", producer_dagd.address),
                      "--slots=2", "--object_memory=64K",
                      absl::StrCat("--spill_dir=", (*spill_parent)->path()),
                      "--drain_timeout=30s"}));
  ASSERT_TRUE(consumer.Start(
      {absl::StrCat("--coordinator=", consumer_dagd.address), "--slots=2"}));
  ASSERT_TRUE(producer.WaitForLine("registered as worker").has_value());
  ASSERT_TRUE(consumer.WaitForLine("registered as worker").has_value());
  std::string producer_address;
  {
    absl::MutexLock lock(&producer_dagd.fake.mu_);
    producer_address = producer_dagd.fake.registers_[0].data_address();
    EXPECT_FALSE(producer_dagd.fake.registers_[0].instance().empty());
  }
  ASSERT_FALSE(producer_address.empty());

  const std::vector<std::string> values = {std::string(100'000, 'x'),
                                           std::string(100'000, 'y')};
  v1::CoordinatorBatch produce;
  for (uint32_t i = 0; i < values.size(); ++i) {
    *produce.add_assignments() =
        Assign(i, "const", absl::StrCat(R"({"value": ")", values[i], R"("})"));
  }
  ASSERT_TRUE(producer_dagd.fake.Send(produce));
  std::vector<v1::TaskResult> produced = producer_dagd.WaitForResults(2);
  ASSERT_EQ(produced.size(), 2u);
  for (const v1::TaskResult& result : produced) {
    ASSERT_TRUE(result.ok()) << result.error();
    EXPECT_FALSE(result.has_output());
    EXPECT_EQ(result.output_ref().size(), 100'002u);  // JSON strings
    EXPECT_EQ(result.output_ref().holder().address(), producer_address);
  }
  // Each over the whole memory budget: both in spill files.
  EXPECT_EQ(FilesUnder((*spill_parent)->path()).size(), 2u);

  v1::CoordinatorBatch consume;
  for (uint32_t i = 0; i < values.size(); ++i) {
    v1::Assignment identity = Assign(i, "identity", "null");
    identity.add_inputs();
    (*identity.mutable_input_refs())[0] = produced[i].output_ref();
    *consume.add_assignments() = std::move(identity);
  }
  ASSERT_TRUE(consumer_dagd.fake.Send(consume));
  std::vector<v1::TaskResult> consumed = consumer_dagd.WaitForResults(2);
  ASSERT_EQ(consumed.size(), 2u);
  for (uint32_t i = 0; i < values.size(); ++i) {
    ASSERT_TRUE(consumed[i].ok()) << consumed[i].error();
    EXPECT_TRUE(consumed[i].output().data() ==
                absl::StrCat("\"", values[i], "\""))
        << "task " << i;
  }
  FakeCoordinator& p = producer_dagd.fake;
  ASSERT_TRUE(p.WaitUntil([&] {
    return p.last_heartbeat_.sent_bytes() == 200'004 &&
           p.last_heartbeat_.spilled_bytes() == 200'004 &&
           p.last_heartbeat_.held_bytes() == 200'004;
  }));
  FakeCoordinator& c = consumer_dagd.fake;
  ASSERT_TRUE(c.WaitUntil([&] {
    return c.last_heartbeat_.fetched_bytes() == 200'004 &&
           c.last_heartbeat_.transfer_seconds() > 0;
  }));

  v1::CoordinatorBatch release;
  for (const v1::TaskResult& result : produced) {
    release.add_release(result.output_ref().key());
  }
  ASSERT_TRUE(p.Send(release));
  ASSERT_TRUE(p.WaitUntil([&] {
    return p.last_heartbeat_.held_bytes() == 0 &&
           p.last_heartbeat_.spilled_bytes() == 0;
  }));
  EXPECT_TRUE(FilesUnder((*spill_parent)->path()).empty());

  producer.Signal(SIGTERM);
  EXPECT_EQ(producer.WaitForExit(), 0);
  EXPECT_TRUE(std::filesystem::is_empty((*spill_parent)->path()))
      << "the private spill directory is removed at exit";
}

TEST(WorkerMainTest, WithoutADataListenItHoldsNothing) {
  CoordinatorServer dagd;
  dagd.fake.SetResultLimits(16, 0);
  WorkerProcess worker;
  ASSERT_TRUE(worker.Start(
      {absl::StrCat("--coordinator=", dagd.address), "--data_listen="}));
  ASSERT_TRUE(worker.WaitForLine("registered as worker").has_value());
  {
    absl::MutexLock lock(&dagd.fake.mu_);
    EXPECT_EQ(dagd.fake.registers_[0].data_address(), "");
  }
  v1::CoordinatorBatch batch;
  *batch.add_assignments() =
      Assign(0, "const",
             absl::StrCat(R"({"value": ")", std::string(100, 'v'), R"("})"));
  ASSERT_TRUE(dagd.fake.Send(batch));
  std::vector<v1::TaskResult> results = dagd.WaitForResults(1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].output().data().size(), 102u);  // inline
  EXPECT_FALSE(results[0].has_output_ref());
}

}  // namespace
}  // namespace dagd
