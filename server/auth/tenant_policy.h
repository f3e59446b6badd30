// What each tenant may run and how much of dagd it may take
// (--policy_file).
//
// One line per tenant, `*` for every tenant without a line of its own:
//   TENANT [KEY=VALUE ...]
// Keys (every one optional; README "Security" has the table):
//   weight=N             share among tenants (1-10000, default 1): with
//                        work waiting, tenants hold slots in proportion
//   functions=A,B|*      functions its tasks may call; `*` is any except
//                        exec and python, which run code of the
//                        submitter's choosing and must be listed
//   pools=A,B|*          pools its tasks may name (executor "pool:NAME");
//                        with a list, every task must name one
//   lambda=A,B|*|none    Lambda functions (executor "lambda:NAME"; plain
//                        "lambda" is dagd's --lambda_function)
//   max_priority=N       highest job priority
//   max_jobs=N           unfinished jobs at once
//   max_tasks=N          tasks of its unfinished jobs, together
//   max_spec_bytes=SIZE  job specs of its unfinished jobs, together (B,
//                        KiB, MiB, GiB suffixes)
//   max_running_slots=N  slots its running tasks hold at once
// `#` starts a comment. Without a policy file every tenant may do
// everything (dagd as it was before tenants); with one, a tenant without a
// line and no `*` line gets the defaults above.
//
// Thread rules: immutable once parsed; share it freely.
#ifndef DAGD_SERVER_AUTH_TENANT_POLICY_H_
#define DAGD_SERVER_AUTH_TENANT_POLICY_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/job_compiler.h"
#include "server/tenant.h"

namespace dagd {

// A list of names, or every name (`*`).
struct NameList {
  bool any = true;
  absl::flat_hash_set<std::string> names;
  bool Allows(absl::string_view name) const {
    return any || names.contains(name);
  }
};

struct TenantPolicy {
  TenantShare share;  // weight and max_running_slots
  NameList functions;
  // exec and python allowed without being listed in `functions`: only
  // without a policy file. A policy file's `*` allows every function but
  // those two, which run code of the submitter's choosing.
  bool any_code = true;
  NameList pools;
  NameList lambda;
  std::optional<int32_t> max_priority;
  // 0: no limit.
  uint64_t max_jobs = 0;
  uint64_t max_tasks = 0;
  uint64_t max_spec_bytes = 0;

  // The defaults of a tenant named in no line of a policy file.
  static TenantPolicy Restricted();
};

class TenantPolicies {
 public:
  // Every tenant may do everything: no policy file.
  TenantPolicies() = default;

  // INVALID_ARGUMENT naming `source`, the line and the key for a line that
  // does not parse, and for a tenant listed twice.
  static absl::StatusOr<TenantPolicies> Parse(absl::string_view text,
                                              absl::string_view source);
  // Reads and parses --policy_file `path`.
  static absl::StatusOr<TenantPolicies> Read(const std::string& path);
  // Read, on SIGHUP: an empty file is refused (RefuseEmptyReread), not
  // taken to lift every tenant's restrictions.
  static absl::StatusOr<TenantPolicies> Reread(const std::string& path);

  const TenantPolicy& For(absl::string_view tenant) const;
  // The tenants with lines of their own, and the policy of the others.
  const absl::flat_hash_map<std::string, TenantPolicy>& named() const {
    return named_;
  }
  const TenantPolicy& others() const { return others_; }

 private:
  static absl::StatusOr<TenantPolicies> ReadFile(const std::string& path,
                                                 bool reread);
  absl::flat_hash_map<std::string, TenantPolicy> named_;
  TenantPolicy others_;  // `*`, or Restricted() when a file has none
};

// PERMISSION_DENIED naming the task and what `tenant`'s policy refuses:
// a function, a pool, a Lambda function (`lambda_function` is what plain
// "lambda" invokes), or the job's priority.
absl::Status CheckJobAllowed(const TenantPolicy& policy,
                             absl::string_view tenant, const CompiledJob& job,
                             absl::string_view lambda_function);

// RESOURCE_EXHAUSTED naming the quota `job` would pass if `tenant`, whose
// unfinished jobs hold `load`, submitted it.
absl::Status CheckQuota(const TenantPolicy& policy, absl::string_view tenant,
                        const TenantLoad& load, const CompiledJob& job);

}  // namespace dagd

#endif  // DAGD_SERVER_AUTH_TENANT_POLICY_H_
