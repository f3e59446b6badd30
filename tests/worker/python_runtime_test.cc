// The python runtime with Debian's python3 and the dagd package of this
// build (DAGD_PYTHON_PATH), plus a module of test tasks written to a temp
// directory on the interpreters' PYTHONPATH.
#include "worker/python_runtime.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "storage/crc32c.h"
#include "storage/object_store.h"
#include "tests/worker/test_task.h"
#include "worker/python_process.h"
#include "worker/temp_dir.h"

namespace dagd {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Message(const absl::Status& status) {
  return std::string(status.message());
}

constexpr char kTestTasks[] = R"py(
import os, sys, time

def announce_then_sleep(seconds):
    print("about to sleep", flush=True)
    time.sleep(seconds)

def escape_then_sleep(path):
    import subprocess
    child = subprocess.Popen(["setsid", "sleep", "600"])
    with open(path, "w") as f:
        f.write(str(child.pid))
    print("escaped, sleeping", flush=True)
    time.sleep(600)

def print_big_and_odd():
    sys.stdout.write(("x" * 999 + "\n") * 70000)  # 70 MB in one write
    print("odd \udcff text")
    sys.stdout.write("z" * (70 << 20))  # no newline: sent by the flush
    return "printed"

def raise_huge():
    raise ValueError("y" * (70 << 20))

class Unprintable(Exception):
    def __str__(self):
        raise RuntimeError("no str")

def raise_unprintable():
    raise Unprintable()

def fork_then_exit(code, path):
    # The child (multiprocessing's default start) holds the socket on.
    child = os.fork()
    if child == 0:
        time.sleep(600)
        os._exit(0)
    with open(path, "w") as f:
        f.write(str(child))
    os._exit(code)

def pid():
    return os.getpid()

def shout(n):
    print("to stdout", n)
    print("to stderr", n, file=sys.stderr)
    sys.stdout.write("no newline")
    return n

def fail_for_good():
    import dagd
    raise dagd.PermanentError("this input will never do")

def nested_failure():
    def inner():
        raise KeyError("missing")
    inner()

def sum_json(*values):
    return sum(values)

_made = None
_last = None

def make_block(size):
    global _made
    _made = bytearray(b"b" * size)
    return _made

def is_made(block):
    return block is _made

def same_as_before(block):
    global _last
    same = block is _last
    _last = block
    return [same, len(block), bytes(block[:1]).decode()]

def chatty_bytes(lines, size):
    for i in range(lines):
        print("line %05d " % i + "x" * 40)
    return bytes(range(256)) * (size // 256)
)py";

// Log entries, kept for checks; notifies when a line holds a text.
class RecordingLog {
 public:
  LogFn fn() {
    return [this](const LogEntry& entry) {
      absl::MutexLock lock(&mu_);
      entries_.push_back(entry);
    };
  }
  std::vector<LogEntry> entries() const {
    absl::MutexLock lock(&mu_);
    return entries_;
  }
  // Waits up to `timeout` for an entry whose message contains `text`.
  bool WaitFor(const std::string& text, absl::Duration timeout) const {
    absl::MutexLock lock(&mu_);
    auto seen = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      for (const LogEntry& entry : entries_) {
        if (entry.message.find(text) != std::string::npos) return true;
      }
      return false;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&seen), timeout);
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<LogEntry> entries_ ABSL_GUARDED_BY(mu_);
};

class PythonRuntimeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto dir = TempDir::Create("dagd-python-test-");
    ASSERT_TRUE(dir.ok()) << dir.status();
    modules_ = dir->release();
    ASSERT_TRUE(
        WriteFile(modules_->path() + "/dagd_test_tasks.py", kTestTasks).ok());
    setenv("PYTHONPATH",
           absl::StrCat(DAGD_PYTHON_PATH, ":", modules_->path()).c_str(), 1);
  }
  static void TearDownTestSuite() { delete modules_; }

  std::unique_ptr<PythonRuntime> Start(
      uint32_t processes = 1, uint64_t keep_bytes = kDefaultPythonKeepBytes,
      uint64_t max_result_bytes = 0) {
    PythonRuntimeOptions options;
    options.processes = processes;
    options.keep_bytes = keep_bytes;
    options.max_output_bytes = [max_result_bytes] { return max_result_bytes; };
    auto runtime = PythonRuntime::Start(options, log_.fn());
    EXPECT_TRUE(runtime.ok()) << runtime.status();
    return runtime.ok() ? *std::move(runtime) : nullptr;
  }

  static absl::StatusOr<Payload> Run(PythonRuntime& runtime, TestTask& task,
                                     const std::string& code = "") {
    v1::Assignment assignment;
    assignment.set_fn("python");
    assignment.set_code(code);
    return runtime.Run({assignment, task.context, absl::InfiniteFuture()});
  }

  // Runs `task` with `refs` as its assignment's input_refs.
  static absl::StatusOr<Payload> RunWithRefs(
      PythonRuntime& runtime, TestTask& task,
      const std::map<uint32_t, v1::ObjectRef>& refs) {
    v1::Assignment assignment = AssignmentOf(task);
    for (const auto& [position, ref] : refs) {
      (*assignment.mutable_input_refs())[position] = ref;
    }
    return runtime.Run({assignment, task.context, absl::InfiniteFuture()});
  }

  // What dagd sent for `task`: fn python and the task's ids.
  static v1::Assignment AssignmentOf(const TestTask& task) {
    v1::Assignment assignment;
    assignment.set_fn("python");
    assignment.mutable_task()->set_job_id(task.context.job_id());
    assignment.mutable_task()->set_task_index(task.context.task_index());
    assignment.mutable_task()->set_attempt(task.context.attempt());
    return assignment;
  }

  // A pickled block of `size` bytes of b"b", made by an interpreter of its
  // own.
  static std::string Block(size_t size) {
    auto runtime = PythonRuntime::Start({}, [](const LogEntry&) {});
    EXPECT_TRUE(runtime.ok()) << runtime.status();
    if (!runtime.ok()) return "";
    TestTask task(absl::StrCat(
        R"({"function": "dagd_test_tasks:make_block", "args": [)", size, "]}"));
    auto out = Run(**runtime, task);
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? out->data : "";
  }

  // `data` as a result this worker holds under `key`, and dagd's reference
  // to it.
  static std::pair<Payload, v1::ObjectRef> Held(const std::string& data,
                                                const std::string& key) {
    Payload held;
    held.content_type = "application/x-dagd-pickle";
    held.held = std::make_shared<const std::string>(data);
    v1::ObjectRef ref;
    ref.set_key(key);
    ref.set_size(data.size());
    ref.set_crc32c(crc32c::Value(data));
    ref.set_content_type(held.content_type);
    return {held, ref};
  }

  // The interpreter's pid, as a task sees it.
  static int64_t TaskPid(PythonRuntime& runtime) {
    TestTask task(R"({"function": "dagd_test_tasks:pid", "output": "json"})");
    auto out = Run(runtime, task);
    EXPECT_TRUE(out.ok()) << out.status();
    int64_t pid = 0;
    EXPECT_TRUE(out.ok() && absl::SimpleAtoi(out->data, &pid));
    return pid;
  }

  static TempDir* modules_;
  RecordingLog log_;
};

TempDir* PythonRuntimeTest::modules_ = nullptr;

TEST_F(PythonRuntimeTest, AdvertisesItselfForFnPython) {
  auto runtime = Start();
  ASSERT_NE(runtime, nullptr);
  EXPECT_EQ(runtime->name(), "python");
  EXPECT_THAT(runtime->Functions(), ::testing::ElementsAre("python"));
  v1::Assignment python, exec;
  python.set_fn("python");
  exec.set_fn("exec");
  EXPECT_TRUE(runtime->Runs(python));
  EXPECT_FALSE(runtime->Runs(exec));
  EXPECT_THAT(runtime->Describe(),
              AllOf(StartsWith("1 interpreter of /usr/bin/python3 (Python 3."),
                    HasSubstr(")")));
}

TEST_F(PythonRuntimeTest, CallsModuleFunctionWithInputsThenArgs) {
  auto runtime = Start();
  ASSERT_NE(runtime, nullptr);
  TestTask task(R"({"function": "dagd_test_tasks:sum_json",
                    "args": [100], "output": "json"})",
                {Json("1"), Json("20")});
  auto out = Run(*runtime, task);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->data, "121");
  EXPECT_EQ(out->content_type, "application/json");
}

