#include "worker/exec_function.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/test_task.h"
#include "worker/subprocess.h"
#include "worker/temp_dir.h"

namespace dagd {
namespace {

using ::testing::HasSubstr;

// args for `sh -c <script>`, with extra env entries.
std::string ShellArgs(const std::string& script,
                      const std::string& env = "{}") {
  google::protobuf::Value value;
  value.set_string_value(script);
  return absl::StrCat(R"({"argv": ["sh", "-c", )", ValueToJson(value),
                      R"(], "env": )", env, "}");
}

TEST(ExecTest, InputsAreFilesAndOutputFileWins) {
  TestTask task(ShellArgs(R"sh(
      test "$(ls "$DAGD_INPUTS_DIR" | tr '\n' ' ')" = "0 1 " || exit 9
      printf '[%s,%s]' "$(cat "$DAGD_INPUT_0")" "$(cat "$DAGD_INPUT_1")" \
          > "$DAGD_OUTPUT"
      echo "stdout is ignored when DAGD_OUTPUT is written")sh"),
                {Json("1"), Json("\"b\"")});
  auto out = ExecFunction(task.context);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->data, R"([1,"b"])");
  EXPECT_EQ(out->content_type, "application/json");
}

TEST(ExecTest, StdoutIsTheOutputOtherwise) {
  TestTask task(R"({"argv": ["echo", "hello world"]})");
  auto out = ExecFunction(task.context);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->data, "hello world\n");
  EXPECT_EQ(out->content_type, "application/octet-stream");

  TestTask json(R"({"argv": ["echo", "{\"n\": 2}"]})");
  EXPECT_EQ(ExecFunction(json.context)->content_type, "application/json");
}

// The worker reads a program's output and stderr from files the program
// could replace (under --exec_user it owns their folder): a link to a file
// only the worker may read is not followed, and a FIFO or a device is no
// output, where the worker would block for good or read without end.
TEST(ExecTest, AnOutputThatIsNoRegularFileFailsTheTask) {
  auto secret_dir = TempDir::Create("dagd-exec-secret-");
  ASSERT_TRUE(secret_dir.ok());
  const std::string secret = (*secret_dir)->path() + "/key";
  ASSERT_TRUE(WriteFile(secret, "the worker's private key").ok());
  for (const std::string& make :
       {absl::StrCat("ln -s '", secret, "' \"$DAGD_OUTPUT\""),
        absl::StrCat("ln '", secret, "' \"$DAGD_OUTPUT\""),  // a hard link
        std::string("mkfifo \"$DAGD_OUTPUT\""),
        std::string("ln -s /dev/zero \"$DAGD_OUTPUT\"")}) {
    TestTask task(ShellArgs(make + "; echo on stdout"));
    absl::StatusOr<Payload> out = ExecFunction(task.context);
    ASSERT_FALSE(out.ok()) << make << ": " << out->data.substr(0, 100);
    EXPECT_THAT(out.status().message(), HasSubstr("not a regular file"))
        << make;
  }
  // A sparse file of a terabyte costs the program nothing: not read.
  TestTask sparse(ShellArgs("truncate -s 1T \"$DAGD_OUTPUT\""));
  absl::StatusOr<Payload> huge = ExecFunction(sparse.context);
  ASSERT_FALSE(huge.ok());
  EXPECT_THAT(huge.status().message(),
              HasSubstr("more than the memory this worker may use"));
  // Nor is its stderr, when it fails.
  TestTask failing(ShellArgs(
      absl::StrCat("rm -f \"$DAGD_OUTPUT\"; ln -sf '", secret,
                   "' \"$(dirname \"$DAGD_OUTPUT\")/stderr\"; exit 3")));
  absl::StatusOr<Payload> failed = ExecFunction(failing.context);
  ASSERT_FALSE(failed.ok());
  EXPECT_THAT(failed.status().message(), HasSubstr("exit status 3"));
  EXPECT_THAT(failed.status().message(),
              ::testing::Not(HasSubstr("private key")));
}

