// The runtime of C++ task functions: those of a FunctionRegistry, called in
// the worker's own process. dagd-worker has two: "builtin" (the builtins,
// worker/builtins.h) and, with --plugin, "plugin" (every plugin's
// functions, worker/plugin_loader.h).
#ifndef DAGD_WORKER_FUNCTION_RUNTIME_H_
#define DAGD_WORKER_FUNCTION_RUNTIME_H_

#include <string>
#include <vector>

#include "worker/function_registry.h"
#include "worker/task_runtime.h"

namespace dagd {

inline constexpr char kBuiltinRuntime[] = "builtin";
inline constexpr char kPluginRuntime[] = "plugin";

// Runs a task whose fn is registered in `functions`. Thread-safe, as the
// registry is once filled.
class FunctionRuntime : public TaskRuntime {
 public:
  // `functions` is not owned, must outlive this, and is read from the
  // first call on: fill it before the runtime list is shared.
  // `reads_in_place`: every function reads its inputs through
  // Payload::bytes() (the builtins do; plugins may read Payload::data).
  FunctionRuntime(std::string name, const FunctionRegistry* functions,
                  bool reads_in_place = false);

  absl::string_view name() const override { return name_; }
  std::vector<std::string> Functions() const override;
  bool Runs(const v1::Assignment& assignment) const override;
  absl::StatusOr<Payload> Run(const RuntimeAttempt& attempt) override;
  bool ReadsHeldInputsInPlace() const override { return reads_in_place_; }

 private:
  const std::string name_;
  const FunctionRegistry* const functions_;
  const bool reads_in_place_;
};

}  // namespace dagd

#endif  // DAGD_WORKER_FUNCTION_RUNTIME_H_
