#include "storage/aws_sigv4.h"

#include <openssl/evp.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace dagd {
namespace {

// Headers PrepareSignedRequest (or libcurl's signer) sets itself.
constexpr absl::string_view kSignerHeaders[] = {"authorization", "x-amz-date",
                                                "x-amz-content-sha256",
                                                "x-amz-security-token"};

bool IsUnreserved(unsigned char c) {
  return absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

// Checks one "Name: value" entry of a header list.
absl::Status CheckHeaderEntry(absl::string_view entry) {
  if (entry.find_first_of("\r\n") != absl::string_view::npos) {
    // libcurl sends the entry as it is: the server would read a header
    // that was never signed as such (a Content-Type taken from a task's
    // output could add any header to a signed request).
    return absl::InvalidArgumentError(absl::StrCat(
        "header list entry \"", absl::CHexEscape(entry),
        "\" holds a line break; a signed request cannot carry it"));
  }
  size_t colon = entry.find(':');
  if (colon == absl::string_view::npos) {
    // "Name;" sends an empty header; libcurl 7.88 signs it wrongly too.
    return absl::InvalidArgumentError(
        absl::StrCat("header list entry \"", entry,
                     "\" is not \"Name: value\"; a signed request cannot "
                     "carry it"));
  }
  absl::string_view name = absl::StripAsciiWhitespace(entry.substr(0, colon));
  absl::string_view value = absl::StripAsciiWhitespace(entry.substr(colon + 1));
  if (value.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("header list entry \"", entry,
                     "\" removes or empties a header, which libcurl 7.88 "
                     "signs wrongly; leave it out"));
  }
  for (absl::string_view owned : kSignerHeaders) {
    if (absl::EqualsIgnoreCase(name, owned)) {
      return absl::InvalidArgumentError(
          absl::StrCat("header ", name,
                       " is set by the signer; do not pass it in the list"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string Sha256Hex(absl::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  // EVP_Digest cannot fail for SHA-256 short of memory exhaustion.
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  return absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(digest), static_cast<size_t>(length)));
}

std::string AwsUriEncode(absl::string_view s, bool encode_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (IsUnreserved(c) || (c == '/' && !encode_slash)) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

std::string AwsCanonicalQueryString(
    std::vector<std::pair<std::string, std::string>> params) {
  for (auto& [name, value] : params) {
    name = AwsUriEncode(name, /*encode_slash=*/true);
    value = AwsUriEncode(value, /*encode_slash=*/true);
  }
  std::sort(params.begin(), params.end());
  return absl::StrJoin(params, "&", absl::PairFormatter("="));
}

absl::Status PrepareSignedRequest(CURL* curl, const AwsCredentials& credentials,
                                  absl::string_view region,
                                  absl::string_view service,
                                  absl::string_view body,
                                  curl_slist** headers) {
  if (credentials.access_key_id.empty() ||
      credentials.secret_access_key.empty()) {
    return absl::InvalidArgumentError(
        "AWS credentials without an access key id or secret access key");
  }
  if (region.empty() || service.empty() || absl::StrContains(region, ':') ||
      absl::StrContains(service, ':')) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad SigV4 scope: region \"", region, "\", service \"", service, "\""));
  }
  for (const curl_slist* h = *headers; h != nullptr; h = h->next) {
    if (absl::Status s = CheckHeaderEntry(h->data); !s.ok()) return s;
  }
  std::string content_sha = "x-amz-content-sha256: " + Sha256Hex(body);
  curl_slist* appended = curl_slist_append(*headers, content_sha.c_str());
  if (appended == nullptr) return absl::ResourceExhaustedError("out of memory");
  *headers = appended;
  if (!credentials.session_token.empty()) {
    std::string token = "x-amz-security-token: " + credentials.session_token;
    appended = curl_slist_append(*headers, token.c_str());
    if (appended == nullptr) {
      return absl::ResourceExhaustedError("out of memory");
    }
    *headers = appended;
  }
  // libcurl copies string options, so the temporaries are fine.
  std::string sigv4 = absl::StrCat("aws:amz:", region, ":", service);
  CURLcode rc = curl_easy_setopt(curl, CURLOPT_HTTPHEADER, *headers);
  if (rc == CURLE_OK)
    rc = curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4.c_str());
  if (rc == CURLE_OK) {
    rc = curl_easy_setopt(curl, CURLOPT_USERNAME,
                          credentials.access_key_id.c_str());
  }
  if (rc == CURLE_OK) {
    rc = curl_easy_setopt(curl, CURLOPT_PASSWORD,
                          credentials.secret_access_key.c_str());
  }
  if (rc != CURLE_OK) {
    return absl::FailedPreconditionError(absl::StrCat(
        "libcurl cannot sign requests (", curl_easy_strerror(rc),
        "); it needs libcurl 7.75 or newer built with AWS SigV4 support"));
  }
  return absl::OkStatus();
}

}  // namespace dagd
