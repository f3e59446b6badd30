// RaiseOpenFilesLimit on this process: from a soft limit below the hard
// one up to it, and nothing to do once there.
#include "storage/base/file_limit.h"

#include <sys/resource.h>

#include "gtest/gtest.h"

namespace dagd {
namespace {

TEST(FileLimitTest, RaisesTheSoftLimitToTheHardOne) {
  rlimit original;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &original), 0);
  if (original.rlim_max < 64) GTEST_SKIP() << "a hard limit under 64";
  rlimit lowered = original;
  lowered.rlim_cur = 32;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lowered), 0);

  auto raised = RaiseOpenFilesLimit();
  ASSERT_TRUE(raised.has_value());
  EXPECT_EQ(raised->first, 32u);
  EXPECT_EQ(raised->second, static_cast<uint64_t>(original.rlim_max));
  rlimit now;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &now), 0);
  EXPECT_EQ(now.rlim_cur, original.rlim_max);
  EXPECT_FALSE(RaiseOpenFilesLimit().has_value());  // already there

  setrlimit(RLIMIT_NOFILE, &original);
}

}  // namespace
}  // namespace dagd
