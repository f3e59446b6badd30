#include "storage/s3_object_store.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "storage/aws_http.h"
#include "storage/aws_sigv4.h"
#include "storage/crc32c.h"
#include "storage/s3_errors.h"

namespace dagd {
namespace {

constexpr size_t kMaxKeyBytes = 1024;  // S3's limit
constexpr char kCrcMetaHeader[] = "x-amz-meta-crc32c";

std::string Crc32cBase64(uint32_t crc) {
  const char bytes[4] = {static_cast<char>(crc >> 24),
                         static_cast<char>(crc >> 16),
                         static_cast<char>(crc >> 8), static_cast<char>(crc)};
  return absl::Base64Escape(absl::string_view(bytes, sizeof(bytes)));
}

class S3ObjectStore : public ObjectStore {
 public:
  explicit S3ObjectStore(S3Options options) : options_(std::move(options)) {}

  absl::Status Put(absl::string_view key, absl::string_view data,
                   absl::string_view content_type) override {
    const uint32_t crc = crc32c::Value(data);
    HttpRequest request = NewRequest("PUT", key);
    request.body = data;
    request.headers = {
        absl::StrCat("Content-Type: ", content_type.empty()
                                           ? "application/octet-stream"
                                           : content_type),
        absl::StrCat("x-amz-checksum-crc32c: ", Crc32cBase64(crc)),
        absl::StrCat(kCrcMetaHeader, ": ", absl::Hex(crc, absl::kZeroPad8)),
    };
    absl::StatusOr<HttpResponse> response = Send(request, key);
    if (!response.ok()) return response.status();
    if (response->status != 200) return ErrorFor("PUT", key, *response);
    return absl::OkStatus();
  }

  absl::StatusOr<StoredObject> Get(absl::string_view key) override {
    absl::StatusOr<HttpResponse> response = Send(NewRequest("GET", key), key);
    if (!response.ok()) return response.status();
    if (response->status != 200) return ErrorFor("GET", key, *response);
    std::string recorded = response->Header(kCrcMetaHeader);
    uint32_t expected = 0;
    if (!recorded.empty() && absl::SimpleHexAtoi(recorded, &expected)) {
      uint32_t actual = crc32c::Value(response->body);
      if (actual != expected) {
        return absl::DataLossError(absl::StrCat(
            "S3 GET ", Location(key), ": ", response->body.size(),
            " bytes with crc32c ", absl::Hex(actual, absl::kZeroPad8),
            ", but the object was written with ", recorded));
      }
    }
    StoredObject object;
    object.data = std::move(response->body);
    object.content_type = response->Header("Content-Type");
    return object;
  }

  absl::StatusOr<std::string> GetRange(absl::string_view key, uint64_t offset,
                                       uint64_t length) override {
    if (length == 0) return std::string();
    HttpRequest request = NewRequest("GET", key);
    request.headers.push_back(
        absl::StrCat("Range: bytes=", offset, "-", offset + length - 1));
    absl::StatusOr<HttpResponse> response = Send(request, key);
    if (!response.ok()) return response.status();
    // 200: a server that ignores ranges sent the whole object.
    if (response->status == 200)
      return response->body.substr(
          std::min<uint64_t>(offset, response->body.size()), length);
    if (response->status == 416) {
      return absl::OutOfRangeError(absl::StrCat(
          "S3 GET ", Location(key), ": offset ", offset, " is past its end"));
    }
    if (response->status != 206) return ErrorFor("GET", key, *response);
    return std::move(response->body);
  }

  absl::Status Delete(absl::string_view key) override {
    absl::StatusOr<HttpResponse> response =
        Send(NewRequest("DELETE", key), key);
    if (!response.ok()) return response.status();
    if (response->status == 200 || response->status == 204) {
      return absl::OkStatus();
    }
    absl::Status error = ErrorFor("DELETE", key, *response);
    // S3 answers 204 for a missing key; some look-alikes answer NoSuchKey.
    if (S3XmlElement(response->body, "Code") == "NoSuchKey") {
      return absl::OkStatus();
    }
    return error;
  }

