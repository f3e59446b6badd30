// Helpers for function authors: JSON text and Payloads to and from
// google::protobuf::Value (the proto3 JSON mapping), and number formatting
// that keeps integers integral.
#ifndef DAGD_WORKER_JSON_UTIL_H_
#define DAGD_WORKER_JSON_UTIL_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/struct.pb.h"
#include "worker/function_registry.h"

namespace dagd {

// Parses any JSON text, including a bare scalar ("3", "\"x\"", "null").
// INVALID_ARGUMENT with the parser's message when it is not JSON.
absl::StatusOr<google::protobuf::Value> ParseJson(absl::string_view text);

// Parses a payload's bytes as JSON, whatever its content type says.
absl::StatusOr<google::protobuf::Value> PayloadToValue(const Payload& payload);

// Compact JSON text; a Value with no kind set prints as null.
std::string ValueToJson(const google::protobuf::Value& value);

// A Payload of `value` as application/json.
Payload JsonPayload(const google::protobuf::Value& value);
// A Payload of already-formatted JSON text.
Payload JsonTextPayload(std::string json);

// args[field] when args is an object holding that field, else nullptr.
const google::protobuf::Value* FindField(const google::protobuf::Value& args,
                                         absl::string_view field);

// Sums numbers the way a user reading JSON expects: while every operand is
// integral (and fits in 2^53), the sum prints as an integer ("3"); once any
// operand is not, it prints as a double with round-trip precision ("3.5",
// "0.30000000000000004", "3.0").
class NumberSum {
 public:
  void Add(double value);
  // The sum as JSON text; INVALID_ARGUMENT if it overflowed to infinity.
  absl::StatusOr<std::string> ToJson() const;

 private:
  bool integral_ = true;
  int64_t int_sum_ = 0;
  double double_sum_ = 0;
};

// Shortest decimal text that parses back to exactly `value`.
std::string FormatDouble(double value);

}  // namespace dagd

#endif  // DAGD_WORKER_JSON_UTIL_H_