TEST_F(PythonRuntimeTest, AnInputHeldByTheWorkerIsSentFromWhereItIs) {
  auto runtime = Start();
  ASSERT_NE(runtime, nullptr);
  EXPECT_TRUE(runtime->ReadsHeldInputsInPlace());
  Payload held;  // as DataPlane hands it over: no bytes of its own
  held.content_type = "application/json";
  held.held = std::make_shared<const std::string>("20");
  TestTask task(R"({"function": "dagd_test_tasks:sum_json",
                    "args": [100], "output": "json"})",
                {Json("1"), held});
  auto out = Run(*runtime, task);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->data, "121");
}

TEST_F(PythonRuntimeTest, ResultsArePickledByDefault) {
  auto runtime = Start();
  ASSERT_NE(runtime, nullptr);
  TestTask task(R"({"function": "operator:add", "kwargs": {}})",
                {Json("2"), Json("3")});
  auto out = Run(*runtime, task);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->content_type, "application/x-dagd-pickle");
  EXPECT_THAT(out->data, StartsWith("DPK5"));
}

TEST_F(PythonRuntimeTest, RunsPickledCode) {
  auto runtime = Start();
  ASSERT_NE(runtime, nullptr);
  TestTask task(R"({"output": "json"})", {Json("6"), Json("7")});
  // A protocol-0 pickle of operator.mul, as cloudpickle would send a
  // function importable by name.
  auto out = Run(*runtime, task, "coperator\nmul\n.");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->data, "42");
}

TEST_F(PythonRuntimeTest, ExceptionFailsWithTypeMessageAndTraceback) {
  auto runtime = Start();
  ASSERT_NE(runtime, nullptr);
  TestTask task(R"({"function": "dagd_test_tasks:nested_failure"})");
  auto out = Run(*runtime, task);
  ASSERT_FALSE(out.ok());
  EXPECT_FALSE(IsPermanent(out.status()));
  EXPECT_THAT(Message(out.status()),
              AllOf(StartsWith("KeyError: 'missing'\nTraceback (most recent "
                               "call last):"),
                    HasSubstr("in nested_failure"), HasSubstr("in inner"),
                    ::testing::Not(HasSubstr("runner.py"))));
  // The interpreter survives its task's exception.
  EXPECT_GT(TaskPid(*runtime), 0);
}

TEST_F(PythonRuntimeTest, PermanentErrorIsNotRetried) {
  auto runtime = Start();
  ASSERT_NE(runtime, nullptr);
  TestTask task(R"({"function": "dagd_test_tasks:fail_for_good"})");
  auto out = Run(*runtime, task);
  ASSERT_FALSE(out.ok());
  EXPECT_TRUE(IsPermanent(out.status()));
  EXPECT_THAT(Message(out.status()),
              StartsWith("dagd.errors.PermanentError: this input will never "
                         "do"));
}

TEST_F(PythonRuntimeTest, CodeThatCannotBeFoundFailsForGood) {
  auto runtime = Start();
  ASSERT_NE(runtime, nullptr);
  TestTask missing(R"({"function": "no_such_module_here:f"})");
  auto out = Run(*runtime, missing);
  ASSERT_FALSE(out.ok());
  EXPECT_TRUE(IsPermanent(out.status()));
  EXPECT_THAT(Message(out.status()),
              HasSubstr("cannot import 'no_such_module_here'"));

  TestTask no_colon(R"({"function": "operator.add"})");
  out = Run(*runtime, no_colon);
  EXPECT_THAT(Message(out.status()), HasSubstr("\"module:function\""));

  TestTask typo(R"({"function": "operator:add", "kwarg": {}})");
  out = Run(*runtime, typo);
  EXPECT_TRUE(IsPermanent(out.status()));
  EXPECT_THAT(Message(out.status()), HasSubstr("unknown key 'kwarg'"));

  TestTask nothing("null");
  out = Run(*runtime, nothing);
  EXPECT_THAT(Message(out.status()),
              HasSubstr("needs args.function (\"module:function\") or code"));
}

