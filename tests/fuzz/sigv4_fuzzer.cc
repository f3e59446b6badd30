// SigV4 as dagd prepares it for libcurl (storage/aws_sigv4.h): the
// RFC 3986 encoding of paths and query parts, canonical query strings,
// and the checks of a request's header list before it is signed.
//
// Checks: an encoding holds only unreserved characters, '/' where allowed
// and %XX escapes, and decodes back to its input; a canonical query string
// decodes to its parameters, sorted; PrepareSignedRequest accepts only
// well-formed lists, appends the payload hash (and the session token)
// after them, and leaves a refused list as it was.
#include <curl/curl.h>
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "storage/aws_sigv4.h"
#include "tests/fuzz/fuzz_check.h"

namespace dagd {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;  // SigV4 wants upper-case hex only
}

// Decodes an AwsUriEncode output, checking its form as it goes.
std::string Decode(absl::string_view encoded, bool slash_allowed) {
  std::string out;
  for (size_t i = 0; i < encoded.size(); ++i) {
    const char c = encoded[i];
    if (c == '%') {
      FUZZ_CHECK(i + 2 < encoded.size(), "a cut escape");
      const int hi = HexValue(encoded[i + 1]);
      const int lo = HexValue(encoded[i + 2]);
      FUZZ_CHECK(hi >= 0 && lo >= 0, absl::StrCat("a bad escape in ", encoded));
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
      continue;
    }
    const bool unreserved =
        absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
        c == '.' || c == '_' || c == '~';
    FUZZ_CHECK(unreserved || (c == '/' && slash_allowed),
               absl::StrCat("'", std::string(1, c), "' left unencoded"));
    out.push_back(c);
  }
  return out;
}

void UriEncode(FuzzedDataProvider& in) {
  const bool encode_slash = in.ConsumeBool();
  const std::string text = in.ConsumeRemainingBytesAsString();
  const std::string encoded = AwsUriEncode(text, encode_slash);
  FUZZ_CHECK(Decode(encoded, !encode_slash) == text, "no round trip");
}

void QueryString(FuzzedDataProvider& in) {
  std::vector<std::pair<std::string, std::string>> params(
      in.ConsumeIntegralInRange<size_t>(0, 5));
  for (auto& [name, value] : params) {
    name = in.ConsumeRandomLengthString(12);
    value = in.ConsumeRandomLengthString(12);
  }
  const std::string query = AwsCanonicalQueryString(params);
  if (params.empty()) {
    FUZZ_CHECK(query.empty(), "parameters out of nothing");
    return;
  }
  std::vector<std::pair<std::string, std::string>> decoded;
  std::vector<std::pair<std::string, std::string>> encoded;
  for (absl::string_view part : absl::StrSplit(query, '&')) {
    const std::vector<absl::string_view> halves = absl::StrSplit(part, '=');
    FUZZ_CHECK(halves.size() == 2, absl::StrCat("parameter '", part, "'"));
    encoded.emplace_back(halves[0], halves[1]);
    decoded.emplace_back(Decode(halves[0], false), Decode(halves[1], false));
  }
  FUZZ_CHECK(std::is_sorted(encoded.begin(), encoded.end()),
             "parameters not in order");
  std::sort(params.begin(), params.end());
  std::sort(decoded.begin(), decoded.end());
  FUZZ_CHECK(decoded == params, "parameters lost or changed");
}

std::vector<std::string> Entries(const curl_slist* list) {
  std::vector<std::string> entries;
  for (; list != nullptr; list = list->next) entries.push_back(list->data);
  return entries;
}

// An entry the signer may take: one "Name: value" line, whose name is not
// one of those the signer sets.
bool Acceptable(absl::string_view entry) {
  if (entry.find_first_of("\r\n") != absl::string_view::npos) return false;
  const size_t colon = entry.find(':');
  if (colon == absl::string_view::npos) return false;
  const absl::string_view name =
      absl::StripAsciiWhitespace(entry.substr(0, colon));
  if (absl::StripAsciiWhitespace(entry.substr(colon + 1)).empty()) return false;
  for (absl::string_view owned :
       {"authorization", "x-amz-date", "x-amz-content-sha256",
        "x-amz-security-token"}) {
    if (absl::EqualsIgnoreCase(name, owned)) return false;
  }
  return true;
}

void SignedRequest(FuzzedDataProvider& in) {
  AwsCredentials credentials;
  credentials.access_key_id = in.ConsumeRandomLengthString(8);
  credentials.secret_access_key = in.ConsumeRandomLengthString(8);
  credentials.session_token = in.ConsumeRandomLengthString(8);
  const std::string region = in.ConsumeRandomLengthString(12);
  const std::string service = in.ConsumeRandomLengthString(8);
  const std::string body = in.ConsumeRandomLengthString(32);
  curl_slist* headers = nullptr;
  const size_t count = in.ConsumeIntegralInRange<size_t>(0, 4);
  for (size_t i = 0; i < count; ++i) {
    // An entry is a C string: it ends at the first NUL.
    const std::string entry = in.ConsumeRandomLengthString(48);
    headers = curl_slist_append(headers, entry.c_str());
  }
  const std::vector<std::string> before = Entries(headers);
  const curl_slist* const head = headers;
  CURL* curl = curl_easy_init();
  FUZZ_CHECK(curl != nullptr, "curl_easy_init");
  const absl::Status status =
      PrepareSignedRequest(curl, credentials, region, service, body, &headers);
  const std::vector<std::string> after = Entries(headers);
  if (!status.ok()) {
    FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument,
               status.ToString());
    FUZZ_CHECK(headers == head && after == before,
               "a refused list was changed");
  } else {
    FUZZ_CHECK(!credentials.access_key_id.empty() &&
                   !credentials.secret_access_key.empty(),
               "signed without a key");
    FUZZ_CHECK(!region.empty() && !service.empty() &&
                   !absl::StrContains(region, ':') &&
                   !absl::StrContains(service, ':'),
               "a bad scope was taken");
    for (const std::string& entry : before) {
      FUZZ_CHECK(Acceptable(entry), absl::StrCat("took '", entry, "'"));
    }
    std::vector<std::string> expected = before;
    expected.push_back("x-amz-content-sha256: " + Sha256Hex(body));
    if (!credentials.session_token.empty()) {
      // An entry is a C string: a token ends at its first NUL.
      expected.push_back(
          ("x-amz-security-token: " + credentials.session_token).c_str());
    }
    FUZZ_CHECK(after == expected, "the signer's headers are not as promised");
  }
  curl_easy_cleanup(curl);
  curl_slist_free_all(headers);
}

}  // namespace
}  // namespace dagd

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  switch (in.ConsumeIntegralInRange<int>(0, 2)) {
    case 0:
      dagd::UriEncode(in);
      break;
    case 1:
      dagd::QueryString(in);
      break;
    default:
      dagd::SignedRequest(in);
      break;
  }
  return 0;
}
