// The fair-share job sorter (job_sorter.h).

#include <utility>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "server/job_sorter.h"

namespace dagd {
namespace {

// A job's place within its tenant: priority (higher first), then running
// slots (fewer first), then submission order.
struct JobKey {
  int32_t priority;
  uint64_t running_slots;
  uint64_t seq;
  bool operator<(const JobKey& o) const {
    if (priority != o.priority) return priority > o.priority;
    if (running_slots != o.running_slots) {
      return running_slots < o.running_slots;
    }
    return seq < o.seq;
  }
};

// A tenant's place: the slots its jobs in line hold (fewer first), then id.
struct TenantKey {
  uint64_t running_slots;
  uint32_t tenant;
  bool operator<(const TenantKey& o) const {
    if (running_slots != o.running_slots) {
      return running_slots < o.running_slots;
    }
    return tenant < o.tenant;
  }
};

class FairShareSorter : public JobSorter {
 public:
  void Set(const SortedJob& job) override {
    const Entry entry{job.tenant,
                      JobKey{job.priority, job.running_slots, job.seq}};
    auto [it, inserted] = jobs_.try_emplace(job.seq, entry);
    if (!inserted) {
      const Entry& old = it->second;
      if (old.tenant == entry.tenant && !(old.key < entry.key) &&
          !(entry.key < old.key)) {
        return;  // its place did not change
      }
      Take(old);
      it->second = entry;
    }
    Put(entry);
  }

  void Remove(uint64_t seq) override {
    auto it = jobs_.find(seq);
    if (it == jobs_.end()) return;
    Take(it->second);
    jobs_.erase(it);
  }

  std::optional<uint64_t> First() const override {
    if (tenants_.empty()) return std::nullopt;
    // One tenant (every job until tenants exist) needs no tenant order.
    const uint32_t tenant =
        tenants_.size() == 1 ? tenants_.begin()->first : order_.begin()->second;
    return tenants_.at(tenant).line.begin()->second;
  }

  bool empty() const override { return jobs_.empty(); }

 private:
  struct Entry {
    uint32_t tenant;
    JobKey key;
  };
  struct Tenant {
    absl::btree_map<JobKey, uint64_t> line;  // never empty
    uint64_t running_slots = 0;              // of its jobs in line
  };

  TenantKey OrderKey(uint32_t id, const Tenant& tenant) const {
    return TenantKey{tenant.running_slots, id};
  }

  void Put(const Entry& entry) {
    auto [t, added] = tenants_.try_emplace(entry.tenant);
    if (!added && tenants_.size() >= 2)
      order_.erase(OrderKey(t->first, t->second));
    t->second.line.emplace(entry.key, entry.key.seq);
    t->second.running_slots += entry.key.running_slots;
    if (tenants_.size() < 2) return;
    if (added && tenants_.size() == 2) {
      // The second tenant: the order among tenants starts with both.
      for (const auto& [id, tenant] : tenants_) {
        order_.emplace(OrderKey(id, tenant), id);
      }
      return;
    }
    order_.emplace(OrderKey(t->first, t->second), t->first);
  }

  void Take(const Entry& entry) {
    auto t = tenants_.find(entry.tenant);
    Tenant& tenant = t->second;
    if (tenants_.size() >= 2) order_.erase(OrderKey(t->first, tenant));
    tenant.line.erase(entry.key);
    tenant.running_slots -= entry.key.running_slots;
    if (!tenant.line.empty()) {
      if (tenants_.size() >= 2)
        order_.emplace(OrderKey(t->first, tenant), t->first);
      return;
    }
    tenants_.erase(t);
    if (tenants_.size() < 2) order_.clear();
  }

  absl::flat_hash_map<uint64_t, Entry> jobs_;
  // Tenants with jobs in line.
  absl::flat_hash_map<uint32_t, Tenant> tenants_;
  // Tenants in fair-share order, kept while there are two or more.
  absl::btree_map<TenantKey, uint32_t> order_;
};

}  // namespace

std::unique_ptr<JobSorter> MakeFairShareSorter() {
  return std::make_unique<FairShareSorter>();
}

}  // namespace dagd
