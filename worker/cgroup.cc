#include "worker/cgroup.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace dagd {
namespace {

constexpr long kCgroup2Magic = 0x63677270;  // CGROUP2_SUPER_MAGIC

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Writes `text` to the cgroup file `path`; the errno as a string on
// failure, empty on success.
std::string WriteFile(const std::string& path, absl::string_view text) {
  const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return strerror(errno);
  const ssize_t n = write(fd, text.data(), text.size());
  const int error = errno;
  close(fd);
  if (n != static_cast<ssize_t>(text.size())) return strerror(error);
  return "";
}

}  // namespace

std::string CgroupDirectory(absl::string_view mountinfo,
                            absl::string_view path) {
  // "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE ..."
  for (absl::string_view line : absl::StrSplit(mountinfo, '\n')) {
    const size_t dash = line.find(" - ");
    if (dash == absl::string_view::npos) continue;
    if (!absl::StartsWith(line.substr(dash + 3), "cgroup2 ")) continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(line.substr(0, dash), ' ');
    if (fields.size() < 5) continue;
    absl::string_view root = fields[3];
    absl::string_view rest = path;
    // A mount of part of the hierarchy holds only the groups below it.
    if (root != "/" && !absl::ConsumePrefix(&rest, root)) continue;
    if (!rest.empty() && rest[0] != '/') continue;
    std::string dir(fields[4]);
    if (!rest.empty() && rest != "/") absl::StrAppend(&dir, rest);
    return dir;
  }
  return "";
}

absl::StatusOr<CgroupTree> CgroupTree::Detect() {
  std::string path;
  for (absl::string_view line :
       absl::StrSplit(ReadText("/proc/self/cgroup"), '\n')) {
    if (absl::ConsumePrefix(&line, "0::")) path = std::string(line);
  }
  if (path.empty()) {
    return absl::FailedPreconditionError(
        "this worker is in no cgroup v2 group (/proc/self/cgroup)");
  }
  const std::string dir =
      CgroupDirectory(ReadText("/proc/self/mountinfo"), path);
  if (dir.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no cgroup2 mount holds this worker's group '", path, "'"));
  }
  return At(dir);
}

absl::StatusOr<CgroupTree> CgroupTree::At(std::string dir) {
  struct statfs fs;
  if (statfs(dir.c_str(), &fs) != 0 || fs.f_type != kCgroup2Magic) {
    return absl::FailedPreconditionError(
        absl::StrCat("'", dir, "' is not a cgroup v2 directory"));
  }
  // Making and removing a group is the only proof that the worker may.
  const std::string probe = absl::StrCat(dir, "/dagd-probe-", getpid());
  if (mkdir(probe.c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot make groups in '", dir, "': ", strerror(errno)));
  }
  rmdir(probe.c_str());
  return CgroupTree(std::move(dir));
}

absl::StatusOr<std::unique_ptr<AttemptCgroup>> CgroupTree::NewGroup(
    absl::string_view name) const {
  const std::string dir = absl::StrCat(dir_, "/", name);
  if (mkdir(dir.c_str(), 0755) != 0) {
    return absl::InternalError(
        absl::StrCat("cannot make cgroup '", dir, "': ", strerror(errno)));
  }
  return std::make_unique<AttemptCgroup>(dir);
}

AttemptCgroup::AttemptCgroup(std::string dir)
    : dir_(std::move(dir)), procs_path_(dir_ + "/cgroup.procs") {}

AttemptCgroup::~AttemptCgroup() {
  KillAll(absl::Seconds(5));
  rmdir(dir_.c_str());
}

std::vector<pid_t> AttemptCgroup::Members() const {
  std::vector<pid_t> pids;
  for (absl::string_view line :
       absl::StrSplit(ReadText(procs_path_), '\n', absl::SkipEmpty())) {
    pid_t pid = 0;
    if (absl::SimpleAtoi(line, &pid)) pids.push_back(pid);
  }
  return pids;
}

bool AttemptCgroup::KillAll(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  // cgroup.kill (Linux 5.14) kills every member and those forking at that
  // moment; without it, members are killed one by one until none is left.
  const bool whole = WriteFile(dir_ + "/cgroup.kill", "1").empty();
  while (true) {
    std::vector<pid_t> members = Members();
    if (members.empty()) return true;
    if (!whole) {
      for (pid_t pid : members) kill(pid, SIGKILL);
    }
    if (absl::Now() >= deadline) return false;
    // The kernel empties the group as the killed processes exit; zombies
    // whose parents have not reaped them are gone from cgroup.procs.
    poll(nullptr, 0, 2);
  }
}

}  // namespace dagd
