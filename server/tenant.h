// What the scheduler core knows of tenants (a job's owner, JobStatus.tenant):
// their share of the workers and what their unfinished jobs hold. Who a
// tenant is and what it may run is decided outside the core
// (server/auth/tenant_policy.h).
#ifndef DAGD_SERVER_TENANT_H_
#define DAGD_SERVER_TENANT_H_

#include <cstdint>

namespace dagd {

// A tenant's place among tenants, and where its tasks may go.
struct TenantShare {
  // With work waiting, tenants hold slots in proportion to their weights.
  uint32_t weight = 1;
  // The most slots its running tasks hold at once; 0: no limit. A tenant
  // below it may start a task that takes it past by that task's slots.
  uint64_t max_running_slots = 0;
  // Its tasks for any worker may burst to Lambda (--lambda_burst): false
  // when its policy does not allow --lambda_function.
  bool lambda_burst = true;
};

// What a tenant's unfinished jobs hold (Scheduler::LoadOf).
struct TenantLoad {
  uint64_t jobs = 0;
  uint64_t tasks = 0;
  uint64_t spec_bytes = 0;
};

}  // namespace dagd

#endif  // DAGD_SERVER_TENANT_H_
