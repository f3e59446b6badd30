#include "worker/lambda_runtime_api.h"

#include <curl/curl.h>

#include <utility>
#include <vector>

#include "absl/base/call_once.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "storage/base/logging.h"

namespace dagd {
namespace {

constexpr char kApiPrefix[] = "/2018-06-01/runtime";
// The Runtime API is on the same host; a connection that takes longer than
// this is not coming.
constexpr long kConnectTimeoutMs = 5000;
// Posts carry at most Lambda's 6 MB over loopback. Next has no timeout: it
// is a long poll that lasts until the next invocation.
constexpr long kPostTimeoutMs = 60000;

struct HttpReply {
  long code = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  std::string Header(absl::string_view name) const {
    for (const auto& [key, value] : headers) {
      if (absl::EqualsIgnoreCase(key, name)) return value;
    }
    return "";
  }
};

size_t AppendBody(char* data, size_t size, size_t count, void* reply) {
  static_cast<HttpReply*>(reply)->body.append(data, size * count);
  return size * count;
}

size_t AppendHeader(char* data, size_t size, size_t count, void* reply) {
  absl::string_view line(data, size * count);
  auto* http = static_cast<HttpReply*>(reply);
  // A status line starts each response (also an interim 100 Continue):
  // keep only the final response's headers.
  if (absl::StartsWith(line, "HTTP/")) http->headers.clear();
  size_t colon = line.find(':');
  if (colon != absl::string_view::npos) {
    http->headers.emplace_back(
        std::string(absl::StripAsciiWhitespace(line.substr(0, colon))),
        std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
  }
  return size * count;
}

// Turns a non-2xx reply into the status LambdaRuntimeApi documents.
absl::Status StatusOfReply(absl::string_view what, const HttpReply& reply) {
  if (reply.code >= 200 && reply.code < 300) return absl::OkStatus();
  std::string message = absl::StrCat(what, ": HTTP ", reply.code, ": ",
                                     absl::StripAsciiWhitespace(reply.body));
  switch (reply.code) {
    case 400:
      return absl::InvalidArgumentError(message);
    case 403:
      return absl::PermissionDeniedError(message);
    case 404:
      return absl::NotFoundError(message);
    case 413:
      return absl::ResourceExhaustedError(message);
    default:
      return reply.code >= 500 ? absl::UnavailableError(message)
                               : absl::InvalidArgumentError(message);
  }
}

class CurlLambdaRuntimeApi : public LambdaRuntimeApi {
 public:
  explicit CurlLambdaRuntimeApi(std::string endpoint)
      : base_url_(absl::StrCat("http://", endpoint, kApiPrefix)) {
    static absl::once_flag curl_initialized;
    absl::call_once(curl_initialized,
                    [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    curl_ = curl_easy_init();
  }
  ~CurlLambdaRuntimeApi() override {
    if (curl_ != nullptr) curl_easy_cleanup(curl_);
  }

  absl::StatusOr<LambdaInvocationEvent> Next() override {
    absl::StatusOr<HttpReply> reply =
        Call("GET /invocation/next", "/invocation/next", nullptr, "");
    if (!reply.ok()) return reply.status();
    if (absl::Status status = StatusOfReply("GET /invocation/next", *reply);
        !status.ok()) {
      return status;
    }
    LambdaInvocationEvent event;
    event.request_id = reply->Header("Lambda-Runtime-Aws-Request-Id");
    if (event.request_id.empty()) {
      return absl::UnavailableError(
          "GET /invocation/next: the reply has no "
          "Lambda-Runtime-Aws-Request-Id header");
    }
    std::string deadline = reply->Header("Lambda-Runtime-Deadline-Ms");
    if (!deadline.empty() &&
        !absl::SimpleAtoi(deadline, &event.deadline_unix_ms)) {
      event.deadline_unix_ms = 0;
    }
    event.function_arn = reply->Header("Lambda-Runtime-Invoked-Function-Arn");
    event.trace_id = reply->Header("Lambda-Runtime-Trace-Id");
    event.body = std::move(reply->body);
    return event;
  }

  absl::Status PostResponse(absl::string_view request_id,
                            absl::string_view body) override {
    std::string path =
        absl::StrCat("/invocation/", Escape(request_id), "/response");
    return Post(absl::StrCat("POST ", path), path, "", body);
  }

  absl::Status PostError(absl::string_view request_id,
                         const LambdaError& error) override {
    std::string path =
        absl::StrCat("/invocation/", Escape(request_id), "/error");
    return Post(absl::StrCat("POST ", path), path, error.type,
                LambdaErrorJson(error));
  }

  absl::Status PostInitError(const LambdaError& error) override {
    return Post("POST /init/error", "/init/error", error.type,
                LambdaErrorJson(error));
  }

 private:
  std::string Escape(absl::string_view text) {
    char* escaped =
        curl_easy_escape(curl_, text.data(), static_cast<int>(text.size()));
    if (escaped == nullptr) return std::string(text);
    std::string result = escaped;
    curl_free(escaped);
    return result;
  }

  absl::Status Post(absl::string_view what, const std::string& path,
                    absl::string_view error_type, absl::string_view body) {
    absl::StatusOr<HttpReply> reply = Call(what, path, &body, error_type);
    if (!reply.ok()) return reply.status();
    return StatusOfReply(what, *reply);
  }

  // GET `path` when `post_body` is null, else POST it. UNAVAILABLE when no
  // HTTP reply came back.
  absl::StatusOr<HttpReply> Call(absl::string_view what,
                                 const std::string& path,
                                 const absl::string_view* post_body,
                                 absl::string_view error_type) {
    if (curl_ == nullptr) {
      return absl::InternalError("libcurl failed to initialize");
    }
    curl_easy_reset(curl_);  // keeps the open connection
    HttpReply reply;
    std::string url = base_url_ + path;
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    // An http_proxy in the environment must not capture local traffic.
    curl_easy_setopt(curl_, CURLOPT_PROXY, "");
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS, kConnectTimeoutMs);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &AppendBody);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &reply);
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, &AppendHeader);
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &reply);
    curl_slist* headers = nullptr;
    std::string error_header;
    if (post_body != nullptr) {
      curl_easy_setopt(curl_, CURLOPT_POST, 1L);
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, post_body->data());
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(post_body->size()));
      curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, kPostTimeoutMs);
      headers = curl_slist_append(headers, "Content-Type: application/json");
      // No "Expect: 100-continue" round trip for large bodies.
      headers = curl_slist_append(headers, "Expect:");
      if (!error_type.empty()) {
        error_header =
            absl::StrCat("Lambda-Runtime-Function-Error-Type: ", error_type);
        headers = curl_slist_append(headers, error_header.c_str());
      }
      curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
    }
    CURLcode code = curl_easy_perform(curl_);
    curl_slist_free_all(headers);
    if (code != CURLE_OK) {
      return absl::UnavailableError(
          absl::StrCat(what, ": cannot reach the Lambda Runtime API at ",
                       base_url_, ": ", curl_easy_strerror(code)));
    }
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &reply.code);
    return reply;
  }

  const std::string base_url_;
  CURL* curl_ = nullptr;
};

}  // namespace

std::string LambdaErrorJson(const LambdaError& error) {
  return absl::StrCat("{\"errorType\":", JsonQuote(error.type),
                      ",\"errorMessage\":", JsonQuote(error.message), "}");
}

std::unique_ptr<LambdaRuntimeApi> MakeCurlLambdaRuntimeApi(
    std::string endpoint) {
  return std::make_unique<CurlLambdaRuntimeApi>(std::move(endpoint));
}

}  // namespace dagd
