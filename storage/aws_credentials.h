// AWS credentials for SigV4-signed requests (S3, Lambda), found the way
// AWS SDKs find them: the environment, then the ECS container credentials
// endpoint, then EC2 instance metadata (IMDSv2). Temporary credentials are
// refreshed before they expire.
#ifndef DAGD_STORAGE_AWS_CREDENTIALS_H_
#define DAGD_STORAGE_AWS_CREDENTIALS_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace dagd {

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty for long-term keys
  absl::Time expiration = absl::InfiniteFuture();
};

// Thread-safe. Callers hold one provider for the process and call Get()
// before each request: it is cheap while the cached credentials are fresh.
class AwsCredentialsProvider {
 public:
  virtual ~AwsCredentialsProvider() = default;
  // Cached credentials, fetched again when they are within 5 minutes of
  // expiring. UNAUTHENTICATED naming every source tried when none has any.
  // While a refresh fails, credentials that have not expired yet are
  // still returned (and the refresh is tried again at most every 10 s).
  virtual absl::StatusOr<AwsCredentials> Get() = 0;
  // As Get, but never waits for an endpoint: with nothing valid cached it
  // starts the fetch on a thread of its own (one at a time) and answers
  // UNAVAILABLE at once; asked again later, it has the fetch's outcome.
  // For a thread with other work to do meanwhile (the Lambda dispatcher's).
  virtual absl::StatusOr<AwsCredentials> GetWithoutWaiting() { return Get(); }
};

// Where the chain looks. Defaults are AWS's; tests point them at 127.0.0.1.
struct AwsCredentialSources {
  // Environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN.
  bool use_environment = true;
  // ECS (and EKS Pod Identity): AWS_CONTAINER_CREDENTIALS_FULL_URI or
  // "http://169.254.170.2" + AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, asked
  // with the Authorization header AWS_CONTAINER_AUTHORIZATION_TOKEN (or the
  // contents of AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE) when set. A
  // non-empty container_endpoint is the full URL to ask instead.
  std::string container_endpoint;
  // IMDSv2; AWS_EC2_METADATA_SERVICE_ENDPOINT overrides it, and
  // AWS_EC2_METADATA_DISABLED=true turns it off.
  std::string imds_endpoint = "http://169.254.169.254";
  bool use_imds = true;
  // The endpoints get a 1 s connect timeout and 5 s overall, so a machine
  // off AWS gets its error in about a second.
  absl::Duration connect_timeout = absl::Seconds(1);
  absl::Duration timeout = absl::Seconds(5);

  // What the outside world supplies; tests replace them. Empty: the
  // process environment (an unset variable reads as "") and absl::Now.
  std::function<std::string(const char* name)> getenv;
  std::function<absl::Time()> now;
};

// The chain: the first source with credentials wins, and is asked again
// when they near expiry (the whole chain is walked again then).
std::unique_ptr<AwsCredentialsProvider> MakeDefaultCredentialsChain(
    AwsCredentialSources sources = {});

// The JSON the ECS endpoint and IMDS answer with: AccessKeyId,
// SecretAccessKey, Token, Expiration (RFC 3339), and from IMDS a Code that
// is "Success" when all is well. UNAVAILABLE, naming `source`, for an
// answer that is not such a document or lacks the key pair; messages are
// valid UTF-8 whatever the answer holds.
absl::StatusOr<AwsCredentials> ParseCredentialsJson(absl::string_view source,
                                                    absl::string_view body);

// Always returns `credentials` (tests, or keys from a flag).
std::unique_ptr<AwsCredentialsProvider> MakeStaticCredentialsProvider(
    AwsCredentials credentials);

}  // namespace dagd

#endif  // DAGD_STORAGE_AWS_CREDENTIALS_H_
