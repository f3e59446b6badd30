#include "worker/subprocess.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace dagd {
namespace {

// glibc 2.36's <sys/pidfd.h> lacks C linkage for C++, so call the kernel
// directly. A pidfd becomes readable when its process exits.
int PidfdOpen(pid_t pid) {
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
}

absl::Status ErrnoError(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", strerror(errno)));
}

// An owned file descriptor.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void Reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

// Pointers into `strings`, null-terminated, built before fork because the
// child must not allocate.
std::vector<char*> CStringArray(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const std::string& s : strings)
    out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

std::string PathFromEnv(const std::vector<std::string>& env) {
  for (const std::string& entry : env) {
    if (absl::StartsWith(entry, "PATH=")) return entry.substr(5);
  }
  return "/usr/local/bin:/usr/bin:/bin";
}

// The fds the child inherits as its stdin, stdout and stderr.
struct ChildStdio {
  Fd in, out, err;
};

absl::StatusOr<int> OpenFile(const std::string& path, int flags) {
  int fd = open(path.c_str(), flags | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError(absl::StrCat("cannot open ", path));
  return fd;
}

absl::Status OpenStdio(const SubprocessSpec& spec, ChildStdio* stdio) {
  // Made here, never opened through a link or over a file already there:
  // with run_as the folder is that user's, and another of its programs
  // could have put there a link to any file, which the worker (root) would
  // have truncated and filled with this program's output.
  const int kWrite = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW;
  auto in = OpenFile("/dev/null", O_RDONLY);
  if (!in.ok()) return in.status();
  stdio->in.Reset(*in);
  auto out = OpenFile(spec.stdout_path, kWrite);
  if (!out.ok()) return out.status();
  stdio->out.Reset(*out);
  auto err = OpenFile(spec.stderr_path, kWrite);
  if (!err.ok()) return err.status();
  stdio->err.Reset(*err);
  if (spec.run_as) {
    // The program's own, so that it may open them again (/dev/stdout).
    for (int fd : {*out, *err}) {
      if (fchown(fd, spec.run_as->uid, spec.run_as->gid) != 0) {
        return ErrnoError(
            absl::StrCat("cannot give the program's stdout "
                         "and stderr to ",
                         spec.run_as->name));
      }
    }
  }
  return absl::OkStatus();
}

// Runs in the forked child: async-signal-safe calls only. Reports an exec
// failure's errno through `error_fd` (close-on-exec, so a successful exec
// closes it and the parent reads EOF).
[[noreturn]] void ExecChild(const char* path, char* const* argv,
                            char* const* envp, const ChildStdio& stdio,
                            const RunAs* run_as, const char* cgroup_procs,
                            pid_t parent, int error_fd) {
  setpgid(0, 0);
  // Into the attempt's cgroup before anything else, while still the
  // worker's user (the group's files are the worker's). Failing that, the
  // parent sees it is not there and falls back to the tag.
  if (cgroup_procs != nullptr) {
    const int fd = open(cgroup_procs, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      ssize_t ignored = write(fd, "0", 1);
      (void)ignored;
      close(fd);
    }
  }
  // Groups first: once the uid changes, the right to change them is gone.
  if (run_as != nullptr &&
      (setgroups(run_as->groups.size(), run_as->groups.data()) != 0 ||
       setgid(run_as->gid) != 0 || setuid(run_as->uid) != 0)) {
    int error = errno;
    ssize_t ignored = write(error_fd, &error, sizeof(error));
    (void)ignored;
    _exit(127);
  }
  // Dies with the worker: a worker killed with -9 leaves no program
  // running on with nobody to stop it. The signal follows the thread that
  // forked, which waits for this process until it ends. Set after the
  // uid changes, which clear it.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);  // the worker is already gone
  // A worker started with its own stdio closed opened these at 0-2
  // already; dup2 onto itself would leave them close-on-exec, and the
  // program would start without them.
  for (auto [fd, target] : {std::pair{stdio.in.get(), STDIN_FILENO},
                            {stdio.out.get(), STDOUT_FILENO},
                            {stdio.err.get(), STDERR_FILENO}}) {
    if (fd == target) {
      fcntl(fd, F_SETFD, 0);
    } else {
      dup2(fd, target);
    }
  }
  // The worker blocks SIGTERM/SIGINT for its signal thread and gRPC may
  // ignore SIGPIPE; the program deserves default signal behaviour.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  signal(SIGPIPE, SIG_DFL);
  // Do not leak the worker's sockets and files into the program.
  close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  execve(path, argv, envp);
  int error = errno;
  ssize_t ignored = write(error_fd, &error, sizeof(error));
  (void)ignored;
  _exit(127);
}

// Blocks until the child has exec'd (EOF) or reported why it could not.
absl::Status AwaitExec(int error_fd, const std::string& program) {
  int error = 0;
  ssize_t n;
  do {
    n = read(error_fd, &error, sizeof(error));
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof(error))) {
    return MakePermanent(absl::NotFoundError(
        absl::StrCat("cannot execute '", program, "': ", strerror(error))));
  }
  return absl::OkStatus();
}

absl::StatusOr<pid_t> Spawn(const SubprocessSpec& spec, const std::string& path,
                            const AttemptCgroup* cgroup) {
  ChildStdio stdio;
  if (auto status = OpenStdio(spec, &stdio); !status.ok()) return status;
  std::vector<char*> argv = CStringArray(spec.argv);
  std::vector<char*> envp = CStringArray(spec.env);
  int error_pipe[2];
  if (pipe2(error_pipe, O_CLOEXEC) != 0) return ErrnoError("pipe2");
  Fd error_read(error_pipe[0]), error_write(error_pipe[1]);
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return ErrnoError("fork");
  if (pid == 0) {
    ExecChild(path.c_str(), argv.data(), envp.data(), stdio,
              spec.run_as ? &*spec.run_as : nullptr,
              cgroup != nullptr ? cgroup->procs_path().c_str() : nullptr,
              parent, error_pipe[1]);
  }
  // Also set the group from the parent so it exists before we could kill
  // it; EACCES once the child has exec'd is harmless.
  setpgid(pid, pid);
  error_write.Reset();
  absl::Status exec_status = AwaitExec(error_read.get(), spec.argv[0]);
  if (!exec_status.ok()) {
    waitpid(pid, nullptr, 0);
    return exec_status;
  }
  return pid;
}

// Waits for the child to exit or for cancellation. Returns true if
// cancelled. Uses a pidfd so no SIGCHLD handling or polling is needed.
absl::StatusOr<bool> AwaitExitOrCancel(pid_t pid, TaskContext& context) {
  Fd wake(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (wake.get() < 0) return ErrnoError("eventfd");
  Fd pidfd(PidfdOpen(pid));
  int callback = context.AddCancelCallback([fd = wake.get()] {
    uint64_t one = 1;
    ssize_t ignored = write(fd, &one, sizeof(one));
    (void)ignored;
  });
  absl::Cleanup remove = [&] { context.RemoveCancelCallback(callback); };
  pollfd fds[2] = {{wake.get(), POLLIN, 0}, {pidfd.get(), POLLIN, 0}};
  // Without pidfd (old kernels) fall back to checking every 20 ms.
  int timeout_ms = pidfd.get() >= 0 ? -1 : 20;
  while (true) {
    int n = poll(fds, pidfd.get() >= 0 ? 2 : 1, timeout_ms);
    if (n < 0 && errno != EINTR) return ErrnoError("poll");
    if (fds[0].revents & POLLIN) return true;
    if (pidfd.get() >= 0 && (fds[1].revents & POLLIN)) return false;
    if (pidfd.get() < 0) {
      siginfo_t info{};
      if (waitid(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
          info.si_pid == pid) {
        return false;
      }
    }
  }
}

// /proc/PID/FILE (its first 64 KiB), or "" when the process is gone or
// not ours to read. Plain read(2): a process may exit while /proc is
// scanned, and libstdc++'s filebuf throws on that read error (ESRCH)
// instead of reporting end of file.
std::string ReadProcFile(pid_t pid, const char* file) {
  const std::string path = absl::StrCat("/proc/", pid, "/", file);
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  std::string text;
  char buffer[4096];
  ssize_t n;
  while (text.size() < (64 << 10) &&
         (n = read(fd, buffer, sizeof(buffer))) > 0) {
    text.append(buffer, n);
  }
  close(fd);
  return text;
}

bool ParseStatPgrp(const std::string& stat, pid_t* pgrp, char* state) {
  // The comm field may contain spaces and parentheses; fields resume after
  // the last ')'.
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(stat.substr(close + 1));
  int ppid;
  return static_cast<bool>(rest >> *state >> ppid >> *pgrp);
}

}  // namespace

absl::StatusOr<std::string> FindExecutable(const std::string& program,
                                           const std::string& path) {
  if (program.find('/') != std::string::npos) return program;
  for (absl::string_view dir : absl::StrSplit(path, ':')) {
    std::string candidate = absl::StrCat(dir.empty() ? "." : dir, "/", program);
    struct stat st;
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return MakePermanent(absl::NotFoundError(
      absl::StrCat("program '", program, "' not found in PATH ", path)));
}

std::vector<pid_t> LiveProcessGroupMembers(pid_t pgid) {
  std::vector<pid_t> members;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return members;
  while (dirent* entry = readdir(proc)) {
    pid_t pid = atoi(entry->d_name);
    if (pid <= 0) continue;
    const std::string stat = ReadProcFile(pid, "stat");
    pid_t pgrp = 0;
    char state = 0;
    if (ParseStatPgrp(stat, &pgrp, &state) && pgrp == pgid && state != 'Z' &&
        state != 'X') {
      members.push_back(pid);
    }
  }
  closedir(proc);
  return members;
}

bool KillProcessGroup(pid_t pgid, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  // A member may fork while we look, so repeat until nothing is left.
  while (true) {
    kill(-pgid, SIGKILL);
    std::vector<pid_t> members = LiveProcessGroupMembers(pgid);
    if (members.empty()) return true;
    if (absl::Now() >= deadline) return false;
    std::vector<pollfd> fds;
    std::vector<std::unique_ptr<Fd>> owned;
    for (pid_t pid : members) {
      int fd = PidfdOpen(pid);
      if (fd < 0) continue;  // already gone
      owned.push_back(std::make_unique<Fd>(fd));
      fds.push_back({fd, POLLIN, 0});
    }
    // Wait for each member's exit, or a short while if pidfds are missing.
    for (pollfd& fd : fds) {
      int left_ms = absl::ToInt64Milliseconds(deadline - absl::Now());
      if (left_ms <= 0) break;
      poll(&fd, 1, left_ms);
    }
    if (fds.empty()) poll(nullptr, 0, 5);
  }
}

void KillTagged(const std::string& tag, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (std::vector<pid_t> left = ProcessesTagged(tag); !left.empty();
       left = ProcessesTagged(tag)) {
    for (pid_t pid : left) kill(pid, SIGKILL);
    if (absl::Now() >= deadline) return;
    poll(nullptr, 0, 1);
  }
}

std::string SignalName(int signal) {
  const char* abbrev = sigabbrev_np(signal);
  if (abbrev == nullptr) return absl::StrCat("signal ", signal);
  return absl::StrCat("SIG", abbrev);
}

std::string NewProcessTag() {
  static std::atomic<uint64_t> next{1};
  return absl::StrCat("DAGD_PROCESS_TAG=", getpid(), ".", next.fetch_add(1));
}

std::vector<pid_t> ProcessesTagged(const std::string& tag) {
  std::vector<pid_t> tagged;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return tagged;
  const std::string needle = tag + '\0';
  while (dirent* entry = readdir(proc)) {
    const pid_t pid = atoi(entry->d_name);
    if (pid <= 0) continue;
    pid_t pgrp = 0;
    char state = 0;
    if (!ParseStatPgrp(ReadProcFile(pid, "stat"), &pgrp, &state) ||
        state == 'Z' || state == 'X') {
      continue;
    }
    // Entries are NUL-terminated; one that starts the block has no NUL
    // before it.
    const std::string environ = '\0' + ReadProcFile(pid, "environ");
    if (environ.find('\0' + needle) != std::string::npos) {
      tagged.push_back(pid);
    }
  }
  closedir(proc);
  return tagged;
}

absl::StatusOr<RunAs> ResolveUser(const std::string& name) {
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  uid_t uid = 0;
  if (absl::SimpleAtoi(name, &uid)) {
    getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found);
  } else {
    getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
  }
  if (found == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("--exec_user: no user '", name, "' on this machine"));
  }
  RunAs run_as{found->pw_name, found->pw_uid, found->pw_gid, {}};
  int count = 64;
  run_as.groups.resize(count);
  while (getgrouplist(found->pw_name, found->pw_gid, run_as.groups.data(),
                      &count) < 0) {
    run_as.groups.resize(count);
  }
  run_as.groups.resize(count);
  return run_as;
}

absl::StatusOr<SubprocessExit> RunSubprocess(const SubprocessSpec& spec,
                                             TaskContext& context) {
  if (spec.argv.empty()) return PermanentError("argv must not be empty");
  auto path = FindExecutable(spec.argv[0], PathFromEnv(spec.env));
  if (!path.ok()) return path.status();
  // No point starting a program for an attempt that is already over.
  if (context.cancelled()) {
    SubprocessExit never_started;
    never_started.cancelled = true;
    return never_started;
  }
  SubprocessSpec tagged = spec;
  const std::string tag = NewProcessTag();
  tagged.env.push_back(tag);
  // A group that cannot be made leaves the attempt to the tag.
  std::unique_ptr<AttemptCgroup> cgroup;
  if (spec.cgroups != nullptr) {
    auto made = spec.cgroups->NewGroup(absl::StrCat(
        "dagd-exec-",
        absl::StrReplaceAll(absl::StripPrefix(tag, "DAGD_PROCESS_TAG="),
                            {{".", "-"}})));
    if (made.ok()) cgroup = *std::move(made);
  }
  auto pid = Spawn(tagged, *path, cgroup.get());
  if (!pid.ok()) return pid.status();

  SubprocessExit result;
  result.pgid = *pid;
  if (cgroup != nullptr) {
    const std::vector<pid_t> members = cgroup->Members();
    result.in_cgroup =
        std::find(members.begin(), members.end(), *pid) != members.end();
  }
  auto cancelled = AwaitExitOrCancel(*pid, context);
  result.cancelled = !cancelled.ok() || *cancelled;
  // Kill the group either way: on cancel to stop the work, on a normal exit
  // to stop helpers the program left running. The leader stays a zombie
  // until reaped below, so its pid cannot be reused as someone else's group.
  KillProcessGroup(*pid, absl::Seconds(5));
  int status = 0;
  while (waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
  }
  // Only root may move a process out of its cgroup; without one, the
  // helpers are looked for by their tag across /proc.
  if (result.in_cgroup) {
    cgroup->KillAll(absl::Seconds(5));
  } else {
    KillTagged(tag, absl::Seconds(5));
  }
  if (!cancelled.ok()) return cancelled.status();
  result.exited = WIFEXITED(status);
  result.exit_code = result.exited ? WEXITSTATUS(status) : 0;
  result.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  return result;
}

}  // namespace dagd
