#include "worker/function_registry.h"

#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "worker/cancellation.h"

namespace dagd {

TaskContext::TaskContext(AttemptInfo info, google::protobuf::Value args,
                         std::vector<Payload> inputs, CancellationToken* token)
    : info_(std::move(info)),
      args_(std::move(args)),
      inputs_(std::move(inputs)),
      token_(token) {}

TaskContext::~TaskContext() = default;

bool TaskContext::cancelled() const { return token_->cancelled(); }

bool TaskContext::WaitFor(absl::Duration duration) {
  return token_->WaitFor(duration);
}

int TaskContext::AddCancelCallback(std::function<void()> callback) {
  return token_->AddCallback(std::move(callback));
}

void TaskContext::RemoveCancelCallback(int handle) {
  token_->RemoveCallback(handle);
}

absl::Status PermanentError(absl::string_view message) {
  return MakePermanent(absl::FailedPreconditionError(message));
}

absl::Status MakePermanent(absl::Status status) {
  if (!status.ok()) status.SetPayload(kPermanentErrorUrl, absl::Cord());
  return status;
}

bool IsPermanent(const absl::Status& status) {
  return status.GetPayload(kPermanentErrorUrl).has_value();
}

FunctionRegistry::FunctionRegistry() = default;
FunctionRegistry::~FunctionRegistry() = default;

absl::Status FunctionRegistry::Register(std::string name, TaskFunction fn) {
  if (name.empty()) {
    return absl::InvalidArgumentError("function name must not be empty");
  }
  if (!fn) {
    return absl::InvalidArgumentError(
        absl::StrCat("function '", name, "' has no implementation"));
  }
  auto [it, inserted] = functions_.try_emplace(std::move(name), std::move(fn));
  if (!inserted) {
    return absl::AlreadyExistsError(
        absl::StrCat("function '", it->first, "' is already registered"));
  }
  return absl::OkStatus();
}

const TaskFunction* FunctionRegistry::Find(absl::string_view name) const {
  auto it = functions_.find(name);
  return it == functions_.end() ? nullptr : &it->second;
}

std::vector<std::string> FunctionRegistry::Names() const {
  std::vector<std::string> names;
  names.reserve(functions_.size());
  for (const auto& [name, fn] : functions_) names.push_back(name);
  return names;
}

}  // namespace dagd
