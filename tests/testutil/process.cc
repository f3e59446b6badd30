#include "tests/testutil/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

extern char** environ;

namespace dagd::testing {
namespace {

// The last `max_bytes` of `text`, for error messages.
std::string Tail(const std::string& text, size_t max_bytes = 4000) {
  if (text.size() <= max_bytes) return text;
  return absl::StrCat("...", text.substr(text.size() - max_bytes));
}

// The test's environment with `extra` added or replacing entries.
std::vector<std::string> MergedEnvironment(
    const std::vector<std::pair<std::string, std::string>>& extra) {
  std::map<std::string, std::string> merged;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    absl::string_view text(*entry);
    const size_t eq = text.find('=');
    if (eq == absl::string_view::npos) continue;
    merged[std::string(text.substr(0, eq))] = std::string(text.substr(eq + 1));
  }
  for (const auto& [name, value] : extra) merged[name] = value;
  std::vector<std::string> env;
  for (const auto& [name, value] : merged) {
    env.push_back(absl::StrCat(name, "=", value));
  }
  return env;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> raw;
  for (std::string& s : strings) raw.push_back(s.data());
  raw.push_back(nullptr);
  return raw;
}

// In the child, between fork and exec: async-signal-safe calls only.
[[noreturn]] void ExecChild(pid_t parent, const char* stdin_path,
                            const char* stdout_path, const char* stderr_path,
                            char* const* argv, char* const* envp,
                            int error_pipe) {
  auto fail = [error_pipe]() {
    const int error = errno;
    (void)!write(error_pipe, &error, sizeof(error));
    _exit(127);
  };
  setpgid(0, 0);
  // Dies with the test, even if the test is killed with SIGKILL. (Strictly,
  // with the thread that forked: tests start processes from their main
  // thread.)
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail();
  if (getppid() != parent) _exit(1);
  // Opened O_CLOEXEC so only the copies at 0, 1 and 2 reach the binary.
  auto open_as = [&fail](const char* path, int flags, int target) {
    const int fd = open(path, flags | O_CLOEXEC, 0644);
    if (fd < 0) fail();
    // dup2 onto itself would keep O_CLOEXEC (the test had `target` closed).
    if (fd == target ? fcntl(fd, F_SETFD, 0) < 0 : dup2(fd, target) < 0) {
      fail();
    }
  };
  open_as(stdin_path, O_RDONLY, 0);
  open_as(stdout_path, O_WRONLY | O_CREAT | O_TRUNC, 1);
  open_as(stderr_path, O_WRONLY | O_CREAT | O_TRUNC, 2);
  // gRPC ignores SIGPIPE in the test; an ignored signal survives exec.
  struct sigaction action;
  std::memset(&action, 0, sizeof(action));
  action.sa_handler = SIG_DFL;
  sigaction(SIGPIPE, &action, nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execve(argv[0], argv, envp);
  fail();
  _exit(127);  // not reached: fail() exits
}

ExitStatus FromWaitStatus(int status) {
  ExitStatus exit;
  if (WIFEXITED(status)) {
    exit.exited = true;
    exit.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    exit.signal = WTERMSIG(status);
  }
  return exit;
}

}  // namespace

// --- TempDir, files, polling ---

absl::StatusOr<std::unique_ptr<TempDir>> TempDir::Create(
    absl::string_view prefix) {
  const char* root = std::getenv("TEST_TMPDIR");
  std::string pattern = absl::StrCat(
      root != nullptr && *root != '\0' ? root : "/tmp", "/", prefix, "XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(
        absl::StrCat("mkdtemp ", pattern, ": ", std::strerror(errno)));
  }
  return std::unique_ptr<TempDir>(new TempDir(pattern));
}

TempDir::~TempDir() {
  if (keep_) return;
  std::error_code error;
  std::filesystem::remove_all(path_, error);
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream data;
  data << in.rdbuf();
  return data.str();
}

absl::Status WriteFile(const std::string& path, absl::string_view data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

absl::Status PollUntil(const std::function<bool()>& condition,
                       absl::Duration timeout, absl::string_view what,
                       absl::Duration interval) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("timed out after ", absl::FormatDuration(timeout),
                       " waiting for ", what));
    }
    absl::SleepFor(interval);
  }
  return absl::OkStatus();
}