// An output over dagd's --max_result_bytes is refused for good before its
// frames are read (it was read whole, then dropped), and the interpreter,
// out of step with them, replaced.
TEST_F(PythonRuntimeTest, AnOutputOverDagdsLimitIsNotRead) {
  auto runtime = Start(1, kDefaultPythonKeepBytes, /*max_result_bytes=*/1000);
  ASSERT_NE(runtime, nullptr);
  TestTask task(
      R"({"function": "os:urandom", "args": [100000], "output": "bytes"})");
  auto out = Run(*runtime, task);
  ASSERT_FALSE(out.ok());
  EXPECT_TRUE(IsPermanent(out.status()));
  EXPECT_THAT(Message(out.status()),
              AllOf(HasSubstr("100000 bytes, over dagd's limit of 1000"),
                    HasSubstr("--max_result_bytes")));
  EXPECT_GT(TaskPid(*runtime), 0);  // the next task runs
}

TEST_F(PythonRuntimeTest, DeadInterpreterFailsRetryablyAndIsReplaced) {
  auto runtime = Start();
  ASSERT_NE(runtime, nullptr);
  const int64_t before = TaskPid(*runtime);
  TestTask task(R"({"function": "os:_exit", "args": [3]})");
  auto out = Run(*runtime, task);
  ASSERT_FALSE(out.ok());
  EXPECT_FALSE(IsPermanent(out.status()));
  EXPECT_THAT(Message(out.status()),
              AllOf(HasSubstr(absl::StrCat("(pid ", before, ") died")),
                    HasSubstr("exit status 3")));
  const int64_t after = TaskPid(*runtime);
  EXPECT_GT(after, 0);
  EXPECT_NE(after, before);
}

// An interpreter that died while idle (the OOM killer's pick, say) is
// replaced when a task wants one: the task was given it, and failed "died
// while running the task".
TEST_F(PythonRuntimeTest, AnInterpreterThatDiedIdleIsReplacedNotGivenATask) {
  auto runtime = Start();
  ASSERT_NE(runtime, nullptr);
  const pid_t before = static_cast<pid_t>(TaskPid(*runtime));
  ASSERT_GT(before, 0);
  ASSERT_EQ(kill(before, SIGKILL), 0);
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  siginfo_t info{};
  while (!(waitid(P_PID, before, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           info.si_pid == before) &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  TestTask task(R"({"function": "dagd_test_tasks:pid", "output": "json"})");
  auto out = Run(*runtime, task);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_NE(out->data, absl::StrCat(before));
}

// An interpreter that forked and ended: the child holds the socket open,
// so its end never came as the socket's; the task waited as long as the
// child lived (without a task timeout, for good).
TEST_F(PythonRuntimeTest, AnInterpreterThatEndsIsSeenThoughItsChildLivesOn) {
  auto runtime = Start();
  ASSERT_NE(runtime, nullptr);
  const std::string path = modules_->path() + "/child.pid";
  TestTask task(absl::StrCat(
      R"({"function": "dagd_test_tasks:fork_then_exit", "args": [3, ")", path,
      R"("]})"));
  auto running =
      std::async(std::launch::async, [&] { return Run(*runtime, task); });
  ASSERT_EQ(running.wait_for(std::chrono::seconds(60)),
            std::future_status::ready)
      << "the task waits for the interpreter's child";
  auto out = running.get();
  ASSERT_FALSE(out.ok());
  EXPECT_FALSE(IsPermanent(out.status()));
  EXPECT_THAT(Message(out.status()),
              AllOf(HasSubstr("died"), HasSubstr("exit status 3")));
  // The child went with its interpreter's process group.
  std::ifstream file(path);
  pid_t child_pid = 0;
  ASSERT_TRUE(file >> child_pid) << "no pid in " << path;
  ASSERT_GT(child_pid, 0);
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (kill(child_pid, 0) == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_NE(kill(child_pid, 0), 0) << "the child lives on";
}

// A task's program that left the interpreter's process group (setsid) is
// killed with it, as an exec program's helpers are: it outlived the task's
// timeout.
TEST_F(PythonRuntimeTest, ProgramsThatLeaveTheGroupGoWithTheInterpreter) {
  auto runtime = Start();
  ASSERT_NE(runtime, nullptr);
  const std::string path = modules_->path() + "/escaped.pid";
  TestTask task(absl::StrCat(
      R"({"function": "dagd_test_tasks:escape_then_sleep", "args": [")", path,
      R"("]})"));
  auto running =
      std::async(std::launch::async, [&] { return Run(*runtime, task); });
  ASSERT_TRUE(log_.WaitFor("escaped, sleeping", absl::Seconds(60)));
  std::ifstream file(path);
  pid_t escaped = 0;
  ASSERT_TRUE(file >> escaped) << "no pid in " << path;
  ASSERT_GT(escaped, 0);
  task.token.Cancel(CancelReason::kTimeout);
  ASSERT_EQ(running.wait_for(std::chrono::seconds(30)),
            std::future_status::ready);
  EXPECT_TRUE(absl::IsCancelled(running.get().status()));
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (kill(escaped, 0) == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_NE(kill(escaped, 0), 0) << "the program that left the group lives on";
}

