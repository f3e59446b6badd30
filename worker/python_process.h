// One long-lived Python interpreter running dagd's task runner
// (client/python/dagd/runner.py, `python3 -m dagd.runner`), and the Unix
// stream socket the worker speaks to it over. The protocol (frames of an
// 8-byte little-endian length and that many bytes; messages of a JSON
// header frame and the data frames it announces) is described in the
// runner's docstring; this class moves frames, PythonRuntime gives them
// meaning.
#ifndef DAGD_WORKER_PYTHON_PROCESS_H_
#define DAGD_WORKER_PYTHON_PROCESS_H_

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/struct.pb.h"

namespace dagd {

struct PythonProcessOptions {
  // The interpreter: a path, or a name looked up in PATH.
  std::string interpreter = "/usr/bin/python3";
  // How long the runner may take to say it is ready.
  absl::Duration start_timeout = absl::Seconds(30);
};

// Owned by one thread at a time (the runtime hands it to one attempt);
// Kill alone may be called from any thread while the owner uses it.
//
// The interpreter runs in its own process group with stdin from /dev/null
// and stdout and stderr on the worker's stderr (what the runner does not
// catch itself, such as a crash's message); it is sent SIGKILL if the
// thread that started it exits, and exits by itself when its socket closes.
class PythonProcess {
 public:
  // Starts the interpreter and waits for the runner's "ready". Errors:
  // NOT_FOUND when the interpreter cannot be executed, UNAVAILABLE when it
  // ends or stays silent before it is ready (dagd.runner not importable:
  // its traceback is on the worker's stderr), INTERNAL for system calls.
  static absl::StatusOr<std::unique_ptr<PythonProcess>> Start(
      const PythonProcessOptions& options);

  // Kills the process group and reaps the interpreter.
  ~PythonProcess();
  PythonProcess(const PythonProcess&) = delete;
  PythonProcess& operator=(const PythonProcess&) = delete;

  pid_t pid() const { return pid_; }
  // The Python version the runner reported ("3.11.2").
  const std::string& version() const { return version_; }

  // Sends one message: `header` (JSON text) as the first frame, then
  // `frames`. An error means the interpreter is gone (or was killed).
  absl::Status Send(absl::string_view header,
                    const std::vector<absl::string_view>& frames);
  // Reads the next message's header frame, parsed. Blocks; an error means
  // the interpreter is gone or broke the protocol.
  absl::StatusOr<google::protobuf::Struct> ReadHeader();
  // Reads the next frame, which must be `size` bytes, into `out` at
  // `offset` (`out` already holds at least offset + size bytes).
  absl::Status ReadFrameInto(std::string& out, size_t offset, size_t size);

  // Thread-safe and non-blocking: SIGKILL to the process group and a
  // shutdown of the socket, so that a Send or a Read in progress fails at
  // once. The process is reaped by the destructor.
  void Kill();
  bool killed() const { return killed_; }
  // Whether the interpreter has ended (without reaping it): one that died
  // idle (the OOM killer's pick, say) would fail the next task given it.
  bool Exited() const;

  // Waits (up to a few seconds, then kills) until the interpreter has
  // ended, reaps it, and says how it ended: "exit status 3", "killed by
  // SIGSEGV". Call once the socket failed; the destructor then has nothing
  // left to reap.
  std::string Reap();

 private:
  PythonProcess(pid_t pid, int fd, int pidfd, std::string tag)
      : pid_(pid), fd_(fd), pidfd_(pidfd), tag_(std::move(tag)) {}

  // Reads exactly `size` bytes: first what an earlier read took ahead,
  // then from the socket.
  absl::Status ReadExact(char* out, size_t size, absl::Time deadline);
  // Moves up to `size` bytes read ahead into `out`; returns how many.
  size_t TakeReadAhead(char* out, size_t size);
  absl::StatusOr<std::string> ReadFrame(absl::Time deadline);
  absl::Status AwaitReady(absl::Time deadline);

  // Constant after construction. pid_ is also the process group's id.
  const pid_t pid_;
  const int fd_;
  // Readable once the interpreter exited (-1 where the kernel has no
  // pidfd_open): a child it forked can hold the socket open past its end,
  // and a read of the socket alone would wait for that child.
  const int pidfd_;
  // In the environment of the interpreter and all it starts (NewProcessTag).
  const std::string tag_;
  std::string version_;
  // Bytes read from the socket beyond what was asked for, [ahead_begin_,
  // ahead_end_) of ahead_. The runner writes a reply's header and frames
  // at once, so a small reply takes one read, not one per length prefix
  // and frame (a system call costs microseconds on a virtual machine).
  std::string ahead_;
  size_t ahead_begin_ = 0;
  size_t ahead_end_ = 0;
  std::atomic<bool> killed_{false};
  bool reaped_ = false;  // by the owner only
};

// "exit status 3", "killed by SIGKILL": a waitpid status for people.
std::string DescribeWaitStatus(int status);

// The environment an interpreter starts with: the worker's (`env`, as
// `environ`), and one thread for OpenMP, OpenBLAS and MKL unless the
// worker's environment says otherwise. Each slot has an interpreter of its
// own, so a BLAS with a thread per core in each would put slots x cores
// threads on the machine's cores (Dask's workers set the same). And, unless
// the worker's environment sets GLIBC_TUNABLES, glibc.malloc.hugetlb=1:
// the C library's malloc asks for transparent huge pages for the memory it
// takes from the kernel, as numpy does only for arrays of 4 MiB and more.
// Interpreters that keep objects (worker/python_kept.h) grow their heap,
// and fresh memory faulted in 4 KiB at a time cost them a third more
// system time on a GEMM of 2 MB blocks (0.32 s a run against 0.20).
std::vector<std::string> InterpreterEnvironment(const char* const* env);

}  // namespace dagd

#endif  // DAGD_WORKER_PYTHON_PROCESS_H_
