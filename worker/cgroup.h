// Each exec attempt's processes in a cgroup (v2) of their own, where the
// host lets the worker make one: a program and every helper it starts stay
// in that group whatever they do with sessions, process groups or their
// environment (only root may move a process out), so the whole attempt is
// killed at once with cgroup.kill at its end, timeout or cancellation.
//
// Where the worker cannot make groups (no cgroup v2 hierarchy, or one it
// may not write: most containers without a delegated cgroup), attempts run
// without one and subprocess.h's process group and environment tag do the
// killing, as they do beside the group.
#ifndef DAGD_WORKER_CGROUP_H_
#define DAGD_WORKER_CGROUP_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace dagd {

class AttemptCgroup;

// The cgroup v2 directory attempts' groups are made in. Thread-safe.
class CgroupTree {
 public:
  // The cgroup the worker runs in (/proc/self/cgroup's "0::" line, under
  // the cgroup2 mount /proc/self/mountinfo names), when the worker may make
  // groups in it; otherwise FAILED_PRECONDITION saying why.
  static absl::StatusOr<CgroupTree> Detect();
  // `dir` itself, checked the same way (tests point it at a group of their
  // own).
  static absl::StatusOr<CgroupTree> At(std::string dir);

  const std::string& dir() const { return dir_; }

  // A new, empty group named `name` (letters, digits, '.', '-', '_') under
  // dir(); INTERNAL naming the path when it cannot be made.
  absl::StatusOr<std::unique_ptr<AttemptCgroup>> NewGroup(
      absl::string_view name) const;

 private:
  explicit CgroupTree(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

// One attempt's group; the destructor kills what is left in it and removes
// it.
class AttemptCgroup {
 public:
  explicit AttemptCgroup(std::string dir);
  ~AttemptCgroup();
  AttemptCgroup(const AttemptCgroup&) = delete;
  AttemptCgroup& operator=(const AttemptCgroup&) = delete;

  const std::string& dir() const { return dir_; }
  // Writing "0" here moves the writing process into the group; a forked
  // child does that before it execs (open and write are async-signal-safe).
  const std::string& procs_path() const { return procs_path_; }

  // The live processes in the group.
  std::vector<pid_t> Members() const;
  // SIGKILL to every process in the group (cgroup.kill, or one by one on
  // kernels before 5.14), then waits up to `timeout` until it is empty.
  // True when it is.
  bool KillAll(absl::Duration timeout);

 private:
  const std::string dir_;
  const std::string procs_path_;
};

// The cgroup2 directory of the cgroup whose path (as /proc/self/cgroup
// shows it) is `path`, from /proc/self/mountinfo's `mountinfo` text; empty
// when no cgroup2 mount holds it.
std::string CgroupDirectory(absl::string_view mountinfo,
                            absl::string_view path);

}  // namespace dagd

#endif  // DAGD_WORKER_CGROUP_H_
