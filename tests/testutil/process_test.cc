// Tests of Subprocess (tests/testutil/process.h) with /bin/sh.
#include "tests/testutil/process.h"

#include <signal.h>

#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dagd::testing {
namespace {

using ::testing::HasSubstr;

class SubprocessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<TempDir>> dir = TempDir::Create();
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = *std::move(dir);
  }

  std::unique_ptr<Subprocess> Start(const std::string& script,
                                    const std::string& stdin_data = "") {
    SubprocessOptions options;
    options.argv = {"/bin/sh", "-c", script};
    options.env = {{"DAGD_TEST_VAR", "from-env"}};
    options.stdin_data = stdin_data;
    options.output_prefix = absl::StrCat(dir_->path(), "/", ++n_);
    absl::StatusOr<std::unique_ptr<Subprocess>> process =
        Subprocess::Start(std::move(options));
    EXPECT_TRUE(process.ok()) << process.status();
    return process.ok() ? *std::move(process) : nullptr;
  }

  std::unique_ptr<TempDir> dir_;
  int n_ = 0;
};

TEST_F(SubprocessTest, CapturesOutputAndExitCode) {
  auto process = Start("cat; echo \"$DAGD_TEST_VAR\"; echo oops >&2; exit 7",
                       "piped in\n");
  ASSERT_NE(process, nullptr);
  absl::StatusOr<ExitStatus> exit = process->Wait(absl::Seconds(30));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->exited);
  EXPECT_EQ(exit->code, 7);
  EXPECT_FALSE(exit->ok());
  EXPECT_EQ(process->Stdout(), "piped in\nfrom-env\n");
  EXPECT_EQ(process->Stderr(), "oops\n");
  // Waiting again gives the same answer.
  exit = process->Wait(absl::ZeroDuration());
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->code, 7);
}

TEST_F(SubprocessTest, WaitPastItsDeadlineSaysSoAndKillEndsIt) {
  auto process = Start("exec sleep 600");
  ASSERT_NE(process, nullptr);
  EXPECT_TRUE(process->Running());
  absl::StatusOr<ExitStatus> exit = process->Wait(absl::Milliseconds(1));
  EXPECT_EQ(exit.status().code(), absl::StatusCode::kDeadlineExceeded);
  process->Kill(SIGTERM);
  exit = process->Wait(absl::Seconds(30));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_FALSE(exit->exited);
  EXPECT_EQ(exit->signal, SIGTERM);
  EXPECT_THAT(exit->ToString(), HasSubstr("killed by signal 15"));
  EXPECT_FALSE(process->Running());
}

TEST_F(SubprocessTest, DestructorKillsTheWholeProcessGroup) {
  // The shell starts a grandchild and prints its pid.
  auto process = Start("sleep 600 & echo $!; wait");
  ASSERT_NE(process, nullptr);
  int grandchild = 0;
  ASSERT_EQ(PollUntil(
                [&] {
                  return absl::SimpleAtoi(
                      absl::StripAsciiWhitespace(process->Stdout()),
                      &grandchild);
                },
                absl::Seconds(30), "the grandchild's pid"),
            absl::OkStatus());
  ASSERT_EQ(kill(grandchild, 0), 0);
  process.reset();
  // The grandchild was reparented, so it may linger as a zombie until its
  // new parent reaps it; /proc says whether it is still running.
  EXPECT_EQ(PollUntil(
                [&] {
                  const std::string stat = ReadFileOrEmpty(
                      absl::StrCat("/proc/", grandchild, "/stat"));
                  return stat.empty() || absl::StrContains(stat, ") Z ");
                },
                absl::Seconds(30), "the grandchild to die"),
            absl::OkStatus());
}

TEST_F(SubprocessTest, MissingBinaryIsAnError) {
  SubprocessOptions options;
  options.argv = {"/nonexistent/dagd-test-binary"};
  options.output_prefix = absl::StrCat(dir_->path(), "/missing");
  absl::StatusOr<std::unique_ptr<Subprocess>> process =
      Subprocess::Start(std::move(options));
  ASSERT_FALSE(process.ok());
  EXPECT_THAT(process.status().message(),
              HasSubstr("cannot run /nonexistent/dagd-test-binary"));
}

TEST(RunCommandTest, ReturnsOutputsAndKillsWhatOverstays) {
  absl::StatusOr<std::unique_ptr<TempDir>> dir = TempDir::Create();
  ASSERT_TRUE(dir.ok()) << dir.status();
  CommandResult ok = RunCommand("/bin/sh", {"-c", "echo out; echo err >&2"}, {},
                                "", (*dir)->path() + "/ok");
  EXPECT_EQ(ok.exit_code, 0);
  EXPECT_EQ(ok.out, "out\n");
  EXPECT_EQ(ok.err, "err\n");
  CommandResult stuck =
      RunCommand("/bin/sh", {"-c", "exec sleep 600"}, {}, "",
                 (*dir)->path() + "/stuck", absl::Milliseconds(1));
  EXPECT_EQ(stuck.exit_code, -1);
  EXPECT_THAT(stuck.err, HasSubstr("killed after"));
}

}  // namespace
}  // namespace dagd::testing
