// What the answer to a Lambda Invoke call means for its attempt: the
// headers the dispatcher reads as libcurl hands them over, then the
// status, those headers and the body read into the attempt's result, or
// into a retry of the call. Separate from the dispatcher's curl loop so
// that every answer Lambda (or anything posing as it) can give is read in
// one pure function.
//
// Thread-safe: pure functions.
#ifndef DAGD_SERVER_LAMBDA_RESPONSE_H_
#define DAGD_SERVER_LAMBDA_RESPONSE_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "dagd/v1/worker_service.pb.h"

namespace dagd {

// An Invoke call's answer, as far as the dispatcher reads it.
struct InvokeResponse {
  long status = 0;             // NOLINT(runtime/int): libcurl's type
  std::string function_error;  // X-Amz-Function-Error
  std::string error_type;      // x-amzn-ErrorType
  std::string retry_after;     // Retry-After
  std::string body;
};

// Records `line` ("Name: value\r\n", as libcurl's header callback gets
// it) in `response` when it is one of the headers above; other lines,
// status lines included, are ignored.
void ReadInvokeHeader(absl::string_view line, InvokeResponse* response);

// The longest Retry-After honoured: Lambda's longest invocation. A longer
// one (a server's mistake, or not Lambda at all) would hold the attempt
// without end.
inline constexpr absl::Duration kMaxRetryAfter = absl::Minutes(15);

// What to do with an attempt after its call was answered. Every string in
// it is valid UTF-8 (other bytes of the answer become U+FFFD): dagd stores
// the result and sends it to clients in protobuf string fields.
struct InvokeOutcome {
  // Throttled (429) or failed on Lambda's side (5xx): the call is made
  // again, no sooner than `retry_after` (what Retry-After asked for, at
  // most kMaxRetryAfter; zero for none). Not the attempt's failure.
  bool retry = false;
  absl::Duration retry_after = absl::ZeroDuration();
  std::string retry_reason;  // "HTTP 429 TooManyRequestsException"
  // Otherwise the attempt's result, without its task ref and times: the
  // function's result (200), its error (200 with X-Amz-Function-Error;
  // permanent for errorType TaskFailedPermanently), a failure for an
  // answer that is no dagd result, or a permanent failure naming the AWS
  // error when Lambda refused the call (any other status).
  v1::TaskResult result;
};

// Reads the answer to an invocation of `function` (for messages).
InvokeOutcome ReadInvokeResponse(const InvokeResponse& response,
                                 absl::string_view function);

}  // namespace dagd

#endif  // DAGD_SERVER_LAMBDA_RESPONSE_H_
