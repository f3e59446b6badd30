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
  void Add(const SortedJob& job) override {
    if (job.tenant >= tenants_.size()) tenants_.resize(job.tenant + 1);
    Tenant& tenant = tenants_[job.tenant];
    const bool was_empty = tenant.line.empty();
    if (!was_empty && in_line_ >= 2) order_.erase(OrderKey(job.tenant));
    tenant.line.emplace(JobKey(job), job.seq);
    tenant.running_slots += job.running_slots;
    ++jobs_;
    if (was_empty) {
      ++in_line_;
      if (in_line_ == 1) only_ = job.tenant;
      // The second tenant in line: the order among tenants starts with both.
      if (in_line_ == 2) order_.emplace(OrderKey(only_), only_);
    }
    if (in_line_ >= 2) order_.emplace(OrderKey(job.tenant), job.tenant);
  }

  void Remove(const SortedJob& job) override {
    Tenant& tenant = tenants_[job.tenant];
    if (in_line_ >= 2) order_.erase(OrderKey(job.tenant));
    tenant.line.erase(JobKey(job));
    tenant.running_slots -= job.running_slots;
    --jobs_;
    if (!tenant.line.empty()) {
      if (in_line_ >= 2) order_.emplace(OrderKey(job.tenant), job.tenant);
      return;
    }
    --in_line_;
    if (in_line_ == 1) {
      only_ = order_.begin()->second;
      order_.clear();
    }
  }

  std::optional<uint64_t> First() const override {
    if (jobs_ == 0) return std::nullopt;
    // One tenant in line (every job until tenants exist) needs no order
    // among tenants.
    const uint32_t tenant = in_line_ == 1 ? only_ : order_.begin()->second;
    return tenants_[tenant].line.begin()->second;
  }

  bool empty() const override { return jobs_ == 0; }

 private:
  struct Tenant {
    absl::btree_map<JobKey, uint64_t> line;
    uint64_t running_slots = 0;  // of its jobs in line
  };

  TenantKey OrderKey(uint32_t tenant) const {
    return TenantKey{tenants_[tenant].running_slots, tenant};
  }

  // Indexed by the scheduler's interned tenant id (small and dense).
  std::vector<Tenant> tenants_;
  uint64_t jobs_ = 0;     // jobs in line
  uint32_t in_line_ = 0;  // tenants with jobs in line
  uint32_t only_ = 0;     // the tenant in line when in_line_ == 1
  // Tenants in fair-share order, kept while two or more are in line.
  absl::btree_map<TenantKey, uint32_t> order_;
};

}  // namespace

std::unique_ptr<JobSorter> MakeFairShareSorter() {
  return std::make_unique<FairShareSorter>();
}

}  // namespace dagd
