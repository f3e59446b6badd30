// What the `exec` runtime (worker/exec_runtime.h) does: runs a program (no
// shell) with the task's inputs as files, and turns its output file or
// stdout into the task's output.
//
// args: {"argv": ["prog", "arg", ...],         required, strings
//        "env": {"NAME": "value", ...}}        optional, added to what the
//                                              program inherits of the
//                                              worker's environment (PATH,
//                                              HOME, LANG, ...; never its
//                                              credentials); no loader
//                                              variables (LD_*)
// The program also sees:
//   DAGD_INPUT_<i>   path of a file holding input i (0-based)
//   DAGD_INPUTS_DIR  the folder holding those files
//   DAGD_OUTPUT      a path the program may write its output to; if it
//                    does, that file is the output, else stdout is
//   DAGD_WORK_DIR    a private scratch folder, removed after the attempt
//   DAGD_JOB_ID, DAGD_TASK_ID, DAGD_ATTEMPT
// The output is application/json when it parses as JSON, else
// application/octet-stream. A non-zero exit or a death by signal fails the
// attempt with the tail of stderr.
#ifndef DAGD_WORKER_EXEC_FUNCTION_H_
#define DAGD_WORKER_EXEC_FUNCTION_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/struct.pb.h"
#include "worker/function_registry.h"
#include "worker/subprocess.h"

namespace dagd {

// How much of stderr a failure message carries.
inline constexpr size_t kStderrTailBytes = 2048;

struct ExecArgs {
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;
};

// Validates `args`; errors are permanent (retrying cannot fix them).
absl::StatusOr<ExecArgs> ParseExecArgs(const google::protobuf::Value& args);

struct ExecOptions {
  // --exec_user: programs run as this user, their attempt's files owned by
  // it. Unset: as the worker's own user.
  std::optional<RunAs> run_as;
  // Where the host allows it (CgroupTree::Detect), each attempt's
  // processes run in a cgroup of their own under this tree; null: none.
  std::shared_ptr<const CgroupTree> cgroups;
  // The largest output to read, asked per attempt (dagd's
  // --max_result_bytes, told at registration); unset or 0: the machine's
  // memory. A larger one fails its task for good, unread.
  std::function<uint64_t()> max_output_bytes;
};

// Runs one attempt of a task with fn `exec`.
absl::StatusOr<Payload> ExecFunction(TaskContext& context,
                                     const ExecOptions& options = {});

}  // namespace dagd

#endif  // DAGD_WORKER_EXEC_FUNCTION_H_
