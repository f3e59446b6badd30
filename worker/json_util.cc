#include "worker/json_util.h"

#include <cmath>
#include <cstdlib>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/util/json_util.h"

namespace dagd {
namespace {

// Doubles represent every integer up to 2^53 exactly; past that an
// "integer" operand may already have lost digits, so it counts as a double.
constexpr double kMaxExactInteger = 9007199254740992.0;

// The JSON number grammar (RFC 8259): -?(0|[1-9][0-9]*)(.[0-9]+)?
// ([eE][+-]?[0-9]+)?, nothing around it.
bool IsJsonNumber(absl::string_view text) {
  size_t i = 0;
  auto digits = [&] {
    const size_t start = i;
    while (i < text.size() && absl::ascii_isdigit(text[i])) ++i;
    return i > start;
  };
  if (i < text.size() && text[i] == '-') ++i;
  if (i < text.size() && text[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < text.size() && text[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == text.size();
}

// A bare number, the commonest payload between tasks (the builtins' sums),
// without the general parser, which costs microseconds per call. Anything
// it is unsure of (not a plain number, out of range, a negative zero) goes
// to the general parser, so both read every text alike.
std::optional<double> ParsePlainNumber(absl::string_view text) {
  if (text.empty() || text.size() > 64 || !IsJsonNumber(text)) {
    return std::nullopt;
  }
  char buffer[65];
  text.copy(buffer, text.size());
  buffer[text.size()] = '\0';
  char* end = nullptr;
  const double value = std::strtod(buffer, &end);
  if (end != buffer + text.size() || !std::isfinite(value) ||
      (value == 0 && text[0] == '-')) {
    return std::nullopt;
  }
  return value;
}

// `value` as an integer if "%.15g" prints it as one: integral, under
// 10^15 in magnitude, and not a negative zero (which prints as "-0").
std::optional<int64_t> PlainInteger(double value) {
  if (!(std::fabs(value) < 1e15) || std::trunc(value) != value ||
      (value == 0 && std::signbit(value))) {
    return std::nullopt;
  }
  return static_cast<int64_t>(value);
}

}  // namespace

absl::StatusOr<google::protobuf::Value> ParseJson(absl::string_view text) {
  google::protobuf::Value value;
  if (std::optional<double> number = ParsePlainNumber(text)) {
    value.set_number_value(*number);
    return value;
  }
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(text.data(), text.size()), &value);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not valid JSON: ", status.message().as_string()));
  }
  return value;
}

absl::StatusOr<google::protobuf::Value> PayloadToValue(const Payload& payload) {
  auto value = ParseJson(payload.bytes());
  if (!value.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("payload of type '", payload.content_type, "' is ",
                     value.status().message()));
  }
  return value;
}

std::string ValueToJson(const google::protobuf::Value& value) {
  switch (value.kind_case()) {
    case google::protobuf::Value::KIND_NOT_SET:
    case google::protobuf::Value::kNullValue:
      return "null";
    case google::protobuf::Value::kBoolValue:
      return value.bool_value() ? "true" : "false";
    case google::protobuf::Value::kNumberValue:
      // Integers print as the general printer prints them ("%.15g"), without
      // it: a const task's whole work is printing its value.
      if (std::optional<int64_t> integer = PlainInteger(value.number_value())) {
        return absl::StrCat(*integer);
      }
      break;
    default:
      break;
  }
  std::string json;
  // Serialising a Value only fails for NaN or infinity, which JSON cannot
  // express; null is the closest honest answer.
  if (!google::protobuf::util::MessageToJsonString(value, &json).ok()) {
    return "null";
  }
  return json;
}

Payload JsonPayload(const google::protobuf::Value& value) {
  return JsonTextPayload(ValueToJson(value));
}

Payload JsonTextPayload(std::string json) {
  return Payload{std::move(json), kJsonContentType};
}

const google::protobuf::Value* FindField(const google::protobuf::Value& args,
                                         absl::string_view field) {
  if (!args.has_struct_value()) return nullptr;
  const auto& fields = args.struct_value().fields();
  auto it = fields.find(std::string(field));
  return it == fields.end() ? nullptr : &it->second;
}

void NumberSum::Add(double value) {
  double_sum_ += value;
  if (!integral_) return;
  int64_t as_int = 0;
  bool exact =
      std::trunc(value) == value && std::fabs(value) <= kMaxExactInteger;
  if (exact) as_int = static_cast<int64_t>(value);
  if (!exact || __builtin_add_overflow(int_sum_, as_int, &int_sum_)) {
    integral_ = false;
  }
}

absl::StatusOr<std::string> NumberSum::ToJson() const {
  if (integral_) return absl::StrCat(int_sum_);
  if (!std::isfinite(double_sum_)) {
    return absl::InvalidArgumentError("the sum is too large for a double");
  }
  std::string text = FormatDouble(double_sum_);
  // Keep it visibly a double so readers know precision was involved.
  if (text.find_first_of(".eE") == std::string::npos)
    absl::StrAppend(&text, ".0");
  return text;
}

std::string FormatDouble(double value) {
  for (int precision = 15; precision < 17; ++precision) {
    std::string text = absl::StrFormat("%.*g", precision, value);
    if (std::strtod(text.c_str(), nullptr) == value) return text;
  }
  return absl::StrFormat("%.17g", value);
}

}  // namespace dagd
