#include "worker/exec_runtime.h"

#include "worker/exec_function.h"

namespace dagd {

absl::StatusOr<Payload> ExecRuntime::Run(const RuntimeAttempt& attempt) {
  // The program is killed on cancel (RunSubprocess watches the context),
  // which the attempt's deadline triggers; nothing more to pass on.
  return ExecFunction(attempt.context, options_);
}

}  // namespace dagd
