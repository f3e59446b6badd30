// Processes for integration tests: a Subprocess that runs a binary with its
// output captured to files, and DagdProcess, which runs a real dagd on
// loopback and starts dagd-worker and dagctl processes against it.
//
// Every process started here is SIGKILLed (with its process group) when the
// object that started it is destroyed, and gets SIGKILL if the test process
// dies, so a failing or crashing test leaves nothing running.
//
// Nothing here sleeps to wait: exits are waited on through a pidfd with a
// deadline; conditions with no event to wait on (a port file appearing, a
// worker registering) are polled at a short interval until a deadline.
//
// Not thread-safe: one test thread drives these objects.
#ifndef DAGD_TESTS_TESTUTIL_PROCESS_H_
#define DAGD_TESTS_TESTUTIL_PROCESS_H_

#include <signal.h>
#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/client.h"

namespace dagd::testing {

// A directory under $TEST_TMPDIR (else /tmp), removed with its contents on
// destruction.
class TempDir {
 public:
  static absl::StatusOr<std::unique_ptr<TempDir>> Create(
      absl::string_view prefix = "dagd-test-");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // Keeps the directory on destruction (to look at logs of a failed test).
  void Keep() { keep_ = true; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  const std::string path_;
  bool keep_ = false;
};

// Reads a whole file; an empty string if it cannot be read.
std::string ReadFileOrEmpty(const std::string& path);
absl::Status WriteFile(const std::string& path, absl::string_view data);

// Calls `condition` every `interval` until it returns true or `timeout`
// passes; DEADLINE_EXCEEDED naming `what` in the latter case.
absl::Status PollUntil(const std::function<bool()>& condition,
                       absl::Duration timeout, absl::string_view what,
                       absl::Duration interval = absl::Milliseconds(10));

// How a process ended.
struct ExitStatus {
  bool exited = false;  // it called exit(); `code` is valid
  int code = -1;
  int signal = 0;  // the signal that killed it, if !exited

  bool ok() const { return exited && code == 0; }
  std::string ToString() const;  // "exit 0", "killed by signal 9 (Killed)"
};
std::ostream& operator<<(std::ostream& os, const ExitStatus& status);

struct SubprocessOptions {
  std::vector<std::string> argv;  // argv[0] is the binary's path
  // Added to (or replacing in) the test's own environment.
  std::vector<std::pair<std::string, std::string>> env;
  // Becomes the child's standard input (through a file); empty: /dev/null.
  std::string stdin_data;
  // Standard output and error go to <output_prefix>.stdout / .stderr.
  std::string output_prefix;
};

class Subprocess {
 public:
  // Starts the process in a process group of its own. Fails if the binary
  // cannot be executed.
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(
      SubprocessOptions options);
  // SIGKILLs the process group if the process was not waited for, and
  // reaps it.
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  // Sends `signal` to the process (not its group). No-op once reaped.
  void Kill(int signal);
  // Sends `signal` to its whole process group. No-op once reaped.
  void KillGroup(int signal);
  // Waits for the process to end, at most `timeout`; DEADLINE_EXCEEDED if it
  // is still running then. Once it ended, returns the same status again.
  absl::StatusOr<ExitStatus> Wait(absl::Duration timeout);
  // True while the process has not ended (does not block).
  bool Running();

  std::string Stdout() const { return ReadFileOrEmpty(stdout_path_); }
  std::string Stderr() const { return ReadFileOrEmpty(stderr_path_); }
  const std::string& stdout_path() const { return stdout_path_; }
  const std::string& stderr_path() const { return stderr_path_; }
  const std::vector<std::string>& argv() const { return argv_; }

 private:
  Subprocess(pid_t pid, int pidfd, std::vector<std::string> argv,
             std::string stdout_path, std::string stderr_path);
  // Reaps the process if it has ended; true if it has (now or before).
  bool TryReap();