TEST_F(PythonRuntimeTest, CancelKillsTheInterpreterAndTheNextTaskGetsAnother) {
  auto runtime = Start();
  ASSERT_NE(runtime, nullptr);
  const int64_t before = TaskPid(*runtime);
  TestTask task(
      R"({"function": "dagd_test_tasks:announce_then_sleep", "args": [600]})");
  auto running =
      std::async(std::launch::async, [&] { return Run(*runtime, task); });
  ASSERT_TRUE(log_.WaitFor("about to sleep", absl::Seconds(60)));
  task.token.Cancel(CancelReason::kTimeout);
  ASSERT_EQ(running.wait_for(std::chrono::seconds(30)),
            std::future_status::ready);
  auto out = running.get();
  EXPECT_TRUE(absl::IsCancelled(out.status())) << out.status();
  EXPECT_EQ(kill(static_cast<pid_t>(before), 0), -1);  // reaped
  const int64_t after = TaskPid(*runtime);
  EXPECT_NE(after, before);
}

TEST_F(PythonRuntimeTest, CancelWhileWaitingForAnInterpreter) {
  auto runtime = Start(/*processes=*/1);
  ASSERT_NE(runtime, nullptr);
  TestTask busy(
      R"({"function": "dagd_test_tasks:announce_then_sleep", "args": [600]})");
  auto running =
      std::async(std::launch::async, [&] { return Run(*runtime, busy); });
  ASSERT_TRUE(log_.WaitFor("about to sleep", absl::Seconds(60)));
  TestTask waiting(R"({"function": "dagd_test_tasks:pid"})");
  waiting.token.Cancel(CancelReason::kCoordinator);
  EXPECT_TRUE(absl::IsCancelled(Run(*runtime, waiting).status()));
  busy.token.Cancel(CancelReason::kCoordinator);
  EXPECT_TRUE(absl::IsCancelled(running.get().status()));
}

TEST_F(PythonRuntimeTest, PrintsAreLoggedWithJobAndTaskIds) {
  auto runtime = Start();
  ASSERT_NE(runtime, nullptr);
  TestTask task(R"({"function": "dagd_test_tasks:shout", "args": [7]})");
  ASSERT_TRUE(Run(*runtime, task).ok());
  std::vector<std::string> lines;
  for (const LogEntry& entry : log_.entries()) {
    EXPECT_EQ(entry.job_id, "job-1");
    EXPECT_EQ(entry.task_id, "task-a");
    lines.push_back(entry.message);
  }
  EXPECT_THAT(lines,
              ::testing::UnorderedElementsAre("python stdout: to stdout 7",
                                              "python stderr: to stderr 7",
                                              "python stdout: no newline"));
}

// What the worker could not read (a print over its 64 MiB header limit, a
// lone surrogate, an error message of 70 MB, an exception whose str()
// raises) killed the interpreter, and the task failed "died", retried to
// the same end: the text is cut and escaped, and the task goes on.
TEST_F(PythonRuntimeTest, PrintsOfAnySizeOrTextAreLogged) {
  auto runtime = Start();
  ASSERT_NE(runtime, nullptr);
  TestTask task(R"({"function": "dagd_test_tasks:print_big_and_odd"})");
  auto out = Run(*runtime, task);
  ASSERT_TRUE(out.ok()) << out.status();
  bool odd = false;
  size_t lines = 0;
  for (const LogEntry& entry : log_.entries()) {
    if (absl::StrContains(entry.message, "odd \\udcff text")) odd = true;
    if (absl::StrContains(entry.message, "xxx")) ++lines;
  }
  EXPECT_TRUE(odd);
  EXPECT_GE(lines, 70000u);
}

