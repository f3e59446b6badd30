// One HTTP request with libcurl, optionally SigV4-signed: what the AWS
// credential sources, the S3 object store and the Lambda dispatcher share.
//
// Thread-safe: each call uses an easy handle of its own.
#ifndef DAGD_STORAGE_AWS_HTTP_H_
#define DAGD_STORAGE_AWS_HTTP_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "storage/aws_credentials.h"

namespace dagd {

struct HttpRequest {
  std::string method = "GET";
  // Scheme http or https. For a signed request, build the path and query
  // as aws_sigv4.h says (AwsUriEncode, AwsCanonicalQueryString).
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  // Not owned; must stay alive during the call. A PUT or POST without a
  // Content-Type header gets "Content-Type: application/octet-stream".
  absl::string_view body;
  absl::Duration connect_timeout = absl::Seconds(1);
  // The whole exchange; absl::ZeroDuration() for no limit.
  absl::Duration timeout = absl::Seconds(5);
  // Gives up when fewer than 1 byte a second moves for this long (large
  // bodies under no overall timeout); absl::ZeroDuration() to never.
  absl::Duration stall_timeout = absl::Seconds(30);
};

struct HttpResponse {
  long status = 0;  // NOLINT(runtime/int): libcurl's type
  std::string body;
  // In arrival order, names lower-cased, values trimmed. Only the final
  // response's (not a 100 Continue's).
  std::vector<std::pair<std::string, std::string>> headers;

  // The first value of header `name` (any case), or empty.
  std::string Header(absl::string_view name) const;
};

// How to sign a request (see aws_sigv4.h).
struct AwsSigning {
  AwsCredentials credentials;
  std::string region;   // "us-east-1"
  std::string service;  // "s3", "lambda"
};

// Sends `request`, signed when `signing` is given. Any HTTP status is a
// response, not an error. UNAVAILABLE (retryable) when the server cannot be
// reached or the exchange fails or times out, with libcurl's reason;
// INVALID_ARGUMENT for a request that cannot be sent as given.
absl::StatusOr<HttpResponse> SendHttpRequest(
    const HttpRequest& request, const AwsSigning* signing = nullptr);

}  // namespace dagd

#endif  // DAGD_STORAGE_AWS_HTTP_H_