// An output over dagd's --max_result_bytes would be dropped once read: it
// fails its task for good without being read into the worker's memory.
TEST(ExecTest, AnOutputOverDagdsLimitIsNotRead) {
  ExecOptions options;
  options.max_output_bytes = [] { return uint64_t{1000}; };
  TestTask fits(ShellArgs("head -c 1000 /dev/zero > \"$DAGD_OUTPUT\""));
  absl::StatusOr<Payload> fitting = ExecFunction(fits.context, options);
  ASSERT_TRUE(fitting.ok()) << fitting.status();
  EXPECT_EQ(fitting->data.size(), 1000u);
  for (const std::string& script :
       {std::string("truncate -s 1G \"$DAGD_OUTPUT\""),
        std::string("head -c 1001 /dev/zero")}) {  // stdout, the same
    TestTask task(ShellArgs(script));
    absl::StatusOr<Payload> out = ExecFunction(task.context, options);
    ASSERT_FALSE(out.ok()) << script;
    EXPECT_TRUE(absl::IsResourceExhausted(out.status())) << out.status();
    EXPECT_TRUE(IsPermanent(out.status())) << out.status();
    EXPECT_THAT(out.status().message(),
                HasSubstr("over the limit of 1000 bytes (dagd's "
                          "--max_result_bytes)"));
  }
  // More than the machine holds is this worker's limit, not dagd's: not
  // failed for good (a bigger worker may run it).
  TestTask huge(ShellArgs("truncate -s 1T \"$DAGD_OUTPUT\""));
  absl::StatusOr<Payload> too_big = ExecFunction(huge.context, options);
  ASSERT_FALSE(too_big.ok());
  EXPECT_FALSE(IsPermanent(too_big.status())) << too_big.status();
  EXPECT_THAT(too_big.status().message(),
              HasSubstr("more than the memory this worker may use"));
}

// A file that grows as it is read (or, as /proc's, says it is empty) is
// read no further than the limit either.
TEST(ReadFileTest, NoFurtherThanTheLimitWhateverItsSizeSaid) {
  absl::StatusOr<std::string> whole = ReadFile("/proc/self/status");
  ASSERT_TRUE(whole.ok()) << whole.status();
  ASSERT_GT(whole->size(), 100u);
  absl::StatusOr<std::string> cut = ReadFile("/proc/self/status", 100);
  EXPECT_TRUE(absl::IsOutOfRange(cut.status())) << cut.status();
  EXPECT_THAT(cut.status().message(), HasSubstr("past the limit of 100"));
}

// An attempt cancelled before its program started starts none: the exit
// says cancelled (not that it ran in a cgroup).
TEST(SubprocessTest, ACancelledAttemptStartsNoProgram) {
  TestTask task(R"({"argv": ["true"]})");
  task.token.Cancel(CancelReason::kCoordinator);
  SubprocessSpec spec;
  spec.argv = {"/bin/true"};
  absl::StatusOr<SubprocessExit> exit = RunSubprocess(spec, task.context);
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->cancelled);
  EXPECT_FALSE(exit->in_cgroup);
  EXPECT_EQ(exit->pgid, 0);
}

// Where stdout goes, a link (put there by another program of the exec
// user, who owns the folder) is refused, and what it points at is left as
// it was: the worker, as root, truncated and wrote it.
TEST(SubprocessTest, StdoutIsNeverOpenedThroughALink) {
  absl::StatusOr<std::unique_ptr<TempDir>> dir = TempDir::Create("stdio-");
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string target = (*dir)->path() + "/target";
  ASSERT_TRUE(WriteFile(target, "keep").ok());
  const std::string link = (*dir)->path() + "/stdout";
  ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0);
  TestTask task(R"({"argv": ["echo"]})");
  SubprocessSpec spec;
  spec.argv = {"/bin/echo", "written"};
  spec.stdout_path = link;
  spec.stderr_path = (*dir)->path() + "/stderr";
  absl::StatusOr<SubprocessExit> exit = RunSubprocess(spec, task.context);
  EXPECT_FALSE(exit.ok());
  EXPECT_THAT(exit.status().message(), HasSubstr(link));
  EXPECT_EQ(*ReadFile(target, 0), "keep");
}

