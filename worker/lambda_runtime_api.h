// The AWS Lambda Runtime API, as a custom runtime sees it: fetch the next
// invocation, answer it, or report a failed initialization. See
// https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html.
#ifndef DAGD_WORKER_LAMBDA_RUNTIME_API_H_
#define DAGD_WORKER_LAMBDA_RUNTIME_API_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dagd {

// One event handed out by GET .../runtime/invocation/next.
struct LambdaInvocationEvent {
  std::string request_id;  // Lambda-Runtime-Aws-Request-Id
  // Lambda-Runtime-Deadline-Ms: when Lambda stops the function, in Unix
  // milliseconds; 0 when the header is absent.
  int64_t deadline_unix_ms = 0;
  std::string function_arn;  // Lambda-Runtime-Invoked-Function-Arn
  std::string trace_id;      // Lambda-Runtime-Trace-Id
  std::string body;
};

// What .../error and .../init/error carry: the body
// {"errorType": type, "errorMessage": message} and the header
// Lambda-Runtime-Function-Error-Type: type.
struct LambdaError {
  std::string type;
  std::string message;
};

// The body of a LambdaError, as JSON.
std::string LambdaErrorJson(const LambdaError& error);

// Errors of every call: UNAVAILABLE when the Runtime API cannot be reached
// or answers 5xx (Lambda documents both as "exit the runtime");
// RESOURCE_EXHAUSTED for 413 (a response over Lambda's payload limit);
// INVALID_ARGUMENT, NOT_FOUND or PERMISSION_DENIED for the other 4xx
// (a bad request or an unknown or expired request id: that invocation is
// lost, the runtime may go on). Messages carry the status line and body.
//
// Not thread-safe: one thread (the runtime loop) makes every call.
class LambdaRuntimeApi {
 public:
  virtual ~LambdaRuntimeApi() = default;
  // Blocks until Lambda has an invocation (a long poll with no timeout).
  virtual absl::StatusOr<LambdaInvocationEvent> Next() = 0;
  virtual absl::Status PostResponse(absl::string_view request_id,
                                    absl::string_view body) = 0;
  virtual absl::Status PostError(absl::string_view request_id,
                                 const LambdaError& error) = 0;
  virtual absl::Status PostInitError(const LambdaError& error) = 0;
};

// The Runtime API at `endpoint` (host:port, the value of
// AWS_LAMBDA_RUNTIME_API), over HTTP/1.1 with libcurl, one kept-alive
// connection.
std::unique_ptr<LambdaRuntimeApi> MakeCurlLambdaRuntimeApi(
    std::string endpoint);

}  // namespace dagd

#endif  // DAGD_WORKER_LAMBDA_RUNTIME_API_H_
