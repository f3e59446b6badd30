#include "storage/aws_sigv4.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/aws_http.h"
#include "tests/storage/fake_http_server.h"

namespace dagd {
namespace {

using ::dagd::testing::FakeHttpRequest;
using ::dagd::testing::FakeHttpResponse;
using ::dagd::testing::FakeHttpServer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;

// sha256("") and sha256("hello"), from any reference.
constexpr char kEmptySha256[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr char kHelloSha256[] =
    "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

// --- An independent SigV4 implementation, to check what libcurl signs. ---

std::string Hmac(absl::string_view key, absl::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
       &length);
  return std::string(reinterpret_cast<char*>(out), length);
}

std::string Sha256(absl::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), out, &length, EVP_sha256(), nullptr);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<char*>(out), length));
}

std::string PercentDecode(absl::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += absl::HexStringToBytes(s.substr(i + 1, 2));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string PercentEncode(absl::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' ||
        c == '~') {
      out += static_cast<char>(c);
    } else {
      out += absl::StrCat("%", absl::AsciiStrToUpper(absl::BytesToHexString(
                                   std::string(1, static_cast<char>(c)))));
    }
  }
  return out;
}

// S3's canonical form of a request target: each path segment and query
// name and value decoded then encoded once; parameters sorted.
std::pair<std::string, std::string> CanonicalTarget(absl::string_view target) {
  std::pair<absl::string_view, absl::string_view> parts =
      absl::StrSplit(target, absl::MaxSplits('?', 1));
  std::vector<std::string> segments;
  for (absl::string_view segment : absl::StrSplit(parts.first, '/')) {
    segments.push_back(PercentEncode(PercentDecode(segment)));
  }
  std::vector<std::string> params;
  for (absl::string_view param : absl::StrSplit(parts.second, '&')) {
    if (param.empty()) continue;
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(param, absl::MaxSplits('=', 1));
    params.push_back(absl::StrCat(PercentEncode(PercentDecode(kv.first)), "=",
                                  PercentEncode(PercentDecode(kv.second))));
  }
  std::sort(params.begin(), params.end());
  return {absl::StrJoin(segments, "/"), absl::StrJoin(params, "&")};
}

struct Authorization {
  std::string access_key_id, date, region, service, signed_headers, signature;
};

Authorization ParseAuthorization(absl::string_view header) {
  Authorization auth;
  EXPECT_TRUE(absl::ConsumePrefix(&header, "AWS4-HMAC-SHA256 ")) << header;
  for (absl::string_view field : absl::StrSplit(header, ',')) {
    std::pair<std::string, std::string> kv =
        absl::StrSplit(absl::StripAsciiWhitespace(field), '=');
    if (kv.first == "Credential") {
      std::vector<std::string> scope = absl::StrSplit(kv.second, '/');
      EXPECT_EQ(scope.size(), 5u) << kv.second;
      if (scope.size() != 5) continue;
      EXPECT_EQ(scope[4], "aws4_request");
      auth.access_key_id = scope[0];
      auth.date = scope[1];
      auth.region = scope[2];
      auth.service = scope[3];
    } else if (kv.first == "SignedHeaders") {
      auth.signed_headers = kv.second;
    } else if (kv.first == "Signature") {
      auth.signature = kv.second;
    }
  }
  return auth;
}

std::string ReferenceSignature(const FakeHttpRequest& request,
                               const Authorization& auth,
                               absl::string_view secret) {
  auto [uri, query] = CanonicalTarget(request.target);
  std::string headers;
  for (absl::string_view name : absl::StrSplit(auth.signed_headers, ';')) {
    absl::StrAppend(&headers, name, ":", request.Header(std::string(name)),
                    "\n");
  }
  std::string canonical =
      absl::StrJoin({request.method, uri, query, headers, auth.signed_headers,
                     request.Header("x-amz-content-sha256")},
                    "\n");
  std::string scope = absl::StrCat(auth.date, "/", auth.region, "/",
                                   auth.service, "/aws4_request");
  std::string to_sign =
      absl::StrJoin({std::string("AWS4-HMAC-SHA256"),
                     request.Header("x-amz-date"), scope, Sha256(canonical)},
                    "\n");
  std::string key = Hmac(absl::StrCat("AWS4", secret), auth.date);
  key = Hmac(key, auth.region);
  key = Hmac(key, auth.service);
  key = Hmac(key, "aws4_request");
  return absl::BytesToHexString(Hmac(key, to_sign));
}

