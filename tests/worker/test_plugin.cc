// A function plugin used by the worker and integration tests. It links only
// the function API (dagd_worker_api), the way a third-party plugin would.
//   upper: uppercases args.text, or else its first input (a JSON string)
//   mul:   the product of its numeric inputs (1 if none)
#include <cctype>
#include <string>

#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "worker/function_registry.h"
#include "worker/json_util.h"

namespace {

absl::StatusOr<dagd::Payload> Upper(dagd::TaskContext& context) {
  std::string text;
  if (const auto* arg = dagd::FindField(context.args(), "text")) {
    if (!arg->has_string_value()) {
      return dagd::PermanentError("upper: args.text must be a string");
    }
    text = arg->string_value();
  } else if (!context.inputs().empty()) {
    auto value = dagd::PayloadToValue(context.inputs()[0]);
    if (!value.ok() || !value->has_string_value()) {
      return dagd::PermanentError("upper: input 0 must be a JSON string");
    }
    text = value->string_value();
  } else {
    return dagd::PermanentError("upper: needs args.text or one input");
  }
  for (char& c : text) c = std::toupper(static_cast<unsigned char>(c));
  google::protobuf::Value out;
  out.set_string_value(text);
  return dagd::JsonPayload(out);
}

absl::StatusOr<dagd::Payload> Mul(dagd::TaskContext& context) {
  double product = 1;
  bool integral = true;
  for (size_t i = 0; i < context.inputs().size(); ++i) {
    auto value = dagd::PayloadToValue(context.inputs()[i]);
    if (!value.ok() || !value->has_number_value()) {
      return dagd::PermanentError(
          absl::StrCat("mul: input ", i, " is not a number"));
    }
    product *= value->number_value();
    integral = integral && value->number_value() ==
                               static_cast<int64_t>(value->number_value());
  }
  if (integral) {
    return dagd::JsonTextPayload(absl::StrCat(static_cast<int64_t>(product)));
  }
  return dagd::JsonTextPayload(dagd::FormatDouble(product));
}

}  // namespace

extern "C" int dagd_register_functions(dagd::FunctionRegistry* registry) {
  if (!registry->Register("upper", Upper).ok()) return 1;
  if (!registry->Register("mul", Mul).ok()) return 1;
  return 0;
}
