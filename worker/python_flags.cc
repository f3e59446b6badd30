#include "worker/python_flags.h"

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "storage/base/byte_size.h"

ABSL_FLAG(std::string, python, "",
          "run Python tasks (fn \"python\") in long-lived interpreters of "
          "this Python, which must import the dagd package; --python alone "
          "means /usr/bin/python3; empty: no Python runtime");
ABSL_FLAG(std::string, python_processes, "",
          "with --python: how many interpreters run Python tasks at once "
          "(default: one per slot)");
ABSL_FLAG(std::string, python_keep_bytes, "",
          "with --python: how much of the large inputs and results (1 MiB "
          "and more) each interpreter keeps as Python objects, for the "
          "next tasks that read them (default 256M; 0: none)");

namespace dagd {

std::vector<std::string> WithPythonDefault(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--") break;
    if (args[i] == "--python" || args[i] == "-python") {
      args[i] = absl::StrCat("--python=", kDefaultPythonInterpreter);
    }
  }
  return args;
}

absl::StatusOr<std::optional<PythonRuntimeOptions>> PythonFromFlags(
    uint32_t slots) {
  const std::string interpreter = absl::GetFlag(FLAGS_python);
  const std::string processes = absl::GetFlag(FLAGS_python_processes);
  const std::string keep = absl::GetFlag(FLAGS_python_keep_bytes);
  if (interpreter.empty()) {
    for (const auto& [flag, value] :
         {std::pair{"--python_processes", processes},
          std::pair{"--python_keep_bytes", keep}}) {
      if (!value.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(flag, " needs --python"));
      }
    }
    return std::nullopt;
  }
  PythonRuntimeOptions options;
  options.process.interpreter = interpreter;
  options.processes = slots;
  if (!processes.empty() &&
      (!absl::SimpleAtoi(processes, &options.processes) ||
       options.processes == 0 || options.processes > 4096)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--python_processes must be a whole number from 1 to "
                     "4096, got '",
                     processes, "'"));
  }
  if (!keep.empty()) {
    absl::StatusOr<uint64_t> bytes = ParseByteSize(keep);
    if (!bytes.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--python_keep_bytes: ", bytes.status().message()));
    }
    options.keep_bytes = *bytes;
  }
  return options;
}

}  // namespace dagd
