// The resource ledger: what every attempt holds while it runs, in one
// place. A worker's slots and named amounts, a job's count of running tasks
// (max_parallelism, fair share) and exclusive groups are taken and given
// back only through Acquire and the Release calls below; assignment, the
// end of an attempt, a cancel, a grant passing its slots on and the
// takeover of a running attempt all use them.
//
// A cancelled attempt is given back in two halves: its job's count at
// once (the job may run other tasks), its worker's slots, amounts and
// exclusive group only when the worker reports that the attempt ended (the
// function may still be running there).
//
// Thread rules: not thread-safe; owned by the scheduler's thread.
#ifndef DAGD_SERVER_RESOURCE_LEDGER_H_
#define DAGD_SERVER_RESOURCE_LEDGER_H_

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/types/span.h"

namespace dagd {

// An exclusive group, interned by the scheduler to a dense id.
using GroupId = uint32_t;
inline constexpr GroupId kNoGroup = UINT32_MAX;

// One worker's capacity and what of it is free. Lives in the scheduler's
// worker record; only the ledger changes `busy` and `free_amounts`.
struct WorkerResources {
  uint32_t slots = 1;
  uint32_t busy = 0;
  // Named amounts by resource id: what the worker advertised, and what is
  // free now.
  std::vector<double> capacity;
  std::vector<double> free_amounts;
  // Attempts holding something here (running, or cancelled and not yet
  // reported ended).
  uint32_t holders = 0;
  // It drains: nothing new goes there, so its free slots are not counted
  // free (ResourceLedger::free_slots).
  bool draining = false;

  uint32_t free() const { return slots > busy ? slots - busy : 0; }
  double Capacity(uint32_t resource) const {
    return resource < capacity.size() ? capacity[resource] : 0;
  }
  double FreeAmount(uint32_t resource) const {
    return resource < free_amounts.size() ? free_amounts[resource] : 0;
  }
};

// What a job's tasks hold now. Lives in the scheduler's job record.
struct JobUsage {
  uint32_t tenant = 0;           // its owner, interned by the scheduler
  uint32_t max_parallelism = 0;  // 0: no limit
  uint32_t running = 0;          // tasks assigned or running
  uint64_t running_slots = 0;

  bool AtLimit() const {
    return max_parallelism != 0 && running >= max_parallelism;
  }
};

// What one attempt takes while it runs. `amounts` (by resource id) must
// outlive the claim's use; the scheduler's demands own them.
struct Claim {
  uint32_t slots = 1;
  absl::Span<const std::pair<uint32_t, double>> amounts;
  GroupId group = kNoGroup;
};

// The task holding an exclusive group.
struct GroupHolder {
  uint64_t seq = 0;
  uint32_t task = 0;
  bool operator==(const GroupHolder& o) const {
    return seq == o.seq && task == o.task;
  }
};

class ResourceLedger {
 public:
  // A worker joins or leaves: its slots join or leave the totals. Leaving,
  // its attempts have been released first (Release with the worker).
  void AddWorker(const WorkerResources& worker);
  void RemoveWorker(const WorkerResources& worker);

  // The worker could run the claim if it were idle (its capacity).
  bool CouldFit(const WorkerResources& worker, const Claim& claim) const;
  // The worker has the claim's slots and amounts free now. Groups are not
  // looked at: see GroupFree.
  bool HasRoom(const WorkerResources& worker, const Claim& claim) const;
  bool GroupFree(GroupId group) const;
  // Who holds the group, if anyone.
  std::optional<GroupHolder> HolderOf(GroupId group) const;

  // The attempt of `holder` starts holding `claim` on `worker`, in its
  // job's count, and its group. The caller checked HasRoom and GroupFree.
  void Acquire(WorkerResources& worker, JobUsage& job, const Claim& claim,
               GroupHolder holder);
  // The attempt ended: everything it held is free again. `worker` is null
  // when the worker is gone. Returns the group it freed, or kNoGroup, so
  // the caller can wake the group's waiters.
  GroupId Release(WorkerResources* worker, JobUsage& job, const Claim& claim,
                  GroupHolder holder);
  // The job half of a cancelled attempt's release.
  void ReleaseJob(JobUsage& job, const Claim& claim);
  // The worker half: slots, amounts and group. `worker` null: gone.
  GroupId ReleaseWorker(WorkerResources* worker, const Claim& claim,
                        GroupHolder holder);
  // A cancelled attempt's worker half moves from one stream of a process to
  // its newer one (the older, half open, is about to go): `from` gives back
  // the slots and amounts, `to` takes them, the group stays held. The
  // caller checked HasRoom on `to`.
  void MoveWorkerHalf(WorkerResources& from, WorkerResources& to,
                      const Claim& claim);

  // The worker drains (never undone): its free slots, now and as its
  // attempts end, are no longer counted free.
  void SetDraining(WorkerResources& worker);

  // Free slots new work could take: of workers that do not drain.
  uint64_t free_slots() const { return free_slots_; }
  uint64_t total_slots() const { return total_slots_; }
  uint64_t busy_slots() const { return busy_slots_; }
  // The slots all of a tenant's jobs hold (JobUsage::tenant).
  uint64_t tenant_slots(uint32_t tenant) const;
  // Calls `fn` with each tenant whose slots changed since the last call,
  // once, and what it holds now: the scheduler tells the job sorter.
  void TakeChangedTenants(
      absl::FunctionRef<void(uint32_t tenant, uint64_t slots)> fn);

 private:
  struct Group {
    bool held = false;
    GroupHolder holder;
  };
  // `worker`'s slots and amounts that the claim takes.
  void TakeOnWorker(WorkerResources& worker, const Claim& claim);
  // Frees the group if `holder` holds it.
  GroupId ReleaseGroup(GroupId group, GroupHolder holder);

  struct TenantHeld {
    uint64_t slots = 0;
    bool changed = false;  // listed in changed_tenants_
  };
  void TenantSlotsChange(uint32_t tenant, uint32_t slots, bool taken);

  std::vector<Group> groups_;        // by GroupId, grown as groups are taken
  std::vector<TenantHeld> tenants_;  // by tenant id, grown as they take
  std::vector<uint32_t> changed_tenants_;
  uint64_t free_slots_ = 0;   // over all workers but those that drain
  uint64_t total_slots_ = 0;  // over all workers
  uint64_t busy_slots_ = 0;   // over all workers
};

}  // namespace dagd

#endif  // DAGD_SERVER_RESOURCE_LEDGER_H_
