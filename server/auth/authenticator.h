// Tells who a JobService caller is, from the bearer token it sends.
//
// Without a tokens file every caller is OpenAccess() (dagd as it was before
// identities: anyone who reaches the port is an admin). With one, a caller
// without a listed token is refused with UNAUTHENTICATED.
//
// Thread rules: thread-safe. Authenticate is called from gRPC threads;
// Reload from the thread that handles SIGHUP. A reload swaps the whole
// table, so a call sees the old one or the new one, never a mix.
#ifndef DAGD_SERVER_AUTH_AUTHENTICATOR_H_
#define DAGD_SERVER_AUTH_AUTHENTICATOR_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "server/auth/token_table.h"

namespace dagd {

class Authenticator {
 public:
  // Open access: no tokens file.
  Authenticator() = default;

  // Reads `path` (--tokens_file). INVALID_ARGUMENT for a file that does not
  // parse, NOT_FOUND / PERMISSION_DENIED for one that cannot be read.
  static absl::StatusOr<std::unique_ptr<Authenticator>> FromFile(
      std::string path);

  // Reads the tokens file again. On an error the table in use stays, and
  // the error says why the new one was refused. A no-op for open access.
  absl::Status Reload();

  // Who sent `authorization` (the value of the "authorization" header;
  // nullopt when there was none), or, without one, who presented the
  // verified client certificate of common name `certificate`.
  // UNAUTHENTICATED, without telling which tokens exist, for a missing,
  // malformed or unknown token or certificate.
  absl::StatusOr<Principal> Authenticate(
      std::optional<absl::string_view> authorization,
      std::optional<absl::string_view> certificate = std::nullopt) const;

  // Whether a `cert:` line names common name `cn`: a client's certificate,
  // which may not register as a worker (it would run, and see, other
  // tenants' tasks, and be told how to read what workers hold).
  bool IsClientCertificate(absl::string_view cn) const;

  bool open() const { return path_.empty(); }
  // Tokens in the table now.
  size_t size() const;
  // How many times the file was read in (each successful Reload adds one):
  // a long call checks its caller again when this changes.
  uint64_t generation() const {
    return generation_.load(std::memory_order_acquire);
  }

 private:
  explicit Authenticator(std::string path) : path_(std::move(path)) {}

  const std::string path_;  // empty: open access
  mutable absl::Mutex mu_;
  std::shared_ptr<const TokenTable> table_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> generation_{0};
};

}  // namespace dagd

#endif  // DAGD_SERVER_AUTH_AUTHENTICATOR_H_
