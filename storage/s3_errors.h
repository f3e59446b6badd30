// S3's answers that are not a success, read into a status: its error
// document (<Error><Code>NoSuchKey</Code><Message>...</Message></Error>)
// names the problem, which maps to a code callers act on (NOT_FOUND,
// UNAUTHENTICATED, retryable UNAVAILABLE, ...), with a hint for the
// common mistakes. The body is whatever the server sent: a proxy's HTML
// page, a truncated document or arbitrary bytes read the same way.
//
// Thread-safe: pure functions.
#ifndef DAGD_STORAGE_S3_ERRORS_H_
#define DAGD_STORAGE_S3_ERRORS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "storage/aws_http.h"

namespace dagd {

// The text of the first <tag>...</tag> in `xml`, its entities decoded;
// empty if there is none.
std::string S3XmlElement(absl::string_view xml, absl::string_view tag);

// The error for `response`, the answer to `method` on `location`
// ("s3://bucket/key"): "S3 GET s3://b/k: HTTP 404 NoSuchKey: <Message>",
// with the code S3's error code (or else the HTTP status) maps to. The
// message is valid UTF-8 whatever the body holds (other bytes become
// U+FFFD), so that it fits a protobuf string field.
absl::Status S3ErrorStatus(absl::string_view method, absl::string_view location,
                           const HttpResponse& response);

}  // namespace dagd

#endif  // DAGD_STORAGE_S3_ERRORS_H_
