#include "worker/python_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "worker/subprocess.h"

extern char** environ;

namespace dagd {
namespace {

// The descriptor the runner finds its socket on.
constexpr int kRunnerFd = 3;
// Descriptors the child needs are moved at least this high first, so that
// placing the socket on kRunnerFd cannot overwrite one of them.
constexpr int kHighFd = 10;
// How long Reap waits for an interpreter whose socket closed to exit.
constexpr absl::Duration kReapGrace = absl::Seconds(3);
// A header frame larger than this is a broken protocol, not a message.
constexpr uint64_t kMaxHeaderBytes = 64 << 20;
// The most a read takes beyond what was asked for (see ahead_).
constexpr size_t kReadAhead = 64 << 10;

absl::Status ErrnoError(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", strerror(errno)));
}

int PidfdOpen(pid_t pid) {
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
}

// Moves `fd` to a close-on-exec descriptor >= kHighFd.
int MoveHigh(int fd) {
  if (fd < 0) return fd;
  int high = fcntl(fd, F_DUPFD_CLOEXEC, kHighFd);
  close(fd);
  return high;
}

void CloseAll(std::initializer_list<int> fds) {
  for (int fd : fds) {
    if (fd >= 0) close(fd);
  }
}

// Runs in the forked child: async-signal-safe calls only. An exec failure's
// errno goes to `error_fd`, which a successful exec closes.
[[noreturn]] void ExecRunner(const char* path, char* const* argv,
                             char* const* envp, pid_t parent, int socket_fd,
                             int null_fd, int error_fd) {
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);  // the worker is already gone
  dup2(null_fd, STDIN_FILENO);
  dup2(STDERR_FILENO, STDOUT_FILENO);
  dup2(socket_fd, kRunnerFd);  // clears close-on-exec on kRunnerFd
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  signal(SIGPIPE, SIG_DFL);
  close_range(kRunnerFd + 1, ~0U, CLOSE_RANGE_CLOEXEC);
  execve(path, argv, envp);
  int error = errno;
  ssize_t ignored = write(error_fd, &error, sizeof(error));
  (void)ignored;
  _exit(127);
}

// Blocks until the child has exec'd (EOF) or says why it could not.
absl::Status AwaitExec(int error_fd, const std::string& interpreter) {
  int error = 0;
  ssize_t n;
  do {
    n = read(error_fd, &error, sizeof(error));
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof(error))) {
    return absl::NotFoundError(
        absl::StrCat("cannot execute the Python interpreter '", interpreter,
                     "': ", strerror(error)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ResolveInterpreter(const std::string& name) {
  if (name.empty()) {
    return absl::InvalidArgumentError("no Python interpreter named");
  }
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  return FindExecutable(name, path != nullptr ? path : "/usr/bin:/bin");
}

absl::Status ProtocolError(absl::string_view what) {
  return absl::DataLossError(
      absl::StrCat("the Python runner broke its protocol: ", what));
}

}  // namespace

std::vector<std::string> InterpreterEnvironment(const char* const* env) {
  std::vector<std::string> out;
  for (const char* const* e = env; e != nullptr && *e != nullptr; ++e) {
    out.emplace_back(*e);
  }
  for (const char* name :
       {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"}) {
    const std::string prefix = absl::StrCat(name, "=");
    const bool set = std::any_of(out.begin(), out.end(), [&](const auto& v) {
      return absl::StartsWith(v, prefix);
    });
    if (!set) out.push_back(absl::StrCat(prefix, "1"));
  }
  const bool tuned = std::any_of(out.begin(), out.end(), [](const auto& v) {
    return absl::StartsWith(v, "GLIBC_TUNABLES=");
  });
  if (!tuned) out.push_back("GLIBC_TUNABLES=glibc.malloc.hugetlb=1");
  return out;
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) {
    return absl::StrCat("exit status ", WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    return absl::StrCat("killed by ", SignalName(WTERMSIG(status)));
  }
  return absl::StrCat("wait status ", status);
}

absl::StatusOr<std::unique_ptr<PythonProcess>> PythonProcess::Start(
    const PythonProcessOptions& options) {
  absl::StatusOr<std::string> path = ResolveInterpreter(options.interpreter);
  if (!path.ok()) return path.status();
  std::vector<std::string> args = {*path, "-m", "dagd.runner", "--fd",
                                   std::to_string(kRunnerFd)};
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<std::string> env = InterpreterEnvironment(environ);
  // What its tasks start and move out of its process group (setsid) still
  // carries this, and goes with the interpreter (the destructor).
  std::string tag = NewProcessTag();
  env.push_back(tag);
  std::vector<char*> envp;
  for (std::string& var : env) envp.push_back(var.data());
  envp.push_back(nullptr);

  int sockets[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) != 0) {
    return ErrnoError("socketpair");
  }
  int errors[2];
  if (pipe2(errors, O_CLOEXEC) != 0) {
    CloseAll({sockets[0], sockets[1]});
    return ErrnoError("pipe2");
  }
  const int child_socket = MoveHigh(sockets[1]);
  const int error_write = MoveHigh(errors[1]);
  const int null_fd = MoveHigh(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (child_socket < 0 || error_write < 0 || null_fd < 0) {
    CloseAll({sockets[0], errors[0], child_socket, error_write, null_fd});
    return ErrnoError("cannot set up the interpreter's descriptors");
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    ExecRunner(argv[0], argv.data(), envp.data(), parent, child_socket, null_fd,
               error_write);
  }
  CloseAll({child_socket, error_write, null_fd});
  if (pid < 0) {
    CloseAll({sockets[0], errors[0]});
    return ErrnoError("fork");
  }
  // Also from the parent, so that the group exists before we could kill it.
  setpgid(pid, pid);
  // From here on the destructor kills and reaps whatever happens.
  std::unique_ptr<PythonProcess> process(
      new PythonProcess(pid, sockets[0], PidfdOpen(pid), std::move(tag)));
  absl::Status exec = AwaitExec(errors[0], *path);
  close(errors[0]);
  if (!exec.ok()) return exec;
  if (absl::Status ready =
          process->AwaitReady(absl::Now() + options.start_timeout);
      !ready.ok()) {
    process->Kill();
    std::string ended = process->Reap();
    return absl::UnavailableError(absl::StrCat(
        *path, " -m dagd.runner did not start (", ready.message(), "; ", ended,
        "): is the dagd Python package installed for it, or on its "
        "PYTHONPATH? Its error, if any, is on the worker's stderr"));
  }
  return process;
}

PythonProcess::~PythonProcess() {
  if (!reaped_) {
    Kill();
    int status;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  // Processes its tasks started that left the group, as exec's do.
  KillTagged(tag_, absl::Seconds(1));
  close(fd_);
  if (pidfd_ >= 0) close(pidfd_);
}

absl::Status PythonProcess::AwaitReady(absl::Time deadline) {
  absl::StatusOr<std::string> frame = ReadFrame(deadline);
  if (!frame.ok()) return frame.status();
  google::protobuf::Struct header;
  if (!google::protobuf::util::JsonStringToMessage(*frame, &header).ok()) {
    return ProtocolError("its first message is not JSON");
  }
  const auto& fields = header.fields();
  auto kind = fields.find("kind");
  if (kind == fields.end() || kind->second.string_value() != "ready") {
    return ProtocolError("its first message is not \"ready\"");
  }
  if (auto version = fields.find("python"); version != fields.end()) {
    version_ = version->second.string_value();
  }
  return absl::OkStatus();
}

absl::Status PythonProcess::Send(absl::string_view header,
                                 const std::vector<absl::string_view>& frames) {
  std::vector<uint64_t> lengths;
  lengths.reserve(frames.size() + 1);
  std::vector<iovec> parts;
  parts.reserve(2 * frames.size() + 2);
  auto add = [&](absl::string_view frame) {
    lengths.push_back(frame.size());  // little-endian hosts only (x86, arm)
    parts.push_back({&lengths.back(), sizeof(uint64_t)});
    if (!frame.empty()) {
      parts.push_back({const_cast<char*>(frame.data()), frame.size()});
    }
  };
  add(header);
  for (absl::string_view frame : frames) add(frame);
  size_t next = 0;
  while (next < parts.size()) {
    msghdr message{};
    message.msg_iov = &parts[next];
    message.msg_iovlen = std::min<size_t>(parts.size() - next, 512);
    ssize_t sent = sendmsg(fd_, &message, MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) continue;
      return absl::UnavailableError(
          absl::StrCat("cannot write to the interpreter: ", strerror(errno)));
    }
    size_t left = static_cast<size_t>(sent);
    while (left > 0 && left >= parts[next].iov_len) {
      left -= parts[next].iov_len;
      ++next;
    }
    if (left > 0) {
      parts[next].iov_base = static_cast<char*>(parts[next].iov_base) + left;
      parts[next].iov_len -= left;
    }
  }
  return absl::OkStatus();
}

size_t PythonProcess::TakeReadAhead(char* out, size_t size) {
  const size_t n = std::min(size, ahead_end_ - ahead_begin_);
  if (n > 0) {
    std::memcpy(out, ahead_.data() + ahead_begin_, n);
    ahead_begin_ += n;
  }
  return n;
}

absl::Status PythonProcess::ReadExact(char* out, size_t size,
                                      absl::Time deadline) {
  size_t got = TakeReadAhead(out, size);
  while (got < size) {
    if (deadline != absl::InfiniteFuture() || pidfd_ >= 0) {
      pollfd ready[2] = {{fd_, POLLIN, 0}, {pidfd_, POLLIN, 0}};
      int wait_ms = -1;
      if (deadline != absl::InfiniteFuture()) {
        wait_ms = static_cast<int>(std::min<int64_t>(
            std::max<int64_t>(
                0, absl::ToInt64Milliseconds(deadline - absl::Now())),
            std::numeric_limits<int>::max()));
      }
      int n = poll(ready, pidfd_ >= 0 ? 2 : 1, wait_ms);
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) return absl::DeadlineExceededError("no answer in time");
      // What it wrote before it ended is read first.
      if (n > 0 && ready[0].revents == 0 && ready[1].revents != 0) {
        return absl::UnavailableError(
            "the interpreter exited (a process it started holds its socket)");
      }
    }
    // A large remainder goes straight to `out`; a small one is read with
    // whatever follows it, up to kReadAhead bytes.
    const bool direct = size - got >= kReadAhead;
    if (!direct && ahead_.size() < kReadAhead) ahead_.resize(kReadAhead);
    ssize_t n = direct ? read(fd_, out + got, size - got)
                       : read(fd_, ahead_.data(), kReadAhead);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::UnavailableError(
          absl::StrCat("cannot read from the interpreter: ", strerror(errno)));
    }
    if (n == 0) {
      return absl::UnavailableError("the interpreter closed its socket");
    }
    if (direct) {
      got += static_cast<size_t>(n);
    } else {
      ahead_begin_ = 0;
      ahead_end_ = static_cast<size_t>(n);
      got += TakeReadAhead(out + got, size - got);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> PythonProcess::ReadFrame(absl::Time deadline) {
  uint64_t size = 0;
  if (absl::Status read =
          ReadExact(reinterpret_cast<char*>(&size), sizeof(size), deadline);
      !read.ok()) {
    return read;
  }
  if (size > kMaxHeaderBytes) {
    return ProtocolError(absl::StrCat("a header of ", size, " bytes"));
  }
  std::string frame(size, '\0');
  if (absl::Status read = ReadExact(frame.data(), size, deadline); !read.ok()) {
    return read;
  }
  return frame;
}

absl::StatusOr<google::protobuf::Struct> PythonProcess::ReadHeader() {
  absl::StatusOr<std::string> frame = ReadFrame(absl::InfiniteFuture());
  if (!frame.ok()) return frame.status();
  google::protobuf::Struct header;
  if (!google::protobuf::util::JsonStringToMessage(*frame, &header).ok()) {
    return ProtocolError("a header that is not a JSON object");
  }
  return header;
}

absl::Status PythonProcess::ReadFrameInto(std::string& out, size_t offset,
                                          size_t size) {
  uint64_t length = 0;
  if (absl::Status read = ReadExact(reinterpret_cast<char*>(&length),
                                    sizeof(length), absl::InfiniteFuture());
      !read.ok()) {
    return read;
  }
  if (length != size || size > out.size() || offset > out.size() - size) {
    return ProtocolError(absl::StrCat("a frame of ", length,
                                      " bytes where its header said ", size));
  }
  return ReadExact(out.data() + offset, size, absl::InfiniteFuture());
}

void PythonProcess::Kill() {
  killed_ = true;
  kill(-pid_, SIGKILL);
  shutdown(fd_, SHUT_RDWR);
}

bool PythonProcess::Exited() const {
  if (pidfd_ >= 0) {
    pollfd ended{pidfd_, POLLIN, 0};
    return poll(&ended, 1, 0) > 0;
  }
  siginfo_t info{};
  return waitid(P_PID, pid_, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
         info.si_pid == pid_;
}

std::string PythonProcess::Reap() {
  if (reaped_) return "already reaped";
  int pidfd = PidfdOpen(pid_);
  if (pidfd >= 0) {
    pollfd exited{pidfd, POLLIN, 0};
    int n;
    do {
      n = poll(&exited, 1,
               static_cast<int>(absl::ToInt64Milliseconds(kReapGrace)));
    } while (n < 0 && errno == EINTR);
    close(pidfd);
    if (n == 0) Kill();  // alive but silent: it broke the protocol
  } else {
    Kill();
  }
  // Helpers the task left behind in the group go with it; before the
  // reaping, while the unreaped interpreter keeps its pid from reuse.
  kill(-pid_, SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  return DescribeWaitStatus(status);
}

}  // namespace dagd
