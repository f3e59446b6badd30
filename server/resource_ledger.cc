#include "server/resource_ledger.h"

#include <algorithm>

namespace dagd {
namespace {

// Sums of doubles drift; a worker with 0.999999999 of a unit left still
// has the unit.
constexpr double kAmountSlack = 1e-9;

}  // namespace

void ResourceLedger::AddWorker(const WorkerResources& worker) {
  if (!worker.draining) free_slots_ += worker.free();
  total_slots_ += worker.slots;
  busy_slots_ += worker.busy;
}

void ResourceLedger::RemoveWorker(const WorkerResources& worker) {
  if (!worker.draining) {
    free_slots_ -= std::min<uint64_t>(free_slots_, worker.free());
  }
  total_slots_ -= std::min<uint64_t>(total_slots_, worker.slots);
  busy_slots_ -= std::min<uint64_t>(busy_slots_, worker.busy);
}

void ResourceLedger::SetDraining(WorkerResources& worker) {
  if (worker.draining) return;
  worker.draining = true;
  free_slots_ -= std::min<uint64_t>(free_slots_, worker.free());
}

bool ResourceLedger::CouldFit(const WorkerResources& worker,
                              const Claim& claim) const {
  if (claim.slots > worker.slots) return false;
  for (const auto& [resource, amount] : claim.amounts) {
    // None of a resource it lacks, however little is asked: the slack is
    // for rounding, not for amounts smaller than it.
    if (worker.Capacity(resource) <= 0 ||
        worker.Capacity(resource) + kAmountSlack < amount) {
      return false;
    }
  }
  return true;
}

bool ResourceLedger::HasRoom(const WorkerResources& worker,
                             const Claim& claim) const {
  if (worker.free() < claim.slots) return false;
  for (const auto& [resource, amount] : claim.amounts) {
    if (worker.Capacity(resource) <= 0 ||
        worker.FreeAmount(resource) + kAmountSlack < amount) {
      return false;
    }
  }
  return true;
}

bool ResourceLedger::GroupFree(GroupId group) const {
  return group == kNoGroup || group >= groups_.size() || !groups_[group].held;
}

std::optional<GroupHolder> ResourceLedger::HolderOf(GroupId group) const {
  if (GroupFree(group)) return std::nullopt;
  return groups_[group].holder;
}

void ResourceLedger::TakeOnWorker(WorkerResources& worker, const Claim& claim) {
  worker.busy += claim.slots;
  busy_slots_ += claim.slots;
  if (!worker.draining) free_slots_ -= claim.slots;
  for (const auto& [resource, amount] : claim.amounts) {
    // HasRoom placed it only where the resource is; a claim that reached
    // here otherwise takes nothing rather than write past the amounts.
    if (resource < worker.free_amounts.size()) {
      worker.free_amounts[resource] -= amount;
    }
  }
  ++worker.holders;
}

void ResourceLedger::Acquire(WorkerResources& worker, JobUsage& job,
                             const Claim& claim, GroupHolder holder) {
  TakeOnWorker(worker, claim);
  ++job.running;
  job.running_slots += claim.slots;
  TenantSlotsChange(job.tenant, claim.slots, true);
  if (claim.group != kNoGroup) {
    if (claim.group >= groups_.size()) groups_.resize(claim.group + 1);
    groups_[claim.group] = Group{true, holder};
  }
}

GroupId ResourceLedger::Release(WorkerResources* worker, JobUsage& job,
                                const Claim& claim, GroupHolder holder) {
  ReleaseJob(job, claim);
  return ReleaseWorker(worker, claim, holder);
}

void ResourceLedger::ReleaseJob(JobUsage& job, const Claim& claim) {
  job.running -= std::min(job.running, 1u);
  job.running_slots -= std::min<uint64_t>(job.running_slots, claim.slots);
  TenantSlotsChange(job.tenant, claim.slots, false);
}

void ResourceLedger::TenantSlotsChange(uint32_t tenant, uint32_t slots,
                                       bool taken) {
  if (tenant >= tenants_.size()) tenants_.resize(tenant + 1);
  TenantHeld& held = tenants_[tenant];
  held.slots = taken ? held.slots + slots
                     : held.slots - std::min<uint64_t>(held.slots, slots);
  if (!held.changed) {
    held.changed = true;
    changed_tenants_.push_back(tenant);
  }
}

uint64_t ResourceLedger::tenant_slots(uint32_t tenant) const {
  return tenant < tenants_.size() ? tenants_[tenant].slots : 0;
}

void ResourceLedger::TakeChangedTenants(
    absl::FunctionRef<void(uint32_t tenant, uint64_t slots)> fn) {
  for (uint32_t tenant : changed_tenants_) {
    tenants_[tenant].changed = false;
    fn(tenant, tenants_[tenant].slots);
  }
  changed_tenants_.clear();
}

GroupId ResourceLedger::ReleaseWorker(WorkerResources* worker,
                                      const Claim& claim, GroupHolder holder) {
  if (worker != nullptr) {
    worker->busy -= std::min(worker->busy, claim.slots);
    busy_slots_ -= std::min<uint64_t>(busy_slots_, claim.slots);
    if (!worker->draining) free_slots_ += claim.slots;
    for (const auto& [resource, amount] : claim.amounts) {
      if (resource < worker->free_amounts.size()) {
        worker->free_amounts[resource] += amount;
      }
    }
    worker->holders -= std::min(worker->holders, 1u);
    // Amounts are doubles, taken and given back in any order; an idle
    // worker has exactly its capacity, whatever rounding crept in.
    if (worker->holders == 0) worker->free_amounts = worker->capacity;
  }
  return ReleaseGroup(claim.group, holder);
}

void ResourceLedger::MoveWorkerHalf(WorkerResources& from, WorkerResources& to,
                                    const Claim& claim) {
  Claim without_group = claim;
  without_group.group = kNoGroup;
  ReleaseWorker(&from, without_group, GroupHolder{});
  TakeOnWorker(to, claim);
}

GroupId ResourceLedger::ReleaseGroup(GroupId group, GroupHolder holder) {
  if (group == kNoGroup || group >= groups_.size()) return kNoGroup;
  Group& g = groups_[group];
  if (!g.held || !(g.holder == holder)) return kNoGroup;
  g.held = false;
  return group;
}

}  // namespace dagd
