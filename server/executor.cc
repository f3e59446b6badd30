#include "server/executor.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace dagd {
namespace {

constexpr absl::string_view kPoolPrefix = "pool:";
constexpr absl::string_view kLambdaPrefix = "lambda:";

}  // namespace

absl::StatusOr<Executor> Executor::Parse(absl::string_view text) {
  Executor executor;
  if (text.empty()) return executor;
  if (absl::StartsWith(text, kPoolPrefix)) {
    if (text.size() == kPoolPrefix.size()) {
      return absl::InvalidArgumentError("executor 'pool:' names no pool");
    }
    executor.kind = Kind::kPool;
    executor.name = std::string(text.substr(kPoolPrefix.size()));
    return executor;
  }
  if (text == kLambdaPool || absl::StartsWith(text, kLambdaPrefix)) {
    if (text.size() == kLambdaPrefix.size()) {
      return absl::InvalidArgumentError("executor 'lambda:' names no function");
    }
    executor.kind = Kind::kLambda;
    if (text != kLambdaPool) {
      executor.name = std::string(text.substr(kLambdaPrefix.size()));
    }
    return executor;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("executor '", text,
                   "' is not one of \"\" (any worker), \"pool:NAME\", "
                   "\"lambda\" or \"lambda:NAME\""));
}

std::string Executor::ToString() const {
  switch (kind) {
    case Kind::kAnyWorker:
      return "";
    case Kind::kPool:
      return absl::StrCat(kPoolPrefix, name);
    case Kind::kLambda:
      return name.empty() ? std::string(kLambdaPool)
                          : absl::StrCat(kLambdaPrefix, name);
  }
  return "";
}

}  // namespace dagd