// --- Subprocess ---

std::string ExitStatus::ToString() const {
  if (exited) return absl::StrCat("exit ", code);
  if (signal != 0) {
    return absl::StrCat("killed by signal ", signal, " (", strsignal(signal),
                        ")");
  }
  return "unknown";
}

std::ostream& operator<<(std::ostream& os, const ExitStatus& status) {
  return os << status.ToString();
}

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Start(
    SubprocessOptions options) {
  if (options.argv.empty()) return absl::InvalidArgumentError("empty argv");
  if (options.output_prefix.empty()) {
    return absl::InvalidArgumentError("no output_prefix");
  }
  std::string stdin_path = "/dev/null";
  if (!options.stdin_data.empty()) {
    stdin_path = absl::StrCat(options.output_prefix, ".stdin");
    if (absl::Status s = WriteFile(stdin_path, options.stdin_data); !s.ok()) {
      return s;
    }
  }
  const std::string stdout_path =
      absl::StrCat(options.output_prefix, ".stdout");
  const std::string stderr_path =
      absl::StrCat(options.output_prefix, ".stderr");
  // Everything the child needs is built before fork: after it, only
  // async-signal-safe calls are allowed (the test has other threads).
  std::vector<std::string> argv = options.argv;
  std::vector<std::string> env = MergedEnvironment(options.env);
  std::vector<char*> raw_argv = CStrings(argv);
  std::vector<char*> raw_env = CStrings(env);
  int error_pipe[2];
  if (pipe2(error_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    const int error = errno;
    close(error_pipe[0]);
    close(error_pipe[1]);
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(error)));
  }
  if (pid == 0) {
    close(error_pipe[0]);
    ExecChild(parent, stdin_path.c_str(), stdout_path.c_str(),
              stderr_path.c_str(), raw_argv.data(), raw_env.data(),
              error_pipe[1]);
  }
  close(error_pipe[1]);
  // Also set here, so the group exists even before the child runs.
  setpgid(pid, pid);
  int child_errno = 0;
  ssize_t n;
  do {
    n = read(error_pipe[0], &child_errno, sizeof(child_errno));
  } while (n < 0 && errno == EINTR);
  close(error_pipe[0]);
  // glibc 2.36 declares pidfd_open without C linkage; use the syscall.
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  auto process = std::unique_ptr<Subprocess>(
      new Subprocess(pid, pidfd, options.argv, stdout_path, stderr_path));
  if (n > 0) {
    // Reaped by the destructor.
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot run ", options.argv[0], ": ", std::strerror(child_errno)));
  }
  return process;
}

Subprocess::Subprocess(pid_t pid, int pidfd, std::vector<std::string> argv,
                       std::string stdout_path, std::string stderr_path)
    : pid_(pid),
      pidfd_(pidfd),
      argv_(std::move(argv)),
      stdout_path_(std::move(stdout_path)),
      stderr_path_(std::move(stderr_path)) {}

Subprocess::~Subprocess() {
  if (!reaped_) {
    kill(-pid_, SIGKILL);
    kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (pidfd_ >= 0) close(pidfd_);
}

void Subprocess::Kill(int signal) {
  if (!reaped_) kill(pid_, signal);
}

void Subprocess::KillGroup(int signal) {
  if (!reaped_) kill(-pid_, signal);
}

bool Subprocess::TryReap() {
  if (reaped_) return true;
  int status = 0;
  pid_t r;
  do {
    r = waitpid(pid_, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == 0) return false;
  reaped_ = true;
  exit_ = r == pid_ ? FromWaitStatus(status) : ExitStatus{};
  return true;
}

bool Subprocess::Running() { return !TryReap(); }

absl::StatusOr<ExitStatus> Subprocess::Wait(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!TryReap()) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(absl::StrCat(
          argv_[0], " still running after ", absl::FormatDuration(timeout)));
    }
    if (pidfd_ >= 0) {
      // Readable once the process has exited.
      pollfd fd = {pidfd_, POLLIN, 0};
      const int ms = static_cast<int>(
          std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 1000));
      poll(&fd, 1, ms);
    } else {
      absl::SleepFor(std::min(left, absl::Milliseconds(5)));
    }
  }
  return exit_;
}

