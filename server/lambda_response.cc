#include "server/lambda_response.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "dagd/v1/lambda.pb.h"
#include "google/protobuf/util/json_util.h"
#include "storage/base/logging.h"

namespace dagd {
namespace {

using google::protobuf::util::JsonParseOptions;
using google::protobuf::util::JsonStringToMessage;

// The attempt's result from an answer that is not to be retried. Its
// errors quote the answer, which may hold any bytes: they are made valid
// UTF-8. (A LambdaResult that parses holds only UTF-8: protobuf's JSON
// parser refuses other bytes in its strings.)
v1::TaskResult ResultOf(const InvokeResponse& response,
                        absl::string_view function) {
  const long status = response.status;  // NOLINT(runtime/int)
  v1::TaskResult result;
  if (status != 200) {
    // The request itself is wrong (no such function, no permission, too
    // large): trying again cannot help.
    result.set_permanent(true);
    result.set_error(ValidUtf8(absl::StrCat(
        "Lambda refused the invocation of '", function, "': HTTP ", status, " ",
        response.error_type.empty() ? "" : response.error_type + ": ",
        response.body.substr(0, 512))));
    return result;
  }
  JsonParseOptions parse;
  parse.ignore_unknown_fields = true;
  if (!response.function_error.empty()) {
    // {"errorType": ..., "errorMessage": ...}
    v1::LambdaFunctionError error;
    if (!JsonStringToMessage(response.body, &error, parse).ok()) {
      error.set_error_message(response.body.substr(0, 512));
    }
    result.set_permanent(error.error_type() == "TaskFailedPermanently");
    result.set_error(ValidUtf8(absl::StrCat(error.error_type().empty()
                                                ? response.function_error
                                                : error.error_type(),
                                            ": ", error.error_message())));
    return result;
  }
  v1::LambdaResult answer;
  if (!JsonStringToMessage(response.body, &answer, parse).ok() ||
      !answer.has_result()) {
    result.set_error(ValidUtf8(
        absl::StrCat("the Lambda function answered something that is not a "
                     "dagd result: ",
                     response.body.substr(0, 200))));
    return result;
  }
  result = std::move(*answer.mutable_result());
  if (answer.has_output_ref()) {
    // The scheduler checks that it is this attempt's key.
    *result.mutable_output_ref() = std::move(*answer.mutable_output_ref());
  }
  return result;
}

}  // namespace

void ReadInvokeHeader(absl::string_view line, InvokeResponse* response) {
  const size_t colon = line.find(':');
  if (colon == absl::string_view::npos) return;
  const std::string name = absl::AsciiStrToLower(line.substr(0, colon));
  const std::string value(absl::StripAsciiWhitespace(line.substr(colon + 1)));
  if (name == "x-amz-function-error") response->function_error = value;
  if (name == "x-amzn-errortype") response->error_type = value;
  if (name == "retry-after") response->retry_after = value;
}

InvokeOutcome ReadInvokeResponse(const InvokeResponse& response,
                                 absl::string_view function) {
  InvokeOutcome outcome;
  const long status = response.status;  // NOLINT(runtime/int)
  if (status == 429 || status >= 500) {
    int64_t seconds = 0;
    if (absl::SimpleAtoi(response.retry_after, &seconds) && seconds > 0) {
      outcome.retry_after = std::min(absl::Seconds(seconds), kMaxRetryAfter);
    }
    outcome.retry = true;
    outcome.retry_reason =
        ValidUtf8(absl::StrCat("HTTP ", status, " ", response.error_type));
    return outcome;
  }
  outcome.result = ResultOf(response, function);
  return outcome;
}

}  // namespace dagd