// Closes this process's stdin and stdout, runs echo with its stdout in
// `dir`, and exits 0 when the program wrote it there.
[[noreturn]] void EchoWithoutStdio(const std::string& dir) {
  close(STDIN_FILENO);
  close(STDOUT_FILENO);
  TestTask task(R"({"argv": ["echo"]})");
  SubprocessSpec spec;
  spec.argv = {"/bin/echo", "written"};
  spec.stdout_path = dir + "/stdout";
  spec.stderr_path = dir + "/stderr";
  absl::StatusOr<SubprocessExit> exit = RunSubprocess(spec, task.context);
  absl::StatusOr<std::string> written = ReadFile(spec.stdout_path, 0);
  _exit(exit.ok() && written.ok() && *written == "written\n" ? 0 : 1);
}

// A worker started with its own stdin and stdout closed opens the
// program's at fds 0 and 1: the program still gets them.
TEST(SubprocessDeathTest, AWorkerWithoutStdioStillGivesTheProgramIts) {
  absl::StatusOr<std::unique_ptr<TempDir>> dir = TempDir::Create("stdio-");
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_EXIT(EchoWithoutStdio((*dir)->path()), ::testing::ExitedWithCode(0),
              "");
}

TEST(ExecTest, EnvIsAddedToWhatTasksInherit) {
  TestTask task(ShellArgs(R"sh(printf '%s %s %s' "$GREETING" "$DAGD_TASK_ID" \
                             "$DAGD_ATTEMPT"; test -n "$PATH")sh",
                          R"({"GREETING": "hi"})"));
  auto out = ExecFunction(task.context);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->data, "hi task-a 1");
}

// A task sees what it declared and dagd's variables, never the worker's
// credentials (an exec task once printed the worker's AWS secret key).
TEST(ExecTest, TheWorkersCredentialsAreNotInherited) {
  setenv("AWS_SECRET_ACCESS_KEY", "worker-secret", 1);
  setenv("DAGD_TOKEN", "worker-token", 1);
  TestTask task(ShellArgs(R"sh(env)sh", R"({"DECLARED": "yes"})"));
  auto out = ExecFunction(task.context);
  unsetenv("AWS_SECRET_ACCESS_KEY");
  unsetenv("DAGD_TOKEN");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(out->data, ::testing::Not(HasSubstr("worker-secret")));
  EXPECT_THAT(out->data, ::testing::Not(HasSubstr("worker-token")));
  EXPECT_THAT(out->data, HasSubstr("DECLARED=yes"));
  EXPECT_THAT(out->data, HasSubstr("PATH="));
  EXPECT_THAT(out->data, HasSubstr("DAGD_TASK_ID=task-a"));
}

TEST(ExecTest, NonZeroExitReportsStatusAndStderrTail) {
  TestTask task(ShellArgs(
      "head -c 10000 /dev/zero | tr '\\0' x >&2; echo ' the end' >&2; exit 3"));
  auto out = ExecFunction(task.context);
  ASSERT_FALSE(out.ok());
  std::string message(out.status().message());
  EXPECT_THAT(message, HasSubstr("exit status 3"));
  EXPECT_THAT(message, HasSubstr("the end"));
  EXPECT_LT(message.size(), kStderrTailBytes + 100);
  EXPECT_FALSE(IsPermanent(out.status()));
}

TEST(ExecTest, DeathBySignalNamesTheSignal) {
  TestTask task(ShellArgs("kill -TERM $$"));
  auto out = ExecFunction(task.context);
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("SIGTERM"));
}

TEST(ExecTest, MissingProgramIsPermanent) {
  TestTask task(R"({"argv": ["dagd-no-such-program-x"]})");
  auto out = ExecFunction(task.context);
  ASSERT_FALSE(out.ok());
  EXPECT_TRUE(IsPermanent(out.status()));
  EXPECT_THAT(std::string(out.status().message()),
              HasSubstr("dagd-no-such-program-x"));
}

TEST(ExecTest, BadArgsArePermanent) {
  for (const char* args :
       {"null", R"({"argv": []})", R"({"argv": "echo hi"})",
        R"({"argv": ["echo", 1]})", R"({"argv": ["echo"], "env": {"A": 1}})"}) {
    TestTask task(args);
    auto out = ExecFunction(task.context);
    ASSERT_FALSE(out.ok()) << args;
    EXPECT_TRUE(IsPermanent(out.status())) << args;
  }
}

