#include "server/auth/authenticator.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "server/auth/read_file.h"

namespace dagd {
namespace {

absl::Status Unauthenticated(absl::string_view why) {
  return absl::UnauthenticatedError(absl::StrCat(
      why,
      ": dagd requires a token (dagctl --token or $DAGD_TOKEN; the "
      "\"authorization: Bearer TOKEN\" header over gRPC)"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Authenticator>> Authenticator::FromFile(
    std::string path) {
  std::unique_ptr<Authenticator> auth(new Authenticator(std::move(path)));
  if (absl::Status s = auth->Reload(); !s.ok()) return s;
  return auth;
}

absl::Status Authenticator::Reload() {
  if (open()) return absl::OkStatus();
  absl::StatusOr<std::string> text = ReadFlagFile("tokens_file", path_);
  if (!text.ok()) return text.status();
  // Taking every token away would lock everyone out until the next SIGHUP.
  if (size() > 0) {
    if (absl::Status s = RefuseEmptyReread("tokens_file", path_, *text);
        !s.ok()) {
      return s;
    }
  }
  absl::StatusOr<TokenTable> table =
      TokenTable::Parse(*text, absl::StrCat("--tokens_file '", path_, "'"));
  if (!table.ok()) return table.status();
  auto shared = std::make_shared<const TokenTable>(*std::move(table));
  {
    absl::MutexLock lock(&mu_);
    table_ = std::move(shared);
  }
  generation_.fetch_add(1, std::memory_order_release);
  return absl::OkStatus();
}

size_t Authenticator::size() const {
  absl::MutexLock lock(&mu_);
  return table_ == nullptr ? 0 : table_->size();
}

bool Authenticator::IsClientCertificate(absl::string_view cn) const {
  if (open()) return false;
  absl::MutexLock lock(&mu_);
  return table_->FindCertificate(cn).has_value();
}

absl::StatusOr<Principal> Authenticator::Authenticate(
    std::optional<absl::string_view> authorization,
    std::optional<absl::string_view> certificate) const {
  if (open()) return OpenAccess();
  std::shared_ptr<const TokenTable> table;
  {
    absl::MutexLock lock(&mu_);
    table = table_;
  }
  if (!authorization && certificate) {
    std::optional<Principal> principal = table->FindCertificate(*certificate);
    if (!principal) return Unauthenticated("unknown client certificate");
    return *std::move(principal);
  }
  if (!authorization) return Unauthenticated("no token");
  absl::string_view value = *authorization;
  if (!absl::ConsumePrefix(&value, "Bearer ") &&
      !absl::ConsumePrefix(&value, "bearer ")) {
    return Unauthenticated("the authorization header is not \"Bearer TOKEN\"");
  }
  value = absl::StripAsciiWhitespace(value);
  std::optional<Principal> principal = table->Find(value);
  if (!principal) return Unauthenticated("unknown token");
  return *std::move(principal);
}

}  // namespace dagd
