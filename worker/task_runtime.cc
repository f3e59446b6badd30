#include "worker/task_runtime.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace dagd {

absl::Status TaskRuntimes::Add(std::unique_ptr<TaskRuntime> runtime) {
  if (runtime == nullptr || runtime->name().empty()) {
    return absl::InvalidArgumentError("a task runtime needs a name");
  }
  std::vector<std::string> added = runtime->Functions();
  std::sort(added.begin(), added.end());
  for (const std::unique_ptr<TaskRuntime>& held : runtimes_) {
    if (held->name() == runtime->name()) {
      return absl::AlreadyExistsError(
          absl::StrCat("task runtime '", runtime->name(), "' is added twice"));
    }
    for (const std::string& fn : held->Functions()) {
      if (std::binary_search(added.begin(), added.end(), fn)) {
        return absl::AlreadyExistsError(absl::StrCat(
            "function '", fn, "' of runtime '", runtime->name(),
            "' is already offered by runtime '", held->name(), "'"));
      }
    }
  }
  runtimes_.push_back(std::move(runtime));
  return absl::OkStatus();
}

TaskRuntime* TaskRuntimes::Find(const v1::Assignment& assignment) const {
  for (const std::unique_ptr<TaskRuntime>& runtime : runtimes_) {
    if (runtime->Runs(assignment)) return runtime.get();
  }
  return nullptr;
}

std::vector<std::string> TaskRuntimes::Names() const {
  std::vector<std::string> names;
  names.reserve(runtimes_.size());
  for (const std::unique_ptr<TaskRuntime>& runtime : runtimes_) {
    names.emplace_back(runtime->name());
  }
  return names;
}

std::vector<std::string> TaskRuntimes::Functions() const {
  std::vector<std::string> functions;
  for (const std::unique_ptr<TaskRuntime>& runtime : runtimes_) {
    std::vector<std::string> own = runtime->Functions();
    functions.insert(functions.end(), own.begin(), own.end());
  }
  std::sort(functions.begin(), functions.end());
  return functions;
}

}  // namespace dagd