  std::string Describe() const override {
    return absl::StrCat("s3://", options_.bucket,
                        options_.prefix.empty() ? "" : "/", options_.prefix);
  }

 private:
  std::string Location(absl::string_view key) const {
    return absl::StrCat("s3://", options_.bucket, "/", options_.prefix, key);
  }

  HttpRequest NewRequest(std::string method, absl::string_view key) const {
    HttpRequest request;
    request.method = std::move(method);
    request.url = absl::StrCat(options_.endpoint, "/", options_.bucket, "/",
                               AwsUriEncode(absl::StrCat(options_.prefix, key),
                                            /*encode_slash=*/false));
    request.connect_timeout = options_.connect_timeout;
    request.timeout = absl::ZeroDuration();
    request.stall_timeout = options_.stall_timeout;
    return request;
  }

  absl::StatusOr<HttpResponse> Send(const HttpRequest& request,
                                    absl::string_view key) const {
    if (key.empty()) return absl::InvalidArgumentError("empty object key");
    if (options_.prefix.size() + key.size() > kMaxKeyBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("object key ", Location(key).substr(0, 80),
                       "... is over ", kMaxKeyBytes, " bytes with its prefix"));
    }
    absl::StatusOr<AwsCredentials> credentials = options_.credentials->Get();
    if (!credentials.ok()) return credentials.status();
    AwsSigning signing{*std::move(credentials), options_.region, "s3"};
    absl::StatusOr<HttpResponse> response = SendHttpRequest(request, &signing);
    if (!response.ok()) {
      return absl::Status(
          response.status().code(),
          absl::StrCat("S3 ", request.method, " ", Location(key), ": ",
                       response.status().message()));
    }
    return response;
  }

  absl::Status ErrorFor(absl::string_view method, absl::string_view key,
                        const HttpResponse& response) const {
    return S3ErrorStatus(method, Location(key), response);
  }

  const S3Options options_;
};

// S3's rules for new buckets, loosely: 3-63 of a-z 0-9 . -
bool ValidBucketName(absl::string_view bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  for (char c : bucket) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '.' &&
        c != '-') {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string DefaultS3Endpoint(absl::string_view region) {
  return absl::StrCat("https://s3.", region, ".amazonaws.com");
}

absl::StatusOr<std::unique_ptr<ObjectStore>> MakeS3ObjectStore(
    S3Options options) {
  if (!ValidBucketName(options.bucket)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "S3 bucket name \"", options.bucket,
        "\" is not 3 to 63 lower-case letters, digits, dots and hyphens"));
  }
  if (options.region.empty()) {
    return absl::InvalidArgumentError("S3 region is empty");
  }
  if (options.credentials == nullptr) {
    return absl::InvalidArgumentError("S3 store without AWS credentials");
  }
  if (options.endpoint.empty()) {
    options.endpoint = DefaultS3Endpoint(options.region);
  }
  while (absl::EndsWith(options.endpoint, "/")) options.endpoint.pop_back();
  if (!absl::StartsWith(options.endpoint, "http://") &&
      !absl::StartsWith(options.endpoint, "https://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("S3 endpoint \"", options.endpoint,
                     "\" does not start with http:// or https://"));
  }
  return std::make_unique<S3ObjectStore>(std::move(options));
}

absl::StatusOr<std::unique_ptr<ObjectStore>> MakeS3ObjectStore(
    const v1::ObjectStoreConfig& config, AwsCredentialsProvider* credentials) {
  S3Options s3;
  s3.bucket = config.bucket();
  s3.prefix = config.prefix();
  s3.endpoint = config.endpoint();
  if (!config.region().empty()) s3.region = config.region();
  s3.credentials = credentials;
  return MakeS3ObjectStore(std::move(s3));
}

}  // namespace dagd
