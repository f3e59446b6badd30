#include "server/auth/standing_caller.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace dagd {

StandingCaller::StandingCaller(const Authenticator* authenticator,
                               uint64_t generation, Principal principal,
                               std::optional<std::string> authorization,
                               std::optional<std::string> certificate)
    : authenticator_(authenticator),
      principal_(std::move(principal)),
      authorization_(std::move(authorization)),
      certificate_(std::move(certificate)),
      generation_(generation) {}

absl::Status StandingCaller::Check() {
  if (authenticator_ == nullptr || !revoked_.ok()) return revoked_;
  const uint64_t now = authenticator_->generation();
  if (now == generation_) return absl::OkStatus();
  generation_ = now;
  absl::StatusOr<Principal> again =
      authenticator_->Authenticate(authorization_, certificate_);
  if (again.ok() && again->name == principal_.name &&
      again->tenant == principal_.tenant && again->role == principal_.role) {
    return absl::OkStatus();
  }
  revoked_ = absl::UnauthenticatedError(absl::StrCat(
      principal_.name, " is no longer in dagd's --tokens_file as tenant '",
      principal_.tenant, "' with role ", RoleName(principal_.role),
      "; dagd ended the stream"));
  return revoked_;
}

}  // namespace dagd
