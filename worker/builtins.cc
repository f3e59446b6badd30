#include "worker/builtins.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "worker/json_util.h"

namespace dagd {
namespace {

const google::protobuf::Value& NullValue() {
  static const auto* null = [] {
    auto* value = new google::protobuf::Value();
    value->set_null_value(google::protobuf::NULL_VALUE);
    return value;
  }();
  return *null;
}

// args[field], or null when absent.
const google::protobuf::Value& ArgOrNull(const TaskContext& context,
                                         absl::string_view field) {
  const google::protobuf::Value* value = FindField(context.args(), field);
  return value != nullptr ? *value : NullValue();
}

// A non-negative number argument; `fallback` when absent.
absl::StatusOr<double> NumberArg(const TaskContext& context,
                                 absl::string_view fn, absl::string_view field,
                                 double fallback) {
  const google::protobuf::Value* value = FindField(context.args(), field);
  if (value == nullptr) return fallback;
  if (!value->has_number_value() || value->number_value() < 0) {
    return PermanentError(absl::StrCat(fn, ": args.", field,
                                       " must be a non-negative number, got ",
                                       ValueToJson(*value)));
  }
  return value->number_value();
}

// Adds every input that is a JSON number. With `strict`, any other input is
// a permanent error naming its index; otherwise it is skipped.
absl::Status SumInputs(const TaskContext& context, absl::string_view fn,
                       bool strict, NumberSum* sum, int* count) {
  const std::vector<Payload>& inputs = context.inputs();
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto value = PayloadToValue(inputs[i]);
    if (value.ok() && value->has_number_value()) {
      sum->Add(value->number_value());
      ++*count;
    } else if (strict) {
      std::string got = value.ok() ? ValueToJson(*value) : inputs[i].data;
      if (got.size() > 100) got = absl::StrCat(got.substr(0, 100), "...");
      return PermanentError(
          absl::StrCat(fn, ": input ", i, " is not a number: ", got));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Payload> SumPayload(const NumberSum& sum) {
  auto json = sum.ToJson();
  if (!json.ok()) return MakePermanent(json.status());
  return JsonTextPayload(*std::move(json));
}

}  // namespace

absl::StatusOr<Payload> ConstFunction(TaskContext& context) {
  return JsonPayload(ArgOrNull(context, "value"));
}

absl::StatusOr<Payload> AddFunction(TaskContext& context) {
  NumberSum sum;
  int count = 0;
  absl::Status status =
      SumInputs(context, "add", /*strict=*/true, &sum, &count);
  if (!status.ok()) return status;
  if (const google::protobuf::Value* value =
          FindField(context.args(), "value")) {
    if (!value->has_number_value()) {
      return PermanentError(absl::StrCat(
          "add: args.value must be a number, got ", ValueToJson(*value)));
    }
    sum.Add(value->number_value());
  }
  return SumPayload(sum);
}

absl::StatusOr<Payload> SleepFunction(TaskContext& context) {
  auto ms = NumberArg(context, "sleep", "ms", 0);
  if (!ms.ok()) return ms.status();
  if (!context.WaitFor(absl::Milliseconds(*ms))) {
    return absl::CancelledError("sleep: cancelled");
  }
  NumberSum sum;
  int count = 0;
  absl::Status status =
      SumInputs(context, "sleep", /*strict=*/false, &sum, &count);
  if (!status.ok()) return status;
  if (count == 0) return JsonPayload(NullValue());
  return SumPayload(sum);
}

absl::StatusOr<Payload> IdentityFunction(TaskContext& context) {
  if (context.inputs().empty()) return JsonPayload(NullValue());
  return context.inputs().front();
}

absl::StatusOr<Payload> FailFunction(TaskContext& context) {
  const google::protobuf::Value& message = ArgOrNull(context, "message");
  if (message.has_string_value()) {
    return absl::UnknownError(message.string_value());
  }
  return absl::UnknownError(message.has_null_value() ? "fail: failed as asked"
                                                     : ValueToJson(message));
}

absl::StatusOr<Payload> FlakyFunction(TaskContext& context) {
  auto failures = NumberArg(context, "flaky", "failures", 1);
  if (!failures.ok()) return failures.status();
  if (context.attempt() <= *failures) {
    return absl::UnavailableError(absl::StrCat(
        "flaky: attempt ", context.attempt(), " fails (args.failures is ",
        static_cast<int64_t>(*failures), ")"));
  }
  return JsonPayload(ArgOrNull(context, "value"));
}

absl::Status RegisterBuiltins(FunctionRegistry* registry) {
  const std::pair<const char*, TaskFunction> builtins[] = {
      {"const", ConstFunction}, {"add", AddFunction},
      {"sleep", SleepFunction}, {"identity", IdentityFunction},
      {"fail", FailFunction},   {"flaky", FlakyFunction},
  };
  for (const auto& [name, fn] : builtins) {
    if (absl::Status status = registry->Register(name, fn); !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

}  // namespace dagd
