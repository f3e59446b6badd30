#include "server/auth/tenant_policy.h"

#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "server/auth/principal.h"
#include "server/auth/read_file.h"
#include "storage/base/byte_size.h"

namespace dagd {
namespace {

constexpr uint32_t kMaxWeight = 10000;

// The functions that run code the submitter chose (a command line, a
// pickled callable): `functions=*` does not grant them.
bool RunsCode(absl::string_view fn) { return fn == "exec" || fn == "python"; }

NameList ParseNames(absl::string_view value) {
  NameList list;
  list.any = false;
  for (absl::string_view name : absl::StrSplit(value, ',', absl::SkipEmpty())) {
    if (name == "*") {
      list.any = true;
    } else {
      list.names.emplace(name);
    }
  }
  return list;
}

// Applies KEY=VALUE to `policy`; the error names what is wrong with it.
absl::Status ApplyKey(absl::string_view key, absl::string_view value,
                      TenantPolicy& policy) {
  auto bad = [&](absl::string_view expected) {
    return absl::InvalidArgumentError(absl::StrCat(
        key, "=", absl::CHexEscape(value), ": expected ", expected));
  };
  auto count = [&](uint64_t* out) -> absl::Status {
    if (!absl::SimpleAtoi(value, out)) return bad("a whole number");
    return absl::OkStatus();
  };
  if (key == "weight") {
    uint32_t weight = 0;
    if (!absl::SimpleAtoi(value, &weight) || weight < 1 ||
        weight > kMaxWeight) {
      return bad(absl::StrCat("a whole number from 1 to ", kMaxWeight));
    }
    policy.share.weight = weight;
  } else if (key == "functions") {
    policy.functions = ParseNames(value);
    policy.any_code = false;
  } else if (key == "pools") {
    policy.pools = ParseNames(value);
  } else if (key == "lambda") {
    policy.lambda = value == "none" ? NameList{false, {}} : ParseNames(value);
  } else if (key == "max_priority") {
    int32_t priority = 0;
    if (!absl::SimpleAtoi(value, &priority)) return bad("a whole number");
    policy.max_priority = priority;
  } else if (key == "max_jobs") {
    return count(&policy.max_jobs);
  } else if (key == "max_tasks") {
    return count(&policy.max_tasks);
  } else if (key == "max_running_slots") {
    return count(&policy.share.max_running_slots);
  } else if (key == "max_spec_bytes") {
    absl::StatusOr<uint64_t> bytes = ParseByteSize(value);
    if (!bytes.ok()) return bad("a size such as 64M or 1G");
    policy.max_spec_bytes = *bytes;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown key '", absl::CHexEscape(key),
        "' (expected weight, functions, pools, lambda, max_priority, "
        "max_jobs, max_tasks, max_spec_bytes or max_running_slots)"));
  }
  return absl::OkStatus();
}

}  // namespace

TenantPolicy TenantPolicy::Restricted() {
  TenantPolicy policy;
  policy.any_code = false;
  return policy;
}

absl::StatusOr<TenantPolicies> TenantPolicies::Parse(absl::string_view text,
                                                     absl::string_view source) {
  TenantPolicies policies;
  std::optional<TenantPolicy> others;
  absl::Status parsed = ForEachLine(text, source, [&](const FileLine& line) {
    const absl::string_view tenant = line.fields[0];
    if (tenant != "*" && !IsTenantName(tenant)) {
      return line.Error(
          absl::StrCat("tenant '", absl::CHexEscape(tenant),
                       "' must be * or 1-64 of A-Z a-z 0-9 . _ -"));
    }
    if (tenant == "*" ? others.has_value() : policies.named_.contains(tenant)) {
      return line.Error(
          absl::StrCat("tenant '", tenant, "' has a line above already"));
    }
    TenantPolicy policy = TenantPolicy::Restricted();
    for (size_t i = 1; i < line.fields.size(); ++i) {
      std::pair<absl::string_view, absl::string_view> kv =
          absl::StrSplit(line.fields[i], absl::MaxSplits('=', 1));
      if (absl::Status s = ApplyKey(kv.first, kv.second, policy); !s.ok()) {
        return line.Error(absl::StrCat("tenant '", tenant, "': ", s.message()));
      }
    }
    if (tenant == "*") {
      others = std::move(policy);
    } else {
      policies.named_.emplace(tenant, std::move(policy));
    }
    return absl::OkStatus();
  });
  if (!parsed.ok()) return parsed;
  policies.others_ = others ? *std::move(others) : TenantPolicy::Restricted();
  return policies;
}

