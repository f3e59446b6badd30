#include "worker/function_runtime.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace dagd {

FunctionRuntime::FunctionRuntime(std::string name,
                                 const FunctionRegistry* functions,
                                 bool reads_in_place)
    : name_(std::move(name)),
      functions_(functions),
      reads_in_place_(reads_in_place) {}

std::vector<std::string> FunctionRuntime::Functions() const {
  return functions_->Names();
}

bool FunctionRuntime::Runs(const v1::Assignment& assignment) const {
  return functions_->Find(assignment.fn()) != nullptr;
}

absl::StatusOr<Payload> FunctionRuntime::Run(const RuntimeAttempt& attempt) {
  const TaskFunction* fn = functions_->Find(attempt.assignment.fn());
  // Runs said yes, and the registry does not change once shared.
  if (fn == nullptr) {
    return absl::InternalError(absl::StrCat("runtime '", name_,
                                            "' has no function '",
                                            attempt.assignment.fn(), "'"));
  }
  return (*fn)(attempt.context);
}

}  // namespace dagd
