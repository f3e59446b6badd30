#include "storage/s3_errors.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "storage/base/logging.h"

namespace dagd {
namespace {

absl::StatusCode CodeForS3Error(long http_status,  // NOLINT(runtime/int)
                                absl::string_view code) {
  struct Mapping {
    absl::string_view s3_code;
    absl::StatusCode status;
  };
  static constexpr Mapping kByCode[] = {
      {"NoSuchKey", absl::StatusCode::kNotFound},
      {"NoSuchBucket", absl::StatusCode::kFailedPrecondition},
      {"InvalidAccessKeyId", absl::StatusCode::kUnauthenticated},
      {"SignatureDoesNotMatch", absl::StatusCode::kUnauthenticated},
      {"ExpiredToken", absl::StatusCode::kUnauthenticated},
      {"InvalidToken", absl::StatusCode::kUnauthenticated},
      {"TokenRefreshRequired", absl::StatusCode::kUnauthenticated},
      {"RequestTimeTooSkewed", absl::StatusCode::kUnauthenticated},
      {"AccessDenied", absl::StatusCode::kPermissionDenied},
      {"AllAccessDisabled", absl::StatusCode::kPermissionDenied},
      {"AccountProblem", absl::StatusCode::kPermissionDenied},
      {"PermanentRedirect", absl::StatusCode::kFailedPrecondition},
      {"AuthorizationHeaderMalformed", absl::StatusCode::kFailedPrecondition},
      {"BadDigest", absl::StatusCode::kDataLoss},
      {"XAmzContentSHA256Mismatch", absl::StatusCode::kDataLoss},
      {"SlowDown", absl::StatusCode::kUnavailable},
      {"RequestTimeout", absl::StatusCode::kUnavailable},
      {"InternalError", absl::StatusCode::kUnavailable},
      {"ServiceUnavailable", absl::StatusCode::kUnavailable},
      {"OperationAborted", absl::StatusCode::kUnavailable},
  };
  for (const Mapping& m : kByCode) {
    if (code == m.s3_code) return m.status;
  }
  if (http_status == 404) return absl::StatusCode::kNotFound;
  if (http_status == 401) return absl::StatusCode::kUnauthenticated;
  if (http_status == 403) return absl::StatusCode::kPermissionDenied;
  if (http_status == 429 || http_status >= 500) {
    return absl::StatusCode::kUnavailable;
  }
  if (http_status == 400) return absl::StatusCode::kInvalidArgument;
  if (http_status >= 300 && http_status < 400) {
    return absl::StatusCode::kFailedPrecondition;
  }
  return absl::StatusCode::kUnknown;
}

// What a user can do about the more common errors.
absl::string_view HintFor(absl::string_view code) {
  if (code == "SignatureDoesNotMatch") {
    return " (check the secret access key for this access key id)";
  }
  if (code == "InvalidAccessKeyId") return " (check the access key id)";
  if (code == "NoSuchBucket") return " (create the bucket or fix its name)";
  if (code == "PermanentRedirect" || code == "AuthorizationHeaderMalformed") {
    return " (the bucket is in another region than the one configured)";
  }
  return "";
}

}  // namespace

std::string S3XmlElement(absl::string_view xml, absl::string_view tag) {
  std::string open = absl::StrCat("<", tag, ">");
  std::string close = absl::StrCat("</", tag, ">");
  size_t start = xml.find(open);
  if (start == absl::string_view::npos) return "";
  start += open.size();
  size_t end = xml.find(close, start);
  if (end == absl::string_view::npos) return "";
  return absl::StrReplaceAll(xml.substr(start, end - start), {{"&lt;", "<"},
                                                              {"&gt;", ">"},
                                                              {"&quot;", "\""},
                                                              {"&apos;", "'"},
                                                              {"&#39;", "'"},
                                                              {"&amp;", "&"}});
}

absl::Status S3ErrorStatus(absl::string_view method, absl::string_view location,
                           const HttpResponse& response) {
  std::string code = S3XmlElement(response.body, "Code");
  std::string message = S3XmlElement(response.body, "Message");
  if (code.empty()) code = response.Header("x-amz-error-code");
  std::string detail;
  if (std::string endpoint = S3XmlElement(response.body, "Endpoint");
      !endpoint.empty()) {
    detail = absl::StrCat(" [endpoint ", endpoint, "]");
  }
  // The body is any server's bytes, and the message ends up in task errors
  // and gRPC answers, whose string fields take only valid UTF-8.
  return absl::Status(
      CodeForS3Error(response.status, code),
      ValidUtf8(absl::StrCat("S3 ", method, " ", location, ": HTTP ",
                             response.status, code.empty() ? "" : " ", code,
                             message.empty() ? "" : ": ", message, detail,
                             HintFor(code))));
}

}  // namespace dagd