TEST_F(PythonRuntimeTest, ErrorsTheWorkerCouldNotReadAreCutNotFatal) {
  auto runtime = Start();
  ASSERT_NE(runtime, nullptr);
  TestTask huge(R"({"function": "dagd_test_tasks:raise_huge"})");
  auto out = Run(*runtime, huge);
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(Message(out.status()),
              AllOf(HasSubstr("ValueError"), HasSubstr("more characters"),
                    ::testing::Not(HasSubstr("died"))));
  EXPECT_LT(Message(out.status()).size(), 8u << 20);
  TestTask unprintable(R"({"function": "dagd_test_tasks:raise_unprintable"})");
  out = Run(*runtime, unprintable);
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(Message(out.status()), AllOf(HasSubstr("Unprintable"),
                                           ::testing::Not(HasSubstr("died"))));
}

// Replies are read ahead in 64 KiB pieces: messages that straddle a piece,
// outputs larger than one, and the next task's reply all stay in step.
TEST_F(PythonRuntimeTest, RepliesOfAnySizeStayInStep) {
  auto runtime = Start();
  ASSERT_NE(runtime, nullptr);
  const int64_t pid = TaskPid(*runtime);
  for (int size : {256, 200 << 10, 4096, 64 << 10}) {
    TestTask task(absl::StrCat(
        R"({"function": "dagd_test_tasks:chatty_bytes", "args": [1500, )", size,
        R"(], "output": "bytes"})"));
    absl::StatusOr<Payload> out = Run(*runtime, task);
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_EQ(out->data.size(), static_cast<size_t>(size));
    for (int i = 0; i < size; ++i) {
      ASSERT_EQ(static_cast<unsigned char>(out->data[i]), i % 256) << i;
    }
  }
  int lines = 0;
  for (const LogEntry& entry : log_.entries()) {
    if (absl::StartsWith(entry.message, "python stdout: line ")) ++lines;
  }
  EXPECT_EQ(lines, 4 * 1500);
  // Out of step, the interpreter would have been replaced.
  EXPECT_EQ(TaskPid(*runtime), pid);
}

// The interpreter that made a large result keeps it: the task that reads
// it next there gets the very object, not a copy through the socket. Not
// when nothing is kept, nor when the result did not go by reference (no
// task will ask for it under the name the worker would give it).
TEST_F(PythonRuntimeTest, AResultIsPassedAsTheObjectItsInterpreterKept) {
  struct Case {
    uint64_t keep_bytes;
    bool stored;
    const char* want;
  };
  for (const Case& c :
       {Case{kDefaultPythonKeepBytes, true, "true"}, Case{0, true, "false"},
        Case{kDefaultPythonKeepBytes, false, "false"}}) {
    auto runtime = Start(/*processes=*/1, c.keep_bytes);
    ASSERT_NE(runtime, nullptr);
    TestTask producer(
        R"({"function": "dagd_test_tasks:make_block", "args": [2097152]})");
    auto made = RunWithRefs(*runtime, producer, {});
    ASSERT_TRUE(made.ok()) << made.status();
    ASSERT_GT(made->data.size(), 2u << 20);
    // As the worker holds it: TestTask is attempt 1 of task 0 of job-1.
    auto [held, ref] = Held(made->data, ResultObjectKey("job-1", 0, 1));
    runtime->OutputStored(AssignmentOf(producer), c.stored ? &ref : nullptr);
    TestTask consumer(
        R"({"function": "dagd_test_tasks:is_made", "output": "json"})", {held},
        /*attempt=*/2);
    auto out = RunWithRefs(*runtime, consumer, {{0, ref}});
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(out->data, c.want) << c.keep_bytes << " " << c.stored;
  }
}