absl::StatusOr<TenantPolicies> TenantPolicies::Read(const std::string& path) {
  return ReadFile(path, /*reread=*/false);
}

absl::StatusOr<TenantPolicies> TenantPolicies::Reread(const std::string& path) {
  return ReadFile(path, /*reread=*/true);
}

absl::StatusOr<TenantPolicies> TenantPolicies::ReadFile(const std::string& path,
                                                        bool reread) {
  absl::StatusOr<std::string> text = ReadFlagFile("policy_file", path);
  if (!text.ok()) return text.status();
  if (reread) {
    if (absl::Status s = RefuseEmptyReread("policy_file", path, *text);
        !s.ok()) {
      return s;
    }
  }
  return Parse(*text, absl::StrCat("--policy_file '", path, "'"));
}

const TenantPolicy& TenantPolicies::For(absl::string_view tenant) const {
  auto it = named_.find(tenant);
  return it == named_.end() ? others_ : it->second;
}

absl::Status CheckJobAllowed(const TenantPolicy& policy,
                             absl::string_view tenant, const CompiledJob& job,
                             absl::string_view lambda_function) {
  auto refuse = [&](absl::string_view what) {
    return absl::PermissionDeniedError(
        absl::StrCat(what, ", which tenant '", tenant,
                     "' may not (its line in --policy_file)"));
  };
  const v1::JobSpec& spec = *job.header;
  if (policy.max_priority && spec.priority() > *policy.max_priority) {
    return refuse(absl::StrCat("the job has priority ", spec.priority(),
                               ", above ", *policy.max_priority));
  }
  // Executors are few (distinct ones are listed once); check those first.
  for (const Executor& executor : job.executors) {
    if (executor.kind == Executor::Kind::kPool &&
        !policy.pools.Allows(executor.name)) {
      return refuse(absl::StrCat("a task names pool '", executor.name, "'"));
    }
    if (executor.kind == Executor::Kind::kLambda) {
      const std::string& fn =
          executor.name.empty() ? std::string(lambda_function) : executor.name;
      if (!policy.lambda.Allows(fn)) {
        return refuse(absl::StrCat("a task names Lambda function '", fn, "'"));
      }
    }
  }
  const bool any_function = policy.functions.any && policy.any_code;
  const bool any_worker_allowed = policy.pools.any;
  if (any_function && any_worker_allowed) return absl::OkStatus();
  for (uint32_t i = 0; i < job.size(); ++i) {
    const absl::string_view fn = job.kind(i).fn;
    const bool allowed =
        RunsCode(fn) ? policy.any_code || policy.functions.names.contains(fn)
                     : policy.functions.Allows(fn);
    if (!allowed) {
      return refuse(absl::StrCat("task '", job.tasks->id(i),
                                 "' calls function '", fn, "'"));
    }
    if (!any_worker_allowed &&
        job.executor(i).kind == Executor::Kind::kAnyWorker) {
      return absl::PermissionDeniedError(absl::StrCat(
          "task '", job.tasks->id(i),
          "' has no executor, so it may run in any pool; tenant '", tenant,
          "' may use only pools ", absl::StrJoin(policy.pools.names, ", "),
          " (its line in --policy_file): give the task executor "
          "\"pool:NAME\""));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckQuota(const TenantPolicy& policy, absl::string_view tenant,
                        const TenantLoad& load, const CompiledJob& job) {
  auto over = [&](absl::string_view what, uint64_t has, uint64_t adds,
                  uint64_t quota, absl::string_view key) -> absl::Status {
    if (quota == 0 || has + adds <= quota) return absl::OkStatus();
    return absl::ResourceExhaustedError(absl::StrCat(
        "the unfinished jobs of tenant '", tenant, "' count ", has, " ", what,
        "; this job would add ", adds, ", over its quota of ", quota, " (", key,
        " in --policy_file): wait for a job to finish, or cancel one"));
  };
  absl::Status s = over("jobs", load.jobs, 1, policy.max_jobs, "max_jobs");
  if (s.ok()) {
    s = over("tasks", load.tasks, job.size(), policy.max_tasks, "max_tasks");
  }
  if (s.ok()) {
    s = over("bytes of job specs", load.spec_bytes, job.spec_bytes,
             policy.max_spec_bytes, "max_spec_bytes");
  }
  return s;
}

}  // namespace dagd