// Reads what a child writes into a FIFO, waiting at most `timeout`.
std::string ReadFifo(const std::string& path, absl::Duration timeout) {
  int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK);
  if (fd < 0) return "";
  std::string text;
  absl::Time deadline = absl::Now() + timeout;
  while (text.find('\n') == std::string::npos && absl::Now() < deadline) {
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, absl::ToInt64Milliseconds(deadline - absl::Now())) <= 0) {
      break;
    }
    char buffer[64];
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n > 0) text.append(buffer, n);
  }
  close(fd);
  return text;
}

// An exec task running `script` on another thread, and the pid of a helper
// it started, which the script writes to "$FIFO" (0 if it never did).
struct ReportingTask {
  std::unique_ptr<TempDir> dir;
  std::unique_ptr<TestTask> task;
  std::future<absl::StatusOr<Payload>> result;
  pid_t helper = 0;
};

ReportingTask StartReporting(const std::string& script,
                             ExecOptions options = {}) {
  ReportingTask running;
  auto dir = TempDir::Create("dagd-exec-test-");
  if (!dir.ok()) return running;
  running.dir = *std::move(dir);
  const std::string fifo = absl::StrCat(running.dir->path(), "/fifo");
  if (mkfifo(fifo.c_str(), 0600) != 0) return running;
  running.task = std::make_unique<TestTask>(
      ShellArgs(script, absl::StrCat(R"({"FIFO": ")", fifo, R"("})")));
  running.result =
      std::async(std::launch::async,
                 [task = running.task.get(), options = std::move(options)] {
                   return ExecFunction(task->context, options);
                 });
  if (!absl::SimpleAtoi(
          absl::StripAsciiWhitespace(ReadFifo(fifo, absl::Seconds(20))),
          &running.helper)) {
    running.helper = 0;
  }
  return running;
}

TEST(ExecTest, CancelKillsTheWholeProcessGroup) {
  // The background sleep reports its pid once it exists; then the shell
  // waits on a second sleep.
  ReportingTask running =
      StartReporting(R"(sleep 30 & echo $! > "$FIFO"; sleep 30)");
  ASSERT_GT(running.helper, 0) << "the helper never reported";
  pid_t pgid = getpgid(running.helper);
  ASSERT_GT(pgid, 0);
  ASSERT_NE(pgid, getpgrp()) << "the child must run in its own group";

  running.task->token.Cancel(CancelReason::kTimeout);
  auto out = running.result.get();
  EXPECT_EQ(out.status().code(), absl::StatusCode::kCancelled);
  // RunSubprocess returns only once the group is dead; nothing may linger.
  EXPECT_THAT(LiveProcessGroupMembers(pgid), testing::IsEmpty());
}

TEST(ExecTest, HelpersLeftRunningAfterExitAreKilled) {
  auto dir = TempDir::Create("dagd-exec-test-");
  ASSERT_TRUE(dir.ok());
  std::string pid_file = absl::StrCat((*dir)->path(), "/pid");
  TestTask task(
      ShellArgs(R"(sleep 30 & echo $$ > "$PID_FILE"; echo done)",
                absl::StrCat(R"({"PID_FILE": ")", pid_file, R"("})")));
  auto out = ExecFunction(task.context);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->data, "done\n");
  // The shell's pid is the group's id.
  pid_t pgid = 0;
  auto text = ReadFile(pid_file);
  ASSERT_TRUE(text.ok());
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &pgid));
  EXPECT_THAT(LiveProcessGroupMembers(pgid), testing::IsEmpty());
}

// Row 8 of the Trust issue: a `setsid` child leaves the process group and
// used to outlive the task's timeout.
TEST(ExecTest, HelpersThatLeaveTheGroupAreKilledToo) {
  // The escaped helper reports its pid; the task then outlasts its budget.
  ReportingTask running = StartReporting(
      R"(setsid sh -c 'echo $$ > "$FIFO"; exec sleep 60' & sleep 60)");
  const pid_t helper = running.helper;
  ASSERT_GT(helper, 0) << "the helper never reported";
  ASSERT_NE(getsid(helper), getsid(0))
      << "the helper must be in its own session";
  running.task->token.Cancel(CancelReason::kTimeout);
  EXPECT_EQ(running.result.get().status().code(), absl::StatusCode::kCancelled);
  // Gone, or at most a zombie waiting for init to reap it.
  const std::string stat = absl::StrCat("/proc/", helper, "/stat");
  auto text = ReadFile(stat);
  if (text.ok()) {
    const size_t close = text->rfind(')');
    ASSERT_NE(close, std::string::npos);
    EXPECT_EQ(text->substr(close + 2, 1), "Z") << *text;
  }
}

