// Runs one child program in its own process group, interruptibly: when the
// attempt is cancelled (or times out) the whole group gets SIGKILL, so
// programs that spawn helpers cannot outlive the task. Where the worker may
// make cgroups (worker/cgroup.h), the program runs in a cgroup of its own,
// and everything in it is killed at the end. Without one, helpers that
// leave the process group (setsid, setpgid) are found by a tag in their
// environment and killed too.
#ifndef DAGD_WORKER_SUBPROCESS_H_
#define DAGD_WORKER_SUBPROCESS_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "worker/cgroup.h"
#include "worker/function_registry.h"

namespace dagd {

// Another user the program runs as (--exec_user): resolved once, in the
// parent, because a forked child may only make async-signal-safe calls.
struct RunAs {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary
};

// The user `name` (a name or a numeric uid) from the password database.
// INVALID_ARGUMENT when there is none.
absl::StatusOr<RunAs> ResolveUser(const std::string& name);

struct SubprocessSpec {
  // argv[0] is looked up in the PATH of `env` unless it contains a '/'.
  std::vector<std::string> argv;
  // The child's whole environment, as "NAME=value" entries.
  std::vector<std::string> env;
  // Files that receive the child's stdout and stderr, created (neither may
  // exist: a link there is refused). stdin is /dev/null.
  std::string stdout_path;
  std::string stderr_path;
  // Set: the program runs as this user (the worker must be root).
  std::optional<RunAs> run_as;
  // Set: the program runs in a new cgroup under this tree. Not owned.
  const CgroupTree* cgroups = nullptr;
};

struct SubprocessExit {
  pid_t pgid = 0;          // the child's pid, which is also its group id
  bool in_cgroup = false;  // it ran in a cgroup of its own
  bool cancelled = false;  // the group was killed because of cancellation
  bool exited = false;     // exited normally; see exit_code
  int exit_code = 0;
  int signal = 0;  // the signal that killed it, when !exited
};

// Runs the program and waits for it, or for `context` to be cancelled. On
// return the child has been reaped and no live process is left in its group
// (stragglers the program left behind are killed as well). Errors: NOT_FOUND
// (permanent) when the program cannot be found or executed, INTERNAL for
// system call failures.
absl::StatusOr<SubprocessExit> RunSubprocess(const SubprocessSpec& spec,
                                             TaskContext& context);

// Resolves `program` against the colon-separated `path` the way execvp
// would, but in the parent, because a forked child may only make
// async-signal-safe calls.
absl::StatusOr<std::string> FindExecutable(const std::string& program,
                                           const std::string& path);

// Live (non-zombie) processes whose process group is `pgid`, from /proc.
std::vector<pid_t> LiveProcessGroupMembers(pid_t pgid);

// The environment entry ("DAGD_PROCESS_TAG=...") RunSubprocess gives each
// program it starts, unique in this worker's life; its descendants inherit
// it wherever they move.
std::string NewProcessTag();
// Live processes whose environment holds `tag`, from /proc (those the
// worker may read: its own user's, or everyone's as root).
std::vector<pid_t> ProcessesTagged(const std::string& tag);
// SIGKILL to the processes tagged `tag`, again until none is left (each
// may fork while it is looked for) or `timeout` has passed.
void KillTagged(const std::string& tag, absl::Duration timeout);

// Sends SIGKILL to the group and waits, up to `timeout`, until none of its
// members is alive. Returns false if some member survived the timeout.
bool KillProcessGroup(pid_t pgid, absl::Duration timeout);

// "SIGKILL"-style name of a signal number.
std::string SignalName(int signal);

}  // namespace dagd

#endif  // DAGD_WORKER_SUBPROCESS_H_