// A task that fails before its inputs are decoded keeps none of them: the
// next task that reads them is sent their bytes, and runs.
TEST_F(PythonRuntimeTest, AnInputATaskDidNotDecodeIsSentAgain) {
  const std::string block = Block(2 << 20);
  ASSERT_FALSE(block.empty());
  auto runtime = Start();
  ASSERT_NE(runtime, nullptr);
  const int64_t pid = TaskPid(*runtime);
  auto x = Held(block, "results/job-0/1/1");
  TestTask broken(R"({"function": "dagd_test_tasks:no_such_function"})",
                  {x.first});
  auto failed = RunWithRefs(*runtime, broken, {{0, x.second}});
  ASSERT_FALSE(failed.ok());
  EXPECT_THAT(Message(failed.status()), HasSubstr("no_such_function"));
  TestTask task(
      R"({"function": "dagd_test_tasks:same_as_before", "output": "json"})",
      {x.first});
  auto out = RunWithRefs(*runtime, task, {{0, x.second}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->data, absl::StrCat("[false,", 2 << 20, ",\"b\"]"));
  EXPECT_EQ(TaskPid(*runtime), pid) << "the interpreter stayed in step";
}

// Another name for the same key (a dagd started afresh reuses job ids) is
// another object.
TEST_F(PythonRuntimeTest, AKeptInputIsKnownByItsSizeAndChecksumToo) {
  const std::string block = Block(2 << 20);
  std::string other = Block(2 << 20);
  ASSERT_FALSE(block.empty());
  ASSERT_EQ(other.size(), block.size());
  other[other.size() / 2] ^= 1;  // one of the 2 MiB of b"b"
  auto runtime = Start();
  ASSERT_NE(runtime, nullptr);
  auto x = Held(block, "results/j1/1/1");
  auto y = Held(other, "results/j1/1/1");
  for (auto* input : {&x, &y}) {
    TestTask task(
        R"({"function": "dagd_test_tasks:same_as_before", "output": "json"})",
        {input->first});
    auto out = RunWithRefs(*runtime, task, {{0, input->second}});
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(out->data, absl::StrCat("[false,", 2 << 20, ",\"b\"]"));
  }
}

// An input is decoded once and kept for the next task that reads it, until
// others push it out of the interpreter's budget; every task gets the
// right value either way.
TEST_F(PythonRuntimeTest, AnInputIsKeptForTheNextTaskWithinTheBudget) {
  const std::string block = Block(2 << 20);
  ASSERT_FALSE(block.empty());
  auto runtime = Start(/*processes=*/1, /*keep_bytes=*/3 << 20);
  ASSERT_NE(runtime, nullptr);
  auto x = Held(block, "results/job-0/1/1");
  auto y = Held(block, "results/job-0/2/1");
  const std::string n = std::to_string(2 << 20);
  const std::vector<std::pair<std::pair<Payload, v1::ObjectRef>*, bool>> steps =
      {{&x, false}, {&x, true}, {&y, false},
       {&x, false}, {&x, true}, {&y, false}};
  for (size_t i = 0; i < steps.size(); ++i) {
    auto [input, same] = steps[i];
    TestTask task(
        R"({"function": "dagd_test_tasks:same_as_before", "output": "json"})",
        {input->first});
    auto out = RunWithRefs(*runtime, task, {{0, input->second}});
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(out->data,
              absl::StrCat("[", same ? "true" : "false", ",", n, ",\"b\"]"))
        << "step " << i;
  }
}

TEST_F(PythonRuntimeTest, SeveralInterpretersRunAtOnce) {
  auto runtime = Start(/*processes=*/2);
  ASSERT_NE(runtime, nullptr);
  TestTask sleeper(
      R"({"function": "dagd_test_tasks:announce_then_sleep", "args": [600]})");
  auto running =
      std::async(std::launch::async, [&] { return Run(*runtime, sleeper); });
  ASSERT_TRUE(log_.WaitFor("about to sleep", absl::Seconds(60)));
  EXPECT_GT(TaskPid(*runtime), 0);  // the other interpreter answers
  sleeper.token.Cancel(CancelReason::kShutdown);
  running.wait();
}

// One BLAS thread per interpreter unless the worker's environment sets
// another number; the interpreter sees what the worker sets.
TEST_F(PythonRuntimeTest, InterpretersRunOneBlasThreadUnlessTheWorkerSaysSo) {
  ASSERT_EQ(setenv("MKL_NUM_THREADS", "3", 1), 0);
  ASSERT_EQ(unsetenv("OMP_NUM_THREADS"), 0);
  auto runtime = Start();
  ASSERT_EQ(unsetenv("MKL_NUM_THREADS"), 0);
  ASSERT_NE(runtime, nullptr);
  for (const auto& [name, want] :
       {std::pair<std::string, std::string>{"OMP_NUM_THREADS", R"("1")"},
        {"MKL_NUM_THREADS", R"("3")"}}) {
    TestTask task(absl::StrCat(R"({"function": "os:getenv", "args": [")", name,
                               R"("], "output": "json"})"));
    auto out = Run(*runtime, task);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(out->data, want) << name;
  }
}

}  // namespace
}  // namespace dagd
