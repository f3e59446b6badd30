#include "server/auth/token_table.h"

#include <openssl/evp.h>

#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "server/auth/read_file.h"

namespace dagd {
namespace {

bool IsSha256Hex(absl::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

std::string TokenHash(absl::string_view token) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  // EVP_Digest cannot fail for SHA-256 short of memory exhaustion.
  EVP_Digest(token.data(), token.size(), digest, &length, EVP_sha256(),
             nullptr);
  return absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(digest), static_cast<size_t>(length)));
}

absl::StatusOr<TokenTable> TokenTable::Parse(absl::string_view text,
                                             absl::string_view source) {
  TokenTable table;
  absl::Status parsed = ForEachLine(text, source, [&](const FileLine& line) {
    const std::vector<absl::string_view>& fields = line.fields;
    if (fields.size() < 3 || fields.size() > 4) {
      return line.Error(
          absl::StrCat("expected SHA256-HEX-OF-TOKEN TENANT ROLE [NAME], got ",
                       fields.size(), " field(s)"));
    }
    absl::string_view cn = fields[0];
    const bool certificate = absl::ConsumePrefix(&cn, "cert:");
    if (certificate && cn.empty()) {
      return line.Error(
          "cert: must be followed by the certificate's common name");
    }
    if (!certificate && !IsSha256Hex(fields[0])) {
      return line.Error(
          "the first field must be the token's SHA-256 as 64 hex digits "
          "(echo -n TOKEN | sha256sum), not the token itself");
    }
    if (!IsTenantName(fields[1])) {
      return line.Error(absl::StrCat("tenant '", absl::CHexEscape(fields[1]),
                                     "' must be 1-64 of A-Z a-z 0-9 . _ -"));
    }
    std::optional<Role> role = ParseRole(fields[2]);
    if (!role) {
      return line.Error(absl::StrCat("role '", absl::CHexEscape(fields[2]),
                                     "' must be read, submit or admin"));
    }
    Principal principal;
    principal.tenant = std::string(fields[1]);
    principal.role = *role;
    if (certificate) {
      principal.name = fields.size() == 4
                           ? absl::StrCat("certificate ", fields[3])
                           : absl::StrCat("certificate CN=", cn);
      if (!table.by_cert_.emplace(cn, std::move(principal)).second) {
        return line.Error("this common name is listed on an earlier line too");
      }
      return absl::OkStatus();
    }
    const std::string hash = absl::AsciiStrToLower(fields[0]);
    principal.name = fields.size() == 4
                         ? absl::StrCat("token ", fields[3])
                         : absl::StrCat("token sha256:", hash.substr(0, 12));
    if (!table.by_hash_.emplace(hash, std::move(principal)).second) {
      return line.Error("this token's hash is listed on an earlier line too");
    }
    return absl::OkStatus();
  });
  if (!parsed.ok()) return parsed;
  return table;
}

std::optional<Principal> TokenTable::Find(absl::string_view token) const {
  auto it = by_hash_.find(TokenHash(token));
  if (it == by_hash_.end()) return std::nullopt;
  return it->second;
}

std::optional<Principal> TokenTable::FindCertificate(
    absl::string_view cn) const {
  auto it = by_cert_.find(cn);
  if (it == by_cert_.end()) return std::nullopt;
  return it->second;
}

}  // namespace dagd