// Gone, or at most a zombie waiting for init to reap it.
bool Dead(pid_t pid) {
  auto text = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!text.ok()) return true;
  const size_t close = text->rfind(')');
  return close != std::string::npos && text->substr(close + 2, 1) == "Z";
}

// A helper that leaves the session and drops its whole environment (the
// tag with it) escapes everything but a cgroup.
TEST(ExecTest, InACgroupEvenHelpersThatDropTheirEnvironmentAreKilled) {
  absl::StatusOr<CgroupTree> tree = CgroupTree::Detect();
  if (!tree.ok()) GTEST_SKIP() << "no cgroups here: " << tree.status();
  const std::string script =
      R"(setsid env -i /bin/sh -c 'echo $$ > "$0"; exec sleep 60' "$FIFO" &)"
      R"( sleep 60)";
  // Without a cgroup it outlives the attempt (and is killed here).
  ReportingTask loose = StartReporting(script);
  ASSERT_GT(loose.helper, 0) << "the helper never reported";
  loose.task->token.Cancel(CancelReason::kTimeout);
  EXPECT_EQ(loose.result.get().status().code(), absl::StatusCode::kCancelled);
  EXPECT_FALSE(Dead(loose.helper));
  kill(loose.helper, SIGKILL);

  ExecOptions options;
  options.cgroups = std::make_shared<CgroupTree>(*tree);
  ReportingTask held = StartReporting(script, options);
  ASSERT_GT(held.helper, 0) << "the helper never reported";
  held.task->token.Cancel(CancelReason::kTimeout);
  EXPECT_EQ(held.result.get().status().code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(Dead(held.helper));
  // The attempts' groups are gone with them.
  const std::string mine = absl::StrCat("dagd-exec-", getpid(), "-");
  for (const auto& entry : std::filesystem::directory_iterator(tree->dir())) {
    EXPECT_FALSE(absl::StartsWith(entry.path().filename().string(), mine))
        << entry.path();
  }
}

TEST(ExecTest, LoaderVariablesAreRefused) {
  TestTask task(ShellArgs("echo hi", R"({"LD_PRELOAD": "/tmp/evil.so"})"));
  auto out = ExecFunction(task.context);
  EXPECT_TRUE(IsPermanent(out.status())) << out.status();
  EXPECT_THAT(out.status().message(),
              HasSubstr("args.env.LD_PRELOAD is refused"));
}

// A name holding '=' would set what comes before it: "GCONV_PATH=/x" with
// an empty value is GCONV_PATH=/x= to the program.
TEST(ExecTest, NamesHoldingAnEqualsSignAreRefused) {
  for (const char* env : {R"({"GCONV_PATH=/tmp/x": ""})", R"({"": "x"})"}) {
    TestTask task(ShellArgs("echo hi", env));
    auto out = ExecFunction(task.context);
    EXPECT_TRUE(IsPermanent(out.status())) << env << ": " << out.status();
    EXPECT_THAT(out.status().message(),
                HasSubstr("empty or holds '=' or a NUL"));
  }
}

TEST(ExecTest, ProgramsRunAsTheExecUserInAPrivateFolder) {
  if (geteuid() != 0) GTEST_SKIP() << "--exec_user needs root";
  absl::StatusOr<RunAs> nobody = ResolveUser("nobody");
  ASSERT_TRUE(nobody.ok()) << nobody.status();
  ExecOptions options;
  options.run_as = *nobody;
  TestTask task(ShellArgs(
      R"sh(echo "$(id -u) $(stat -c %a "$DAGD_WORK_DIR")" > "$DAGD_OUTPUT")sh"));
  auto out = ExecFunction(task.context, options);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->data, absl::StrCat(nobody->uid, " 700\n"));
  // Its stdout is its own: it may open it again.
  TestTask again(ShellArgs("echo mine > /dev/stdout"));
  out = ExecFunction(again.context, options);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->data, "mine\n");
  EXPECT_EQ(ResolveUser("no-such-user-here").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace dagd
