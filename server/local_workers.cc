#include "server/local_workers.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/log.h"

namespace dagd {

std::string DefaultWorkerBinary() {
  std::error_code error;
  std::filesystem::path self =
      std::filesystem::read_symlink("/proc/self/exe", error);
  if (!error) {
    std::filesystem::path beside = self.parent_path() / "dagd-worker";
    if (std::filesystem::exists(beside, error)) return beside.string();
  }
  return "dagd-worker";
}

LocalWorkers::LocalWorkers(std::string binary, std::vector<std::string> args)
    : binary_(std::move(binary)), args_(std::move(args)) {}

LocalWorkers::~LocalWorkers() { Stop(absl::Seconds(5)); }

absl::Status LocalWorkers::Start(int count) {
  for (int i = 0; i < count; ++i) {
    std::vector<std::string> argv = {binary_};
    argv.insert(argv.end(), args_.begin(), args_.end());
    argv.push_back(absl::StrCat("--name=local-", i + 1));
    std::vector<char*> raw;
    for (std::string& arg : argv) raw.push_back(arg.data());
    raw.push_back(nullptr);
    const pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
      return absl::InternalError(
          absl::StrCat("cannot start a local worker: ", std::strerror(errno)));
    }
    if (pid == 0) {
      // The worker must not outlive a dagd killed with SIGKILL.
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (getppid() != parent) _exit(1);
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      execvp(raw[0], raw.data());
      const char msg[] = "dagd: cannot run the local worker binary\n";
      (void)!write(2, msg, sizeof(msg) - 1);
      _exit(127);
    }
    pids_.push_back(pid);
  }
  if (count > 0) {
    LOG(INFO) << "started " << count << " local worker(s) from " << binary_;
  }
  return absl::OkStatus();
}

void LocalWorkers::Stop(absl::Duration grace) {
  for (pid_t pid : pids_) kill(pid, SIGTERM);
  const absl::Time deadline = absl::Now() + grace;
  for (pid_t pid : pids_) {
    while (waitpid(pid, nullptr, WNOHANG) == 0) {
      if (absl::Now() >= deadline) {
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
        break;
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
  }
  pids_.clear();
}

}  // namespace dagd