  const pid_t pid_;
  const int pidfd_;  // -1 if pidfd_open is unavailable: Wait polls instead
  const std::vector<std::string> argv_;
  const std::string stdout_path_;
  const std::string stderr_path_;
  bool reaped_ = false;
  ExitStatus exit_;  // valid once reaped_
};

// What a finished command printed and how it ended.
struct CommandResult {
  int exit_code = -1;  // -1 if it was killed by a signal or timed out
  std::string out;
  std::string err;
  std::string ToString() const;  // for failure messages
};

// The binaries a DagdProcess runs (tests pass the build's paths).
struct DagdBinaries {
  std::string dagd;
  std::string worker;
  std::string dagctl;
};

struct DagdOptions {
  DagdBinaries binaries;
  // Empty: a fresh directory inside the DagdProcess's temp dir. Set it to
  // run a second dagd on the database of a first one.
  std::string data_dir;
  // More dagd flags, e.g. "--local_workers=2". --listen, --port_file,
  // --data_dir, --metrics_listen and --worker_binary are set already.
  std::vector<std::string> flags;
  absl::Duration start_timeout = absl::Seconds(20);
  // How client() connects (a token, TLS), and how Start and WaitForWorkers
  // reach dagd.
  ClientOptions client;
};

// A dagd on 127.0.0.1 with a free port, and the processes started against
// it. The destructor kills them all; call Stop() to check a clean exit.
class DagdProcess {
 public:
  // Starts dagd and waits until it has written its port file (it is then
  // serving). On failure the error carries dagd's log.
  static absl::StatusOr<std::unique_ptr<DagdProcess>> Start(
      DagdOptions options);
  // Kills dagd, its local workers, and every worker started by StartWorker.
  // If the current test failed, prints where the logs are and keeps them.
  ~DagdProcess();
  DagdProcess(const DagdProcess&) = delete;
  DagdProcess& operator=(const DagdProcess&) = delete;

  int port() const { return port_; }
  std::string address() const;  // "127.0.0.1:PORT"
  const std::string& data_dir() const { return data_dir_; }
  // A client connected to this dagd, made on first use. Stop() closes it
  // (references to it dangle then); the next call makes a new one.
  Client& client();

  // Closes client(), sends `signal` (SIGTERM or SIGINT: both ask for a
  // clean stop), then waits up to `timeout`. OK only if dagd exited with 0;
  // otherwise the error says how it ended and carries the end of its log.
  absl::Status Stop(absl::Duration timeout = absl::Seconds(20),
                    int signal = SIGTERM);
  // Sends `signal` to dagd and returns at once (Stop() still waits later).
  void Signal(int signal) { dagd_->Kill(signal); }
  // Waits up to `timeout` for dagd to end, however it ends (after Signal):
  // until then it holds its data directory's lock, and a dagd started on
  // the same directory would find it taken.
  absl::Status WaitForExit(absl::Duration timeout = absl::Seconds(20)) {
    return dagd_->Wait(timeout).status();
  }
  // dagd's standard error so far (its log).
  std::string Log() const;
  // Polls the log until it holds `text`; DEADLINE_EXCEEDED naming `what`
  // (what the test waits for) and carrying the log, else.
  absl::Status WaitForLog(absl::string_view text, absl::string_view what,
                          absl::Duration timeout = absl::Seconds(10)) const;

  // Starts a dagd-worker connected to this dagd with `flags` added (e.g.
  // "--plugin=...", "--slots=2"). Owned by this object.
  absl::StatusOr<Subprocess*> StartWorker(std::vector<std::string> flags = {});
  // Polls ListWorkers until at least `count` workers are registered.
  absl::Status WaitForWorkers(size_t count,
                              absl::Duration timeout = absl::Seconds(20));

  // Runs dagctl with DAGD_SERVER set to this dagd (and `env`), waits for
  // it (at most `timeout`, then kills it) and returns what it printed.
  CommandResult RunDagctl(
      const std::vector<std::string>& args, const std::string& stdin_data = "",
      absl::Duration timeout = absl::Seconds(60),
      std::vector<std::pair<std::string, std::string>> env = {});

 private:
  DagdProcess(DagdOptions options, std::unique_ptr<TempDir> dir,
              std::string data_dir);
  absl::Status Launch();
  std::string NextOutputPrefix(absl::string_view name);

  const DagdOptions options_;
  const std::unique_ptr<TempDir> dir_;  // logs, port file, default data dir
  const std::string data_dir_;
  std::unique_ptr<Subprocess> dagd_;
  int port_ = 0;
  std::unique_ptr<Client> client_;  // null until client() is first called
  std::vector<std::unique_ptr<Subprocess>> workers_;
  int outputs_ = 0;  // numbers the output files of started processes
};

// Runs `binary` with `args` and `env` (added to the test's environment),
// output captured; kills it after `timeout`.
CommandResult RunCommand(
    const std::string& binary, const std::vector<std::string>& args,
    const std::vector<std::pair<std::string, std::string>>& env,
    const std::string& stdin_data, const std::string& output_prefix,
    absl::Duration timeout = absl::Seconds(60));

}  // namespace dagd::testing

#endif  // DAGD_TESTS_TESTUTIL_PROCESS_H_
