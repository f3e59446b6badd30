// The runtime list: which runtime takes which task, what the worker then
// offers in Register, and what it refuses.
#include "worker/task_runtime.h"

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/test_runtimes.h"
#include "worker/builtins.h"
#include "worker/exec_runtime.h"
#include "worker/function_runtime.h"

namespace dagd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

v1::Assignment Task(const std::string& fn) {
  v1::Assignment assignment;
  assignment.set_fn(fn);
  return assignment;
}

absl::StatusOr<Payload> Upper(TaskContext&) {
  return Payload{"\"UP\"", kJsonContentType};
}

// The name of the runtime that takes a task of `fn`, or "none".
std::string Taker(const TaskRuntimes& runtimes, const std::string& fn) {
  const TaskRuntime* runtime = runtimes.Find(Task(fn));
  return runtime == nullptr ? "none" : std::string(runtime->name());
}

class TaskRuntimesTest : public testing::Test {
 protected:
  TaskRuntimesTest() { EXPECT_TRUE(RegisterBuiltins(&builtins_).ok()); }

  // A dagd-worker's list with --plugin: builtin, plugin, exec.
  TaskRuntimes WithPlugins() {
    TaskRuntimes runtimes;
    EXPECT_TRUE(
        runtimes
            .Add(std::make_unique<FunctionRuntime>(kBuiltinRuntime, &builtins_))
            .ok());
    EXPECT_TRUE(
        runtimes
            .Add(std::make_unique<FunctionRuntime>(kPluginRuntime, &plugins_))
            .ok());
    EXPECT_TRUE(runtimes.Add(std::make_unique<ExecRuntime>()).ok());
    return runtimes;
  }

  FunctionRegistry builtins_;
  FunctionRegistry plugins_;
};

TEST_F(TaskRuntimesTest, EachRuntimeTakesItsOwnFunctions) {
  ASSERT_TRUE(plugins_.Register("upper", Upper).ok());
  TaskRuntimes runtimes = WithPlugins();
  EXPECT_EQ(Taker(runtimes, "add"), "builtin");
  EXPECT_EQ(Taker(runtimes, "sleep"), "builtin");
  EXPECT_EQ(Taker(runtimes, "upper"), "plugin");
  EXPECT_EQ(Taker(runtimes, "exec"), "exec");
  EXPECT_EQ(Taker(runtimes, "nope"), "none");
  EXPECT_EQ(Taker(runtimes, ""), "none");
}

TEST_F(TaskRuntimesTest, RegisterListsRuntimesInOrderAndEveryFunction) {
  ASSERT_TRUE(plugins_.Register("upper", Upper).ok());
  TaskRuntimes runtimes = WithPlugins();
  EXPECT_THAT(runtimes.Names(), ElementsAre("builtin", "plugin", "exec"));
  EXPECT_THAT(runtimes.Functions(),
              ElementsAre("add", "bytes", "checksum", "const", "exec", "fail",
                          "flaky", "identity", "sleep", "upper"));
}

// What a worker without plugins offered before it had runtimes: every
// builtin, exec among them.
TEST_F(TaskRuntimesTest, WorkerWithoutPluginsOffersEveryBuiltin) {
  TaskRuntimes runtimes = BuiltinRuntimes(&builtins_);
  EXPECT_THAT(runtimes.Names(), ElementsAre("builtin", "exec"));
  EXPECT_THAT(runtimes.Functions(),
              ElementsAre("add", "bytes", "checksum", "const", "exec", "fail",
                          "flaky", "identity", "sleep"));
}

TEST_F(TaskRuntimesTest, RefusesAFunctionAnotherRuntimeOffers) {
  // A plugin's "add" would shadow the builtin, or be shadowed by it.
  ASSERT_TRUE(plugins_.Register("add", Upper).ok());
  TaskRuntimes runtimes = BuiltinRuntimes(&builtins_);
  absl::Status status = runtimes.Add(
      std::make_unique<FunctionRuntime>(kPluginRuntime, &plugins_));
  EXPECT_TRUE(absl::IsAlreadyExists(status)) << status;
  EXPECT_EQ(status.message(),
            "function 'add' of runtime 'plugin' is already offered by "
            "runtime 'builtin'");
  EXPECT_THAT(runtimes.Names(), ElementsAre("builtin", "exec"));

  FunctionRegistry exec;
  ASSERT_TRUE(exec.Register("exec", Upper).ok());
  status = runtimes.Add(std::make_unique<FunctionRuntime>("mine", &exec));
  EXPECT_THAT(status.message(), HasSubstr("already offered by runtime 'exec'"));
}

TEST_F(TaskRuntimesTest, RefusesANameTwiceAndNoName) {
  TaskRuntimes runtimes = BuiltinRuntimes(&builtins_);
  absl::Status twice = runtimes.Add(std::make_unique<ExecRuntime>());
  EXPECT_TRUE(absl::IsAlreadyExists(twice)) << twice;
  EXPECT_THAT(twice.message(), HasSubstr("'exec' is added twice"));
  EXPECT_TRUE(absl::IsInvalidArgument(runtimes.Add(nullptr)));
  EXPECT_TRUE(absl::IsInvalidArgument(
      runtimes.Add(std::make_unique<RecordingRuntime>("", "py:"))));
  EXPECT_THAT(runtimes.Names(), ElementsAre("builtin", "exec"));
}

// A runtime may take tasks it cannot list by name (as Python takes
// "module:function"); the first runtime that takes a task runs it.
TEST_F(TaskRuntimesTest, ARuntimeMayTakeTasksByKindAndTheFirstWins) {
  TaskRuntimes runtimes = BuiltinRuntimes(&builtins_);
  ASSERT_TRUE(
      runtimes.Add(std::make_unique<RecordingRuntime>("python", "py:")).ok());
  ASSERT_TRUE(
      runtimes.Add(std::make_unique<RecordingRuntime>("anything", "")).ok());
  EXPECT_EQ(Taker(runtimes, "py:stats:mean"), "python");
  EXPECT_EQ(Taker(runtimes, "add"), "builtin");
  EXPECT_EQ(Taker(runtimes, "exec"), "exec");
  EXPECT_EQ(Taker(runtimes, "nope"), "anything");
  EXPECT_THAT(runtimes.Names(),
              ElementsAre("builtin", "exec", "python", "anything"));
  EXPECT_EQ(runtimes.Functions().size(), 9u);
}

TEST(TaskRuntimesEmptyTest, TakesNothingAndOffersNothing) {
  TaskRuntimes runtimes;
  EXPECT_EQ(runtimes.Find(Task("add")), nullptr);
  EXPECT_TRUE(runtimes.Names().empty());
  EXPECT_TRUE(runtimes.Functions().empty());
}

}  // namespace
}  // namespace dagd