// The reference implementation reproduces AWS's published example (S3 API
// reference, "Example: GET Object").
TEST(AwsSigv4Test, ReferenceSignerMatchesAwsExample) {
  FakeHttpRequest request;
  request.method = "GET";
  request.target = "/test.txt";
  request.headers = {{"host", "examplebucket.s3.amazonaws.com"},
                     {"range", "bytes=0-9"},
                     {"x-amz-content-sha256", kEmptySha256},
                     {"x-amz-date", "20130524T000000Z"}};
  Authorization auth{"AKIAIOSFODNN7EXAMPLE",
                     "20130524",
                     "us-east-1",
                     "s3",
                     "host;range;x-amz-content-sha256;x-amz-date",
                     ""};
  EXPECT_EQ(ReferenceSignature(request, auth,
                               "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

// --- The unit itself. ---

TEST(AwsSigv4Test, Sha256Hex) {
  EXPECT_EQ(Sha256Hex(""), kEmptySha256);
  EXPECT_EQ(Sha256Hex("hello"), kHelloSha256);
}

TEST(AwsSigv4Test, UriEncode) {
  EXPECT_EQ(AwsUriEncode("AZaz09-._~", true), "AZaz09-._~");
  EXPECT_EQ(AwsUriEncode("a b/é+*", false), "a%20b/%C3%A9%2B%2A");
  EXPECT_EQ(AwsUriEncode("a b/é+*", true), "a%20b%2F%C3%A9%2B%2A");
  EXPECT_EQ(AwsUriEncode("%", true), "%25");
}

TEST(AwsSigv4Test, CanonicalQueryStringSortsAndEncodes) {
  EXPECT_EQ(AwsCanonicalQueryString({}), "");
  EXPECT_EQ(AwsCanonicalQueryString(
                {{"b", "x y"}, {"a", "2"}, {"a", "1"}, {"é", ""}}),
            "%C3%A9=&a=1&a=2&b=x%20y");  // sorted encoded, as AWS does
}

std::vector<std::string> Entries(const curl_slist* list) {
  std::vector<std::string> out;
  for (; list != nullptr; list = list->next) out.emplace_back(list->data);
  return out;
}

struct CurlHandle {
  CurlHandle() : curl(curl_easy_init()) {}
  ~CurlHandle() {
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
  }
  CURL* curl;
  curl_slist* headers = nullptr;
};

TEST(AwsSigv4Test, AddsPayloadHashAndSessionToken) {
  CurlHandle h;
  h.headers = curl_slist_append(nullptr, "Content-Type: application/json");
  AwsCredentials credentials{"AKID", "SECRET", "TOKEN"};
  ASSERT_TRUE(PrepareSignedRequest(h.curl, credentials, "eu-west-1", "lambda",
                                   "hello", &h.headers)
                  .ok());
  EXPECT_THAT(Entries(h.headers),
              ElementsAre("Content-Type: application/json",
                          absl::StrCat("x-amz-content-sha256: ", kHelloSha256),
                          "x-amz-security-token: TOKEN"));
}

TEST(AwsSigv4Test, NoTokenHeaderForLongTermKeys) {
  CurlHandle h;
  ASSERT_TRUE(PrepareSignedRequest(h.curl, {"AKID", "SECRET", ""}, "us-east-1",
                                   "s3", "", &h.headers)
                  .ok());
  EXPECT_THAT(Entries(h.headers), ElementsAre(absl::StrCat(
                                      "x-amz-content-sha256: ", kEmptySha256)));
}

TEST(AwsSigv4Test, RejectsWhatLibcurlWouldSignWrongly) {
  for (const char* entry :
       {"Accept:", "Accept:  ", "X-Empty;", "X-Amz-Date: 20130524T000000Z",
        "authorization: x", "X-Amz-Content-Sha256: abc"}) {
    CurlHandle h;
    h.headers = curl_slist_append(nullptr, entry);
    absl::Status status = PrepareSignedRequest(
        h.curl, {"AKID", "SECRET", ""}, "us-east-1", "s3", "", &h.headers);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << entry;
    absl::string_view name(entry);
    name = name.substr(0, name.find_first_of(":;"));
    EXPECT_THAT(status.message(), HasSubstr(name));
    EXPECT_THAT(Entries(h.headers), ElementsAre(entry));  // unchanged
  }
}

// Checked by tests/fuzz/sigv4_fuzzer.cc: libcurl sends an entry as it is,
// so one with a line break went out as two headers, one never signed.
TEST(AwsSigv4Test, RejectsLineBreaksInEntries) {
  for (const char* entry : {"Content-Type: a\r\nX-Amz-Meta-Crc32c: 0",
                            "Content-Type: a\nb", "X-A: b\r"}) {
    CurlHandle h;
    h.headers = curl_slist_append(nullptr, entry);
    absl::Status status = PrepareSignedRequest(
        h.curl, {"AKID", "SECRET", ""}, "us-east-1", "s3", "", &h.headers);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << entry;
    EXPECT_THAT(status.message(), HasSubstr("line break"));
    EXPECT_THAT(Entries(h.headers), ElementsAre(entry));  // unchanged
  }
}

TEST(AwsSigv4Test, RejectsIncompleteCredentialsAndScope) {
  CurlHandle h;
  EXPECT_EQ(PrepareSignedRequest(h.curl, {"AKID", "", ""}, "us-east-1", "s3",
                                 "", &h.headers)
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PrepareSignedRequest(h.curl, {"AKID", "SECRET", ""}, "", "s3", "",
                                 &h.headers)
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PrepareSignedRequest(h.curl, {"AKID", "SECRET", ""}, "us-east-1",
                                 "s3:x", "", &h.headers)
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(h.headers, nullptr);
}

class SignedRequestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = FakeHttpServer::Start([](const FakeHttpRequest&) {
      return FakeHttpResponse{200, "{}"};
    });
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  // The one request the server got, with its signature checked by the
  // reference implementation.
  FakeHttpRequest CheckedRequest(absl::string_view secret,
                                 absl::string_view region,
                                 absl::string_view service) {
    std::vector<FakeHttpRequest> requests = server_->requests();
    EXPECT_EQ(requests.size(), 1u);
    if (requests.empty()) return {};
    const FakeHttpRequest& request = requests[0];
    EXPECT_EQ(request.Header("x-amz-content-sha256"), Sha256(request.body));
    Authorization auth = ParseAuthorization(request.Header("authorization"));
    EXPECT_EQ(auth.access_key_id, "AKID");
    EXPECT_EQ(auth.date,
              absl::FormatTime("%Y%m%d", absl::Now(), absl::UTCTimeZone()));
    EXPECT_EQ(auth.region, region);
    EXPECT_EQ(auth.service, service);
    std::vector<std::string> signed_headers =
        absl::StrSplit(auth.signed_headers, ';');
    // S3 wants every x-amz-* header signed.
    for (const auto& [name, value] : request.headers) {
      if (absl::StartsWith(name, "x-amz-")) {
        EXPECT_THAT(signed_headers, ::testing::Contains(name));
      }
    }
    EXPECT_THAT(signed_headers, IsSupersetOf({"host", "x-amz-date"}));
    EXPECT_EQ(auth.signature, ReferenceSignature(request, auth, secret));
    EXPECT_NE(auth.signature, ReferenceSignature(request, auth, "wrong"));
    return request;
  }

  std::unique_ptr<FakeHttpServer> server_;
};

// What the Lambda dispatcher does: its own handle, a POST with a JSON
// body, a query string, temporary credentials.
TEST_F(SignedRequestTest, PostWithQueryAndSessionTokenVerifies) {
  CurlHandle h;
  std::string url = absl::StrCat(
      server_->url(), "/2015-03-31/functions/my-fn/invocations?",
      AwsCanonicalQueryString({{"Qualifier", "live"}, {"b", "x y/é"}}));
  const std::string body = "hello";
  curl_easy_setopt(h.curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h.curl, CURLOPT_POSTFIELDSIZE,
                   static_cast<long>(body.size()));
  curl_easy_setopt(h.curl, CURLOPT_POSTFIELDS, body.data());
  h.headers = curl_slist_append(h.headers, "Content-Type: application/json");
  h.headers =
      curl_slist_append(h.headers, "X-Amz-Invocation-Type: RequestResponse");
  AwsCredentials credentials{"AKID", "SECRET/+=", "TOKEN/with+chars="};
  ASSERT_TRUE(PrepareSignedRequest(h.curl, credentials, "eu-west-1", "lambda",
                                   body, &h.headers)
                  .ok());
  ASSERT_EQ(curl_easy_perform(h.curl), CURLE_OK);

  FakeHttpRequest request = CheckedRequest("SECRET/+=", "eu-west-1", "lambda");
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.body, "hello");
  EXPECT_EQ(request.Header("x-amz-content-sha256"), kHelloSha256);
  EXPECT_EQ(request.Header("x-amz-security-token"), "TOKEN/with+chars=");
  EXPECT_EQ(request.Header("x-amz-invocation-type"), "RequestResponse");
}

// What S3ObjectStore does: a PUT to an encoded key, through SendHttpRequest.
TEST_F(SignedRequestTest, PutToUnicodeKeyVerifies) {
  std::string body(100000, 'x');
  HttpRequest request;
  request.method = "PUT";
  request.url =
      absl::StrCat(server_->url(), "/bucket/",
                   AwsUriEncode("dir/a b/é+*(1)~.txt", /*encode_slash=*/false));
  request.headers = {"Content-Type: text/plain", "x-amz-meta-crc32c: 1234abcd"};
  request.body = body;
  AwsSigning signing{{"AKID", "SECRET", ""}, "us-east-1", "s3"};
  absl::StatusOr<HttpResponse> response = SendHttpRequest(request, &signing);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);

  FakeHttpRequest got = CheckedRequest("SECRET", "us-east-1", "s3");
  EXPECT_EQ(got.target, "/bucket/dir/a%20b/%C3%A9%2B%2A%281%29~.txt");
  EXPECT_EQ(got.body, body);
  EXPECT_EQ(got.Header("content-type"), "text/plain");
  EXPECT_EQ(got.Header("x-amz-security-token"), "");
}

TEST_F(SignedRequestTest, GetWithoutBodyHashesTheEmptyString) {
  HttpRequest request;
  request.url = server_->url() + "/bucket/key";
  AwsSigning signing{{"AKID", "SECRET", "T"}, "us-east-1", "s3"};
  ASSERT_TRUE(SendHttpRequest(request, &signing).ok());
  FakeHttpRequest got = CheckedRequest("SECRET", "us-east-1", "s3");
  EXPECT_EQ(got.method, "GET");
  EXPECT_EQ(got.Header("x-amz-content-sha256"), kEmptySha256);
}

}  // namespace
}  // namespace dagd
