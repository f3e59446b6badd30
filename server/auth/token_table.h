// The bearer tokens dagd accepts (--tokens_file), and whose they are.
//
// One line per token:
//   SHA256-HEX-OF-TOKEN TENANT ROLE [NAME]
// or per client certificate (one dagd's --worker_ca signed, presented over
// TLS instead of a token):
//   cert:COMMON-NAME TENANT ROLE [NAME]
// where ROLE is read, submit or admin (principal.h) and NAME, if given,
// names the token in the audit log. `#` starts a comment; blank lines are
// skipped. The file holds hashes only, so reading it does not reveal a
// token; a caller sends the token itself ("authorization: Bearer TOKEN").
//
// Thread rules: immutable once parsed; share it freely.
#ifndef DAGD_SERVER_AUTH_TOKEN_TABLE_H_
#define DAGD_SERVER_AUTH_TOKEN_TABLE_H_

#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/auth/principal.h"

namespace dagd {

class TokenTable {
 public:
  // INVALID_ARGUMENT naming `source`, the line and the field for a line
  // that does not parse, and for a hash listed twice.
  static absl::StatusOr<TokenTable> Parse(absl::string_view text,
                                          absl::string_view source);

  // Whose `token` is; nullopt for a token the table does not list.
  std::optional<Principal> Find(absl::string_view token) const;
  // Whose the client certificate of common name `cn` is; nullopt for one
  // the table does not list.
  std::optional<Principal> FindCertificate(absl::string_view cn) const;

  size_t size() const { return by_hash_.size() + by_cert_.size(); }

 private:
  absl::flat_hash_map<std::string, Principal> by_hash_;  // lower-case hex
  absl::flat_hash_map<std::string, Principal> by_cert_;  // common name
};

// The lower-case hex SHA-256 of `data`, as the tokens file lists it.
std::string TokenHash(absl::string_view token);

}  // namespace dagd

#endif  // DAGD_SERVER_AUTH_TOKEN_TABLE_H_