std::string CommandResult::ToString() const {
  return absl::StrCat("exit code ", exit_code, "\n--- stdout ---\n", out,
                      "\n--- stderr ---\n", err);
}

CommandResult RunCommand(
    const std::string& binary, const std::vector<std::string>& args,
    const std::vector<std::pair<std::string, std::string>>& env,
    const std::string& stdin_data, const std::string& output_prefix,
    absl::Duration timeout) {
  SubprocessOptions options;
  options.argv = {binary};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.env = env;
  options.stdin_data = stdin_data;
  options.output_prefix = output_prefix;
  CommandResult result;
  absl::StatusOr<std::unique_ptr<Subprocess>> process =
      Subprocess::Start(std::move(options));
  if (!process.ok()) {
    result.err = std::string(process.status().message());
    return result;
  }
  absl::StatusOr<ExitStatus> exit = (*process)->Wait(timeout);
  if (!exit.ok()) {
    (*process)->KillGroup(SIGKILL);
    exit = (*process)->Wait(absl::Seconds(10));
    result.err =
        absl::StrCat("[killed after ", absl::FormatDuration(timeout), "]\n");
  }
  if (exit.ok() && exit->exited) result.exit_code = exit->code;
  result.out = (*process)->Stdout();
  absl::StrAppend(&result.err, (*process)->Stderr());
  return result;
}

// --- DagdProcess ---

absl::StatusOr<std::unique_ptr<DagdProcess>> DagdProcess::Start(
    DagdOptions options) {
  absl::StatusOr<std::unique_ptr<TempDir>> dir = TempDir::Create("dagd-it-");
  if (!dir.ok()) return dir.status();
  std::string data_dir = options.data_dir.empty()
                             ? absl::StrCat((*dir)->path(), "/data")
                             : options.data_dir;
  auto dagd = std::unique_ptr<DagdProcess>(new DagdProcess(
      std::move(options), *std::move(dir), std::move(data_dir)));
  if (absl::Status s = dagd->Launch(); !s.ok()) return s;
  return dagd;
}

DagdProcess::DagdProcess(DagdOptions options, std::unique_ptr<TempDir> dir,
                         std::string data_dir)
    : options_(std::move(options)),
      dir_(std::move(dir)),
      data_dir_(std::move(data_dir)) {}

DagdProcess::~DagdProcess() {
  // Inside a test, that test's failures count; in a suite's teardown (a
  // dagd shared by the suite), any failed test of the suite.
  const ::testing::UnitTest* unit = ::testing::UnitTest::GetInstance();
  bool failed = false;
  if (unit->current_test_info() != nullptr) {
    failed = ::testing::Test::HasFailure();
  } else if (unit->current_test_suite() != nullptr) {
    failed = unit->current_test_suite()->Failed();
  }
  workers_.clear();
  dagd_.reset();
  if (failed) {
    dir_->Keep();
    std::cerr << "[dagd logs kept in " << dir_->path() << "]\n";
  }
}

std::string DagdProcess::address() const {
  return absl::StrCat("127.0.0.1:", port_);
}

std::string DagdProcess::NextOutputPrefix(absl::string_view name) {
  return absl::StrCat(dir_->path(), "/", ++outputs_, "-", name);
}

absl::Status DagdProcess::Launch() {
  const std::string port_file = absl::StrCat(dir_->path(), "/port");
  SubprocessOptions options;
  options.argv = {options_.binaries.dagd,
                  "--listen=127.0.0.1:0",
                  absl::StrCat("--port_file=", port_file),
                  absl::StrCat("--data_dir=", data_dir_),
                  "--metrics_listen=127.0.0.1:0",
                  absl::StrCat("--worker_binary=", options_.binaries.worker)};
  options.argv.insert(options.argv.end(), options_.flags.begin(),
                      options_.flags.end());
  options.output_prefix = NextOutputPrefix("dagd");
  absl::StatusOr<std::unique_ptr<Subprocess>> dagd =
      Subprocess::Start(std::move(options));
  if (!dagd.ok()) return dagd.status();
  dagd_ = *std::move(dagd);
  bool exited = false;
  absl::Status waited = PollUntil(
      [&] {
        if (!dagd_->Running()) {
          exited = true;
          return true;
        }
        std::string text = ReadFileOrEmpty(port_file);
        return absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &port_) &&
               port_ > 0;
      },
      options_.start_timeout, "dagd to write its --port_file");
  if (exited || !waited.ok()) {
    absl::StatusOr<ExitStatus> exit = dagd_->Wait(absl::ZeroDuration());
    return absl::InternalError(absl::StrCat(
        "dagd did not start (",
        exit.ok() ? exit->ToString() : std::string(waited.message()),
        "); its log:\n", Tail(Log())));
  }
  return absl::OkStatus();
}

