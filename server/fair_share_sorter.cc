// The fair-share job sorter (job_sorter.h).

#include <vector>

#include "absl/container/btree_map.h"
#include "server/job_sorter.h"

namespace dagd {
namespace {

// A job's place within its tenant: priority (higher first), then running
// slots (fewer first), then submission order.
struct JobKey {
  int32_t priority;
  uint64_t running_slots;
  uint64_t seq;
  explicit JobKey(const SortedJob& job)
      : priority(job.priority),
        running_slots(job.running_slots),
        seq(job.seq) {}
  bool operator<(const JobKey& o) const {
    if (priority != o.priority) return priority > o.priority;
    if (running_slots != o.running_slots) {
      return running_slots < o.running_slots;
    }
    return seq < o.seq;
  }
};

// A tenant's place: the slots it holds per unit of weight (fewer first),
// then id. Slots and weights are small enough (slots under 2^40, weights
// at most 10,000) that the cross products fit in 64 bits.
struct TenantKey {
  uint64_t running_slots;
  uint32_t weight;
  uint32_t tenant;
  bool operator<(const TenantKey& o) const {
    const uint64_t mine = running_slots * o.weight;
    const uint64_t theirs = o.running_slots * weight;
    if (mine != theirs) return mine < theirs;
    return tenant < o.tenant;
  }
};

class FairShareSorter : public JobSorter {
 public:
  void Add(const SortedJob& job) override {
    Change(job.tenant,
           [&](Tenant& t) { t.line.emplace(JobKey(job), job.seq); });
    ++jobs_;
  }

  void Remove(const SortedJob& job) override {
    Change(job.tenant, [&](Tenant& t) { t.line.erase(JobKey(job)); });
    --jobs_;
  }

  void SetShare(uint32_t tenant, const TenantShare& share) override {
    Change(tenant, [&](Tenant& t) { t.share = share; });
  }

  void SetTenantSlots(uint32_t tenant, uint64_t slots) override {
    // Once per task placed or ended: unchanged keys cost nothing.
    if (tenant < tenants_.size() && tenants_[tenant].running_slots == slots) {
      return;
    }
    Change(tenant, [&](Tenant& t) { t.running_slots = slots; });
  }

  std::optional<uint64_t> First() const override {
    if (eligible_ == 0) return std::nullopt;
    // One tenant that may place (every job without tenants) needs no
    // order among tenants.
    const uint32_t tenant = eligible_ == 1 ? only_ : order_.begin()->second;
    return tenants_[tenant].line.begin()->second;
  }

  bool empty() const override { return jobs_ == 0; }

 private:
  struct Tenant {
    absl::btree_map<JobKey, uint64_t> line;
    uint64_t running_slots = 0;  // of all its jobs
    TenantShare share;

    // It has jobs in line and may start a task.
    bool eligible() const {
      return !line.empty() && (share.max_running_slots == 0 ||
                               running_slots < share.max_running_slots);
    }
  };

  TenantKey OrderKey(uint32_t tenant) const {
    const Tenant& t = tenants_[tenant];
    return TenantKey{t.running_slots, t.share.weight, tenant};
  }

  // Applies `change` to tenant `id`, keeping the order among tenants:
  // eligible tenants are in `order_` while two or more are eligible, else
  // the one is `only_`, so a single tenant costs no ordered-map work.
  template <typename F>
  void Change(uint32_t id, F change) {
    if (id >= tenants_.size()) tenants_.resize(id + 1);
    Tenant& tenant = tenants_[id];
    const bool was = tenant.eligible();
    if (was && eligible_ >= 2) order_.erase(OrderKey(id));
    change(tenant);
    const bool now = tenant.eligible();
    if (was && !now) {
      --eligible_;
      if (eligible_ == 1) {
        only_ = order_.begin()->second;
        order_.clear();
      }
    } else if (!was && now) {
      ++eligible_;
      if (eligible_ == 2) order_.emplace(OrderKey(only_), only_);
    }
    if (!now) return;
    if (eligible_ == 1) {
      only_ = id;
    } else {
      order_.emplace(OrderKey(id), id);
    }
  }

  // Indexed by the scheduler's interned tenant id (small and dense).
  std::vector<Tenant> tenants_;
  uint64_t jobs_ = 0;      // jobs in line
  uint32_t eligible_ = 0;  // tenants with jobs in line, below their cap
  uint32_t only_ = 0;      // the eligible tenant when eligible_ == 1
  // Eligible tenants in fair-share order, kept while two or more are.
  absl::btree_map<TenantKey, uint32_t> order_;
};

}  // namespace

std::unique_ptr<JobSorter> MakeFairShareSorter() {
  return std::make_unique<FairShareSorter>();
}

}  // namespace dagd
