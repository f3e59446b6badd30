// The answers of AWS endpoints that dagd and its workers read in
// storage/: S3's error documents (any status, any body: a proxy's page,
// truncated XML, arbitrary bytes) and the credential endpoints' JSON.
//
// Checks: an S3 error is never OK, names the request and the HTTP status,
// and is NOT_FOUND for NoSuchKey; an element's text is never longer than
// the document; a credentials answer is read into a key pair or refused
// as UNAVAILABLE naming its source; and every message fits a protobuf
// string field, since task errors carry them to dagd and its clients.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "storage/aws_credentials.h"
#include "storage/aws_http.h"
#include "storage/s3_errors.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/proto_strings.h"

namespace dagd {
namespace {

void S3Error(FuzzedDataProvider& in) {
  HttpResponse response;
  response.status = in.ConsumeIntegralInRange<long>(100, 599);  // NOLINT
  if (in.ConsumeBool()) {
    response.headers.emplace_back("x-amz-error-code",
                                  in.ConsumeRandomLengthString(24));
  }
  response.body = in.ConsumeRemainingBytesAsString();
  const absl::Status status = S3ErrorStatus("GET", "s3://bucket/key", response);
  FUZZ_CHECK(!status.ok(), "an S3 error that is OK");
  FUZZ_CHECK(absl::StartsWith(status.message(),
                              absl::StrCat("S3 GET s3://bucket/key: HTTP ",
                                           response.status)),
             status.ToString());
  const std::string code = S3XmlElement(response.body, "Code");
  if (code == "NoSuchKey") {
    FUZZ_CHECK(status.code() == absl::StatusCode::kNotFound, status.ToString());
  }
  for (const char* tag : {"Code", "Message", "Endpoint"}) {
    FUZZ_CHECK(S3XmlElement(response.body, tag).size() <= response.body.size(),
               tag);
  }
  FUZZ_CHECK(FitsAStringField(std::string(status.message())),
             absl::StrCat("message is not text: ", status.ToString()));
}

void Credentials(FuzzedDataProvider& in) {
  const std::string body = in.ConsumeRemainingBytesAsString();
  absl::StatusOr<AwsCredentials> credentials =
      ParseCredentialsJson("IMDS", body);
  if (credentials.ok()) {
    FUZZ_CHECK(!credentials->access_key_id.empty() &&
                   !credentials->secret_access_key.empty(),
               "credentials without a key pair");
    return;
  }
  const absl::Status& status = credentials.status();
  FUZZ_CHECK(status.code() == absl::StatusCode::kUnavailable,
             status.ToString());
  FUZZ_CHECK(absl::StartsWith(status.message(), "IMDS"), status.ToString());
  FUZZ_CHECK(FitsAStringField(std::string(status.message())),
             absl::StrCat("message is not text: ", status.ToString()));
}

}  // namespace
}  // namespace dagd

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  if (in.ConsumeBool()) {
    dagd::S3Error(in);
  } else {
    dagd::Credentials(in);
  }
  return 0;
}
