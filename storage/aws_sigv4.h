// AWS Signature Version 4 for libcurl requests (S3, Lambda, any AWS API).
//
// libcurl computes the signature itself (CURLOPT_AWS_SIGV4); this unit
// supplies what libcurl 7.88 leaves to the caller and checks for what it
// signs wrongly:
// - The path is signed exactly as it appears in the URL. Build every path
//   segment with AwsUriEncode(segment, /*encode_slash=*/true) (S3 object
//   keys: AwsUriEncode(key, false), since S3 keeps '/' in keys). Services
//   other than S3 encode the path a second time in their canonical request
//   and libcurl does not, so for them use only path segments made of
//   unreserved characters (A-Z a-z 0-9 - . _ ~); pass anything else (a
//   Lambda qualifier, say) in the query string.
// - The query string is signed as it appears, not sorted: build it with
//   AwsCanonicalQueryString.
// - A header-removal entry ("Accept:" with nothing after the colon) in the
//   header list ends up in the signature but not in the request, so
//   PrepareSignedRequest rejects such lists; and an entry with a line
//   break, which would go out as two headers.
// - The payload hash: libcurl only hashes CURLOPT_POSTFIELDS; S3 wants the
//   hash in an x-amz-content-sha256 header, which PrepareSignedRequest
//   always adds (and libcurl then signs).
//
// Thread-safe: no shared state.
#ifndef DAGD_STORAGE_AWS_SIGV4_H_
#define DAGD_STORAGE_AWS_SIGV4_H_

#include <curl/curl.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "storage/aws_credentials.h"

namespace dagd {

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(absl::string_view data);

// RFC 3986 percent-encoding as SigV4 wants it: A-Z a-z 0-9 - . _ ~ stay,
// every other byte (UTF-8 included) becomes %XX with upper-case hex; '/'
// stays too unless `encode_slash`.
std::string AwsUriEncode(absl::string_view s, bool encode_slash);

// "a=1&b=x%20y": names and values encoded with AwsUriEncode, sorted by
// name then value, "name=" for an empty value. Append it to the URL after
// a '?' (when non-empty).
std::string AwsCanonicalQueryString(
    std::vector<std::pair<std::string, std::string>> params);

// Makes `curl` send a request signed for `service` in `region` with
// `credentials`. Call it after setting the URL, method and body and after
// adding the request's own headers to `*headers` ("Name: value" entries;
// may be null); then curl_easy_perform.
//
// It appends "x-amz-content-sha256: <Sha256Hex(body)>" (`body` must be
// exactly what the request sends; empty for none) and, for temporary
// credentials, "x-amz-security-token: ...", to `*headers`, and sets
// CURLOPT_HTTPHEADER to it, CURLOPT_AWS_SIGV4 to "aws:amz:REGION:SERVICE"
// and the key pair as user name and password. libcurl signs every header in
// the list, Host and the X-Amz-Date it adds.
//
// The caller keeps `*headers` alive until the transfer is over and frees
// it (curl_slist_free_all), on failure too.
//
// INVALID_ARGUMENT, changing nothing on the handle, when the credentials
// or region or service are empty, or `*headers` has a header-removal
// entry, an entry with CR or LF, or one that sets a header the signer
// owns (Authorization,
// X-Amz-Date, x-amz-content-sha256, x-amz-security-token).
absl::Status PrepareSignedRequest(CURL* curl, const AwsCredentials& credentials,
                                  absl::string_view region,
                                  absl::string_view service,
                                  absl::string_view body, curl_slist** headers);

}  // namespace dagd

#endif  // DAGD_STORAGE_AWS_SIGV4_H_
