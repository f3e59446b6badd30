#include "storage/aws_credentials.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "storage/aws_http.h"
#include "storage/base/logging.h"

namespace dagd {
namespace {

// Temporary credentials are replaced this long before they expire, so a
// request signed with them does not reach AWS after they have.
constexpr absl::Duration kRefreshBefore = absl::Minutes(5);
// After a failed fetch, the chain is not asked again for this long.
constexpr absl::Duration kRetryAfterFailure = absl::Seconds(10);
constexpr char kEcsHost[] = "http://169.254.170.2";
constexpr char kImdsTokenTtlSeconds[] = "21600";

// At most the first 200 bytes of an endpoint's answer, for messages, as
// valid UTF-8: the message may end up in a protobuf string field (a task's
// error), which takes nothing else.
std::string Excerpt(absl::string_view body) {
  body = absl::StripAsciiWhitespace(body);
  if (body.size() <= 200) return ValidUtf8(body);
  return absl::StrCat(ValidUtf8(body.substr(0, 200)), "...");
}

std::string StringField(const google::protobuf::Struct& doc,
                        const std::string& name) {
  auto it = doc.fields().find(name);
  if (it == doc.fields().end()) return "";
  return it->second.string_value();
}

// A GET or PUT to a credentials endpoint; errors name `source`, and any
// status but 200 is one.
absl::StatusOr<std::string> Fetch(absl::string_view source,
                                  const AwsCredentialSources& sources,
                                  std::string method, std::string url,
                                  std::vector<std::string> headers) {
  HttpRequest request;
  request.method = std::move(method);
  request.url = std::move(url);
  request.headers = std::move(headers);
  request.connect_timeout = sources.connect_timeout;
  request.timeout = sources.timeout;
  absl::StatusOr<HttpResponse> response = SendHttpRequest(request);
  if (!response.ok()) {
    return absl::UnavailableError(
        absl::StrCat(source, ": ", response.status().message()));
  }
  if (response->status != 200) {
    return absl::UnavailableError(
        absl::StrCat(source, ": ", request.method, " ", request.url, ": HTTP ",
                     response->status, ": ", Excerpt(response->body)));
  }
  return std::move(response->body);
}

class CredentialsChain : public AwsCredentialsProvider {
 public:
  explicit CredentialsChain(AwsCredentialSources sources)
      : sources_(std::move(sources)) {}
  ~CredentialsChain() override {
    std::thread refresher;
    {
      absl::MutexLock lock(&mu_);
      refresher = std::move(refresher_);
    }
    if (refresher.joinable()) refresher.join();
  }

  absl::StatusOr<AwsCredentials> Get() override {
    absl::MutexLock lock(&mu_);
    const absl::Time now = Now();
    if (cached_.has_value() && now < next_fetch_) return *cached_;
    if (!cached_.has_value() && now < next_fetch_) return last_error_;
    if (cached_.has_value() && now < cached_->expiration) {
      // Still valid: refreshed on a thread of its own, so that a slow or
      // unreachable endpoint (seconds per source, again every 10 s while it
      // fails) holds up no request meanwhile.
      StartRefresh(now);
      return *cached_;
    }
    // None valid: this caller waits for a walk of the chain, which runs
    // on the refresher's thread, not under mu_, so that GetWithoutWaiting
    // (the Lambda dispatcher's) never waits behind it. A walk begun before
    // (while the cached ones were still valid) may have kept them: then one
    // more, begun now.
    for (int walk = 0; walk < 2; ++walk) {
      StartRefresh(now);
      mu_.Await(absl::Condition(
          +[](bool* refreshing) { return !*refreshing; }, &refreshing_));
      if (!cached_.has_value()) return last_error_;
      if (now < cached_->expiration) break;
    }
    return *cached_;
  }

  absl::StatusOr<AwsCredentials> GetWithoutWaiting() override {
    absl::MutexLock lock(&mu_);
    const absl::Time now = Now();
    if (cached_.has_value() && now < next_fetch_) return *cached_;
    if (!cached_.has_value() && now < next_fetch_) return last_error_;
    StartRefresh(now);
    if (cached_.has_value() && now < cached_->expiration) return *cached_;
    return absl::UnavailableError("AWS credentials are being fetched");
  }

 private:
  // A walk of the chain on the refresher's thread, unless one is running.
  void StartRefresh(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (refreshing_) return;
    refreshing_ = true;
    if (refresher_.joinable()) refresher_.join();  // done: it cleared
    refresher_ = std::thread([this, now] {
      absl::StatusOr<AwsCredentials> fresh = FetchFromChain();
      absl::MutexLock lock(&mu_);
      Apply(std::move(fresh), now).IgnoreError();
      refreshing_ = false;
    });
  }

  std::string Env(const char* name) const {
    if (sources_.getenv) return sources_.getenv(name);
    const char* value = std::getenv(name);
    return value == nullptr ? "" : value;
  }

