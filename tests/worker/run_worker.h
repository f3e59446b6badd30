// Runs the dagd-worker binary (DAGD_WORKER_BINARY, set by CMake) to its
// exit, for tests of what a user sees of the process.
#ifndef DAGD_TESTS_WORKER_RUN_WORKER_H_
#define DAGD_TESTS_WORKER_RUN_WORKER_H_

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/worker/test_task.h"
#include "worker/subprocess.h"
#include "worker/temp_dir.h"

extern char** environ;

namespace dagd {

struct WorkerRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// dagd-worker with `flags`, the test's environment without the variables
// named in `drop_env` (prefixes such as "AWS_LAMBDA_RUNTIME_API="), plus
// `add_env` ("NAME=value").
inline WorkerRun RunWorkerBinary(std::vector<std::string> flags,
                                 std::vector<std::string> drop_env = {},
                                 std::vector<std::string> add_env = {}) {
  auto dir = TempDir::Create("dagd-worker-run-");
  EXPECT_TRUE(dir.ok());
  SubprocessSpec spec;
  spec.argv.push_back(DAGD_WORKER_BINARY);
  spec.argv.insert(spec.argv.end(), flags.begin(), flags.end());
  for (char** entry = environ; *entry != nullptr; ++entry) {
    bool dropped = false;
    for (const std::string& prefix : drop_env) {
      dropped = dropped || absl::StartsWith(*entry, prefix);
    }
    if (!dropped) spec.env.push_back(*entry);
  }
  spec.env.insert(spec.env.end(), add_env.begin(), add_env.end());
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

}  // namespace dagd

#endif  // DAGD_TESTS_WORKER_RUN_WORKER_H_
