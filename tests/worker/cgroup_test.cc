// Attempts' cgroups: finding the worker's own group, and killing a group
// whose members left their session. The live tests need a cgroup v2
// hierarchy the test may write (root on a host that delegates one); they
// are skipped, saying why, elsewhere.
#include "worker/cgroup.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dagd {
namespace {

using ::testing::IsEmpty;

constexpr char kMountinfo[] =
    "25 30 0:23 / /sys rw,nosuid shared:7 - sysfs sysfs rw\n"
    "33 25 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
    "40 25 0:35 / /sys/fs/cgroup/unified rw shared:11 - cgroup2 cgroup2 rw\n";

TEST(CgroupDirectoryTest, FindsTheGroupUnderTheCgroup2Mount) {
  EXPECT_EQ(CgroupDirectory(kMountinfo, "/"), "/sys/fs/cgroup/unified");
  EXPECT_EQ(CgroupDirectory(kMountinfo, "/system.slice/dagd-worker.service"),
            "/sys/fs/cgroup/unified/system.slice/dagd-worker.service");
  EXPECT_EQ(CgroupDirectory("25 30 0:23 / /sys rw - sysfs sysfs rw\n", "/"),
            "");
}

TEST(CgroupDirectoryTest, AMountOfPartOfTheTreeHoldsOnlyWhatIsBelowIt) {
  const std::string mountinfo =
      "40 25 0:35 /kubepods/pod1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
  EXPECT_EQ(CgroupDirectory(mountinfo, "/kubepods/pod1/c1"),
            "/sys/fs/cgroup/c1");
  EXPECT_EQ(CgroupDirectory(mountinfo, "/kubepods/pod1"), "/sys/fs/cgroup");
  EXPECT_EQ(CgroupDirectory(mountinfo, "/kubepods/pod10"), "");
  EXPECT_EQ(CgroupDirectory(mountinfo, "/other"), "");
}

TEST(CgroupTreeTest, APlainDirectoryIsNoTree) {
  auto tree = CgroupTree::At("/tmp");
  EXPECT_EQ(tree.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(tree.status().message(), ::testing::HasSubstr("'/tmp'"));
}

// A child that joins the group, then leaves its session and forks a
// grandchild: one KillAll takes both, and the group can go.
TEST(CgroupTreeTest, KillAllTakesEveryMemberWhateverItsSession) {
  absl::StatusOr<CgroupTree> tree = CgroupTree::Detect();
  if (!tree.ok()) GTEST_SKIP() << "no cgroups here: " << tree.status();
  auto group = tree->NewGroup(absl::StrCat("dagd-test-", getpid()));
  ASSERT_TRUE(group.ok()) << group.status();
  const std::string dir = (*group)->dir();
  EXPECT_THAT((*group)->Members(), IsEmpty());
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const std::string procs = (*group)->procs_path();
    FILE* file = fopen(procs.c_str(), "w");
    if (file == nullptr || fputs("0", file) < 0 || fclose(file) != 0) _exit(1);
    setsid();
    if (fork() == 0) {
      ssize_t ignored = write(ready[1], "x", 1);
      (void)ignored;
      pause();
    }
    pause();
    _exit(0);
  }
  char byte;
  ASSERT_EQ(read(ready[0], &byte, 1), 1);
  close(ready[0]);
  close(ready[1]);
  EXPECT_EQ((*group)->Members().size(), 2u);
  EXPECT_TRUE((*group)->KillAll(absl::Seconds(10)));
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  EXPECT_THAT((*group)->Members(), IsEmpty());
  group->reset();
  EXPECT_FALSE(std::filesystem::exists(dir));
}

}  // namespace
}  // namespace dagd