  absl::Time Now() const { return sources_.now ? sources_.now() : absl::Now(); }

  // Takes what a walk of the chain started at `now` found.
  absl::StatusOr<AwsCredentials> Apply(absl::StatusOr<AwsCredentials> fresh,
                                       absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (fresh.ok()) {
      cached_ = *fresh;
      next_fetch_ = fresh->expiration - kRefreshBefore;
      if (next_fetch_ <= now) {
        // Issued with less than the margin left: ask again soon.
        next_fetch_ =
            now + std::min(kRetryAfterFailure, (fresh->expiration - now) / 2);
      }
      return fresh;
    }
    next_fetch_ = now + kRetryAfterFailure;
    if (cached_.has_value() && now < cached_->expiration) {
      next_fetch_ = std::min(next_fetch_, cached_->expiration);
      return *cached_;
    }
    cached_.reset();
    last_error_ = fresh.status();
    return fresh.status();
  }

  absl::StatusOr<AwsCredentials> FetchFromChain() {
    std::vector<std::string> tried;
    for (auto source :
         {&CredentialsChain::FromEnvironment, &CredentialsChain::FromContainer,
          &CredentialsChain::FromImds}) {
      absl::StatusOr<AwsCredentials> credentials = (this->*source)();
      if (credentials.ok()) return credentials;
      tried.emplace_back(credentials.status().message());
    }
    return absl::UnauthenticatedError(absl::StrCat(
        "no AWS credentials found; tried ", absl::StrJoin(tried, "; ")));
  }

  // Each source: credentials, or an error whose message starts with the
  // source's name and says why it has none.
  absl::StatusOr<AwsCredentials> FromEnvironment() const {
    if (!sources_.use_environment) {
      return absl::NotFoundError("environment: not consulted");
    }
    AwsCredentials credentials;
    credentials.access_key_id = Env("AWS_ACCESS_KEY_ID");
    credentials.secret_access_key = Env("AWS_SECRET_ACCESS_KEY");
    credentials.session_token = Env("AWS_SESSION_TOKEN");
    if (credentials.access_key_id.empty() &&
        credentials.secret_access_key.empty()) {
      return absl::NotFoundError(
          "environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not "
          "set");
    }
    if (credentials.access_key_id.empty() ||
        credentials.secret_access_key.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "environment: ",
          credentials.access_key_id.empty() ? "AWS_SECRET_ACCESS_KEY"
                                            : "AWS_ACCESS_KEY_ID",
          " is set but ",
          credentials.access_key_id.empty() ? "AWS_ACCESS_KEY_ID"
                                            : "AWS_SECRET_ACCESS_KEY",
          " is not"));
    }
    return credentials;
  }

  absl::StatusOr<AwsCredentials> FromContainer() const {
    constexpr absl::string_view kSource = "ECS container endpoint";
    std::string url = sources_.container_endpoint;
    if (url.empty()) url = Env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    if (url.empty()) {
      std::string relative = Env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
      if (!relative.empty()) {
        url = absl::StrCat(kEcsHost, absl::StartsWith(relative, "/") ? "" : "/",
                           relative);
      }
    }
    if (url.empty()) {
      return absl::NotFoundError(
          absl::StrCat(kSource,
                       ": neither AWS_CONTAINER_CREDENTIALS_RELATIVE_URI nor "
                       "AWS_CONTAINER_CREDENTIALS_FULL_URI is set"));
    }
    absl::StatusOr<std::string> token = AuthorizationToken();
    if (!token.ok()) return token.status();
    std::vector<std::string> headers = {"Accept: application/json"};
    if (!token->empty()) headers.push_back("Authorization: " + *token);
    std::string source = absl::StrCat(kSource, " ", url);
    absl::StatusOr<std::string> body =
        Fetch(source, sources_, "GET", url, std::move(headers));
    if (!body.ok()) return body.status();
    return ParseCredentialsJson(source, *body);
  }

  absl::StatusOr<std::string> AuthorizationToken() const {
    std::string token = Env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    if (!token.empty()) return token;
    std::string file = Env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    if (file.empty()) return "";
    std::ifstream in(file);
    std::stringstream contents;
    contents << in.rdbuf();
    if (!in) {
      return absl::FailedPreconditionError(
          absl::StrCat("ECS container endpoint: cannot read "
                       "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE ",
                       file));
    }
    return std::string(absl::StripAsciiWhitespace(contents.str()));
  }