std::string DagdProcess::Log() const {
  return dagd_ != nullptr ? dagd_->Stderr() : "";
}

absl::Status DagdProcess::WaitForLog(absl::string_view text,
                                     absl::string_view what,
                                     absl::Duration timeout) const {
  absl::Status found = PollUntil([&] { return absl::StrContains(Log(), text); },
                                 timeout, std::string(what));
  if (found.ok()) return found;
  return absl::Status(found.code(),
                      absl::StrCat(found.message(), "; dagd's log:\n", Log()));
}

Client& DagdProcess::client() {
  if (client_ == nullptr) client_ = Client::Connect(address(), options_.client);
  return *client_;
}

absl::Status DagdProcess::Stop(absl::Duration timeout, int signal) {
  // An open channel holds dagd's gRPC shutdown for its whole grace period;
  // a client that wants to see that behaviour keeps its own.
  client_.reset();
  dagd_->Kill(signal);
  absl::StatusOr<ExitStatus> exit = dagd_->Wait(timeout);
  if (!exit.ok()) {
    return absl::DeadlineExceededError(
        absl::StrCat("dagd did not stop within ", absl::FormatDuration(timeout),
                     " of ", strsignal(signal), "; its log:\n", Tail(Log())));
  }
  if (!exit->ok()) {
    return absl::InternalError(absl::StrCat(
        "dagd ended with ", exit->ToString(), "; its log:\n", Tail(Log())));
  }
  return absl::OkStatus();
}

absl::StatusOr<Subprocess*> DagdProcess::StartWorker(
    std::vector<std::string> flags) {
  SubprocessOptions options;
  options.argv = {options_.binaries.worker,
                  absl::StrCat("--coordinator=", address())};
  options.argv.insert(options.argv.end(), flags.begin(), flags.end());
  options.output_prefix = NextOutputPrefix("worker");
  absl::StatusOr<std::unique_ptr<Subprocess>> worker =
      Subprocess::Start(std::move(options));
  if (!worker.ok()) return worker.status();
  workers_.push_back(*std::move(worker));
  return workers_.back().get();
}

absl::Status DagdProcess::WaitForWorkers(size_t count, absl::Duration timeout) {
  size_t seen = 0;
  absl::Status last_error;
  absl::Status waited = PollUntil(
      [&] {
        absl::StatusOr<v1::ListWorkersResponse> workers =
            client().ListWorkers();
        if (!workers.ok()) {
          last_error = workers.status();
          return false;
        }
        seen = workers->workers_size();
        return seen >= count;
      },
      timeout, absl::StrCat(count, " worker(s) to register"),
      absl::Milliseconds(20));
  if (waited.ok()) return waited;
  std::string logs;
  for (const auto& worker : workers_) {
    absl::StrAppend(&logs, "\n--- ", absl::StrJoin(worker->argv(), " "),
                    " ---\n", Tail(worker->Stderr(), 2000));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      waited.message(), " (", seen, " registered",
      last_error.ok() ? "" : absl::StrCat("; ", last_error.message()),
      "); dagd log:\n", Tail(Log(), 2000), logs));
}

CommandResult DagdProcess::RunDagctl(
    const std::vector<std::string>& args, const std::string& stdin_data,
    absl::Duration timeout,
    std::vector<std::pair<std::string, std::string>> env) {
  env.emplace_back("DAGD_SERVER", address());
  return RunCommand(options_.binaries.dagctl, args, env, stdin_data,
                    NextOutputPrefix("dagctl"), timeout);
}

}  // namespace dagd::testing
