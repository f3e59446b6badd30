// dagd-worker's Python flags (--python, --python_processes,
// --python_keep_bytes), defined here to keep worker/main.cc small.
#ifndef DAGD_WORKER_PYTHON_FLAGS_H_
#define DAGD_WORKER_PYTHON_FLAGS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "worker/python_runtime.h"

namespace dagd {

// `--python` without a value (absl would take the next argument as it)
// means the default interpreter: rewritten to `--python=/usr/bin/python3`.
std::vector<std::string> WithPythonDefault(int argc, char** argv);

// The Python runtime's options from the flags (one interpreter per slot
// unless --python_processes says), or nullopt without --python.
// INVALID_ARGUMENT naming the flag for a bad value or a Python flag without
// --python.
absl::StatusOr<std::optional<PythonRuntimeOptions>> PythonFromFlags(
    uint32_t slots);

}  // namespace dagd

#endif  // DAGD_WORKER_PYTHON_FLAGS_H_