  absl::StatusOr<AwsCredentials> FromImds() const {
    std::string endpoint = Env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    if (endpoint.empty()) endpoint = sources_.imds_endpoint;
    while (absl::EndsWith(endpoint, "/")) endpoint.pop_back();
    const std::string source = absl::StrCat("EC2 instance metadata ", endpoint);
    if (!sources_.use_imds) {
      return absl::NotFoundError("EC2 instance metadata: not consulted");
    }
    if (absl::EqualsIgnoreCase(Env("AWS_EC2_METADATA_DISABLED"), "true")) {
      return absl::NotFoundError(
          "EC2 instance metadata: AWS_EC2_METADATA_DISABLED is true");
    }
    absl::StatusOr<std::string> token =
        Fetch(source, sources_, "PUT", endpoint + "/latest/api/token",
              {absl::StrCat("X-aws-ec2-metadata-token-ttl-seconds: ",
                            kImdsTokenTtlSeconds)});
    if (!token.ok()) return token.status();
    const std::string token_header =
        "X-aws-ec2-metadata-token: " +
        std::string(absl::StripAsciiWhitespace(*token));
    const std::string roles_url =
        endpoint + "/latest/meta-data/iam/security-credentials/";
    absl::StatusOr<std::string> roles =
        Fetch(source, sources_, "GET", roles_url, {token_header});
    if (!roles.ok()) return roles.status();
    // One role per instance profile; the first line names it.
    std::string role(absl::StripAsciiWhitespace(
        absl::string_view(*roles).substr(0, roles->find('\n'))));
    if (role.empty()) {
      return absl::NotFoundError(
          absl::StrCat(source, ": no IAM role attached to this instance"));
    }
    absl::StatusOr<std::string> body =
        Fetch(source, sources_, "GET", roles_url + role, {token_header});
    if (!body.ok()) return body.status();
    return ParseCredentialsJson(absl::StrCat(source, " role ", role), *body);
  }

  const AwsCredentialSources sources_;

  // Held across a fetch when there are no valid credentials: one caller
  // fetches, others wait.
  absl::Mutex mu_;
  bool refreshing_ ABSL_GUARDED_BY(mu_) = false;  // refresher_ is walking
  std::thread refresher_ ABSL_GUARDED_BY(mu_);
  std::optional<AwsCredentials> cached_ ABSL_GUARDED_BY(mu_);
  // The chain is not walked again before this (cached_ fresh enough, or a
  // failure kRetryAfterFailure ago).
  absl::Time next_fetch_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Status last_error_ ABSL_GUARDED_BY(mu_);  // when !cached_
};

class StaticCredentialsProvider : public AwsCredentialsProvider {
 public:
  explicit StaticCredentialsProvider(AwsCredentials credentials)
      : credentials_(std::move(credentials)) {}
  absl::StatusOr<AwsCredentials> Get() override { return credentials_; }

 private:
  const AwsCredentials credentials_;
};

}  // namespace

absl::StatusOr<AwsCredentials> ParseCredentialsJson(absl::string_view source,
                                                    absl::string_view body) {
  google::protobuf::Struct doc;
  auto parsed = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(body.data(), body.size()), &doc);
  if (!parsed.ok()) {
    // An object broken anywhere (cut short, a comma missing) may still
    // hold the key and its secret, and the message ends up in task errors
    // and logs: neither it nor the parser's message (which quotes it) is
    // shown. Anything else (a proxy's page) is, for whoever debugs it.
    const bool object =
        absl::StartsWith(absl::StripLeadingAsciiWhitespace(body), "{");
    return absl::UnavailableError(ValidUtf8(absl::StrCat(
        source, ": answer is not a JSON object",
        object ? absl::StrCat(" (", body.size(), " bytes, not shown)")
               : absl::StrCat(" (", parsed.ToString(), "): ", Excerpt(body)))));
  }
  std::string code = StringField(doc, "Code");
  if (!code.empty() && code != "Success") {
    // Protobuf's JSON parser lets any bytes through in strings.
    return absl::UnavailableError(ValidUtf8(absl::StrCat(
        source, ": Code ", code, ": ", StringField(doc, "Message"))));
  }
  AwsCredentials credentials;
  credentials.access_key_id = StringField(doc, "AccessKeyId");
  credentials.secret_access_key = StringField(doc, "SecretAccessKey");
  credentials.session_token = StringField(doc, "Token");
  if (credentials.access_key_id.empty() ||
      credentials.secret_access_key.empty()) {
    return absl::UnavailableError(
        absl::StrCat(source, ": answer lacks AccessKeyId or SecretAccessKey"));
  }
  std::string expiration = StringField(doc, "Expiration");
  if (!expiration.empty()) {
    std::string error;
    if (!absl::ParseTime(absl::RFC3339_full, expiration,
                         &credentials.expiration, &error)) {
      return absl::UnavailableError(ValidUtf8(absl::StrCat(
          source, ": bad Expiration \"", expiration, "\": ", error)));
    }
  }
  return credentials;
}

std::unique_ptr<AwsCredentialsProvider> MakeDefaultCredentialsChain(
    AwsCredentialSources sources) {
  return std::make_unique<CredentialsChain>(std::move(sources));
}

std::unique_ptr<AwsCredentialsProvider> MakeStaticCredentialsProvider(
    AwsCredentials credentials) {
  return std::make_unique<StaticCredentialsProvider>(std::move(credentials));
}

}  // namespace dagd
