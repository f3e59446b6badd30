#include "storage/aws_http.h"

#include <curl/curl.h>

#include <cstdlib>
#include <memory>

#include "absl/base/call_once.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "storage/aws_sigv4.h"

namespace dagd {
namespace {

// curl_global_init is not thread-safe in every libcurl; run it once.
void EnsureCurlInitialized() {
  static absl::once_flag once;
  absl::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
// Owns a header list; PrepareSignedRequest may replace `list`.
struct HeaderList {
  HeaderList() = default;
  HeaderList(const HeaderList&) = delete;
  HeaderList& operator=(const HeaderList&) = delete;
  ~HeaderList() { curl_slist_free_all(list); }

  bool Add(const std::string& header) {
    curl_slist* appended = curl_slist_append(list, header.c_str());
    if (appended == nullptr) return false;
    list = appended;
    return true;
  }

  curl_slist* list = nullptr;
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  static_cast<HttpResponse*>(user)->body.append(data, size * n);
  return size * n;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* response = static_cast<HttpResponse*>(user);
  absl::string_view line(data, size * n);
  if (absl::StartsWith(line, "HTTP/")) {
    response->headers.clear();  // a new response (after 100 Continue)
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon != absl::string_view::npos) {
    response->headers.emplace_back(
        absl::AsciiStrToLower(
            absl::StripAsciiWhitespace(line.substr(0, colon))),
        std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
  }
  return size * n;
}

long Millis(absl::Duration d) {  // NOLINT(runtime/int): libcurl's type
  return static_cast<long>(absl::ToInt64Milliseconds(d));  // NOLINT
}

bool HasHeader(const std::vector<std::string>& headers,
               absl::string_view name) {
  for (const std::string& h : headers) {
    if (absl::StartsWithIgnoreCase(h, name) && h.size() > name.size() &&
        h[name.size()] == ':') {
      return true;
    }
  }
  return false;
}

bool HasBody(const HttpRequest& request) {
  return !request.body.empty() || request.method == "PUT" ||
         request.method == "POST";
}

// Everything but the signature and the header list.
CURLcode SetRequestOptions(CURL* curl, const HttpRequest& request,
                           HttpResponse* response, char* error_buffer) {
  CURLcode rc = CURLE_OK;
  auto set = [&](CURLoption option, auto value) {
    if (rc == CURLE_OK) rc = curl_easy_setopt(curl, option, value);
  };
  set(CURLOPT_ERRORBUFFER, error_buffer);
  set(CURLOPT_URL, request.url.c_str());
  set(CURLOPT_PROTOCOLS_STR, "http,https");
  set(CURLOPT_NOSIGNAL, 1L);
  set(CURLOPT_PATH_AS_IS, 1L);  // an object key may hold "." or ".."
  // A deployment's own CA bundle: libcurl does not read the variable by
  // itself, and the Lambda zip's libcurl would otherwise look for Debian's
  // path, which Amazon Linux lacks.
  if (const char* ca = std::getenv("CURL_CA_BUNDLE"); ca != nullptr) {
    set(CURLOPT_CAINFO, ca);
  }
  set(CURLOPT_CONNECTTIMEOUT_MS, Millis(request.connect_timeout));
  set(CURLOPT_TIMEOUT_MS, Millis(request.timeout));
  if (request.stall_timeout > absl::ZeroDuration()) {
    set(CURLOPT_LOW_SPEED_LIMIT, 1L);
    set(CURLOPT_LOW_SPEED_TIME,
        static_cast<long>(
            absl::ToInt64Seconds(request.stall_timeout)));  // NOLINT
  }
  set(CURLOPT_WRITEFUNCTION, &OnBody);
  set(CURLOPT_WRITEDATA, response);
  set(CURLOPT_HEADERFUNCTION, &OnHeader);
  set(CURLOPT_HEADERDATA, response);
  if (request.method == "GET") {
    set(CURLOPT_HTTPGET, 1L);
  } else if (request.method == "HEAD") {
    set(CURLOPT_NOBODY, 1L);
  } else {
    set(CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  if (HasBody(request)) {
    set(CURLOPT_POSTFIELDSIZE_LARGE,
        static_cast<curl_off_t>(request.body.size()));
    set(CURLOPT_POSTFIELDS,
        request.body.data() == nullptr ? "" : request.body.data());
  }
  return rc;
}

}  // namespace

std::string HttpResponse::Header(absl::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, name)) return value;
  }
  return "";
}

absl::StatusOr<HttpResponse> SendHttpRequest(const HttpRequest& request,
                                             const AwsSigning* signing) {
  if (!absl::StartsWith(request.url, "http://") &&
      !absl::StartsWith(request.url, "https://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("URL \"", request.url, "\" is not http:// or https://"));
  }
  if ((request.method == "GET" || request.method == "HEAD") &&
      !request.body.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(request.method, " with a body"));
  }
  EnsureCurlInitialized();
  HeaderList headers;  // declared first: outlives the handle that uses it
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (curl == nullptr) return absl::ResourceExhaustedError("curl_easy_init");
  for (const std::string& header : request.headers) {
    if (!headers.Add(header)) return absl::ResourceExhaustedError("headers");
  }
  if (HasBody(request) && !HasHeader(request.headers, "Content-Type")) {
    // Else libcurl sends application/x-www-form-urlencoded.
    if (!headers.Add("Content-Type: application/octet-stream")) {
      return absl::ResourceExhaustedError("headers");
    }
  }

  HttpResponse response;
  char error_buffer[CURL_ERROR_SIZE] = {0};
  CURLcode rc = SetRequestOptions(curl.get(), request, &response, error_buffer);
  if (rc != CURLE_OK) {
    return absl::InvalidArgumentError(absl::StrCat(
        request.method, " ", request.url, ": ", curl_easy_strerror(rc)));
  }
  if (signing != nullptr) {
    absl::Status signed_ok =
        PrepareSignedRequest(curl.get(), signing->credentials, signing->region,
                             signing->service, request.body, &headers.list);
    if (!signed_ok.ok()) return signed_ok;
  } else if (headers.list != nullptr) {
    rc = curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers.list);
  }
  if (rc == CURLE_OK) rc = curl_easy_perform(curl.get());
  if (rc != CURLE_OK) {
    return absl::UnavailableError(absl::StrCat(
        request.method, " ", request.url, ": ", curl_easy_strerror(rc),
        error_buffer[0] != '\0' ? absl::StrCat(" (", error_buffer, ")") : ""));
  }
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

}  // namespace dagd
