// Who is calling dagd, and what they may do.
#ifndef DAGD_SERVER_AUTH_PRINCIPAL_H_
#define DAGD_SERVER_AUTH_PRINCIPAL_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace dagd {

// Each role may do what the ones before it may.
enum class Role {
  kRead = 1,    // read jobs, tasks, results and workers
  kSubmit = 2,  // also submit, cancel and delete jobs
  kAdmin = 3,   // also see and act on every tenant's jobs
};

absl::string_view RoleName(Role role);
// "read", "submit" or "admin"; nullopt for anything else.
std::optional<Role> ParseRole(absl::string_view name);

struct Principal {
  // For the audit log: "token NAME" or "token sha256:PREFIX".
  std::string name;
  // Whose jobs these are. Empty only for dagd without identities.
  std::string tenant;
  Role role = Role::kRead;

  bool May(Role needed) const { return role >= needed; }
  // Whether a job of `job_tenant` exists as far as this caller can tell.
  bool Sees(absl::string_view job_tenant) const {
    return role == Role::kAdmin || job_tenant == tenant;
  }
};

// Everyone, when dagd runs without --tokens_file: an admin of tenant "",
// which is what every job belongs to then.
Principal OpenAccess();

// A tenant name is 1-64 of [A-Za-z0-9._-]: it appears in logs, metrics
// and storage keys as it is.
bool IsTenantName(absl::string_view name);

}  // namespace dagd

#endif  // DAGD_SERVER_AUTH_PRINCIPAL_H_
