// Runs the dagd-worker binary (DAGD_WORKER_BINARY, set by CMake) to check
// what a user sees for bad flags and --help.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/test_task.h"
#include "worker/subprocess.h"
#include "worker/temp_dir.h"

extern char** environ;

namespace dagd {
namespace {

using ::testing::HasSubstr;

struct WorkerRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

WorkerRun RunWorker(std::vector<std::string> flags) {
  auto dir = TempDir::Create("dagd-worker-main-test-");
  EXPECT_TRUE(dir.ok());
  SubprocessSpec spec;
  spec.argv.push_back(DAGD_WORKER_BINARY);
  spec.argv.insert(spec.argv.end(), flags.begin(), flags.end());
  for (char** entry = environ; *entry != nullptr; ++entry) {
    spec.env.push_back(*entry);
  }
  spec.stdout_path = absl::StrCat((*dir)->path(), "/out");
  spec.stderr_path = absl::StrCat((*dir)->path(), "/err");
  TestTask task;
  auto exit = RunSubprocess(spec, task.context);
  EXPECT_TRUE(exit.ok()) << exit.status();
  WorkerRun run;
  if (exit.ok() && exit->exited) run.exit_code = exit->exit_code;
  run.out = ReadFile(spec.stdout_path).value_or("");
  run.err = ReadFile(spec.stderr_path).value_or("");
  return run;
}

TEST(WorkerMainTest, BadSlotsExitsTwo) {
  WorkerRun run = RunWorker({"--slots=many"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("--slots must be a whole number"));
}

TEST(WorkerMainTest, BadResourcesExitsTwo) {
  WorkerRun run = RunWorker({"--resources=gpu=lots"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("--resources"));
  EXPECT_THAT(run.err, HasSubstr("'gpu'"));
}

TEST(WorkerMainTest, MissingPluginNamesTheFile) {
  WorkerRun run = RunWorker({"--plugin=/nonexistent/libplug.so"});
  EXPECT_NE(run.exit_code, 0);
  EXPECT_THAT(run.err, HasSubstr("cannot load plugin /nonexistent/libplug.so"));
}

TEST(WorkerMainTest, HelpListsTheFlags) {
  WorkerRun run = RunWorker({"--help"});
  std::string text = run.out + run.err;
  for (const char* flag : {"--coordinator", "--slots", "--pool", "--labels",
                           "--resources", "--plugin", "--name"}) {
    EXPECT_THAT(text, HasSubstr(flag));
  }
  EXPECT_THAT(text, HasSubstr("usage: dagd-worker"));
}

}  // namespace
}  // namespace dagd
