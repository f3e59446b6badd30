#include "server/auth/principal.h"

#include "absl/strings/ascii.h"

namespace dagd {

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kRead:
      return "read";
    case Role::kSubmit:
      return "submit";
    case Role::kAdmin:
      return "admin";
  }
  return "?";
}

std::optional<Role> ParseRole(absl::string_view name) {
  for (Role role : {Role::kRead, Role::kSubmit, Role::kAdmin}) {
    if (name == RoleName(role)) return role;
  }
  return std::nullopt;
}

Principal OpenAccess() {
  Principal p;
  p.name = "anyone (no --tokens_file)";
  p.role = Role::kAdmin;
  return p;
}

bool IsTenantName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' &&
        c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

}  // namespace dagd
