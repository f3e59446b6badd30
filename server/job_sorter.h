// The order among jobs: which job's ready tasks are placed next. The
// scheduler keeps every job that has ready tasks it may place now in the
// sorter, moves it when what decides its place changes, and takes the first
// in line each time it places a task.
//
// Two levels, as in Mesos's allocator: tenants (jobs' owners), then jobs
// within a tenant. Tenants go by weighted fair share: the fewest slots held
// per unit of weight first, and a tenant holding its max_running_slots waits
// until it holds fewer. Jobs within a tenant go by priority, then the slots
// their tasks hold (fewer first, so jobs of equal priority share the
// workers), then submission order. Without tenants every job is in tenant 0.
//
// Thread rules: not thread-safe; owned by the scheduler's thread.
#ifndef DAGD_SERVER_JOB_SORTER_H_
#define DAGD_SERVER_JOB_SORTER_H_

#include <cstdint>
#include <memory>
#include <optional>

#include "server/tenant.h"

namespace dagd {

// What decides a job's place in line.
struct SortedJob {
  uint64_t seq = 0;
  uint32_t tenant = 0;  // interned by the scheduler
  int32_t priority = 0;
  uint64_t running_slots = 0;  // slots its tasks hold now
};

// The caller keeps the SortedJob it put in line (the scheduler keeps it in
// its Job) and hands it back to take the job out: the sorter needs no index
// of its own by job, which keeps the per-task cost of moving a job to one
// ordered-map erase and insert.
class JobSorter {
 public:
  virtual ~JobSorter() = default;
  // Puts the job in line. It must not be in line already.
  virtual void Add(const SortedJob& job) = 0;
  // Takes the job out of line: `job` exactly as it was added.
  virtual void Remove(const SortedJob& job) = 0;
  // A tenant's weight and cap (default: weight 1, no cap). Any time, for
  // any tenant id, in line or not.
  virtual void SetShare(uint32_t tenant, const TenantShare& share) = 0;
  // The slots all of a tenant's jobs hold now, in line or not: the
  // scheduler tells each change.
  virtual void SetTenantSlots(uint32_t tenant, uint64_t slots) = 0;
  // The job first in line, if any; none when every tenant with jobs in
  // line holds its max_running_slots.
  virtual std::optional<uint64_t> First() const = 0;
  virtual bool empty() const = 0;
};

// Tenants by weighted fair share (the fewest running slots per weight
// first, then tenant id), then jobs within a tenant by priority, running
// slots and submission.
std::unique_ptr<JobSorter> MakeFairShareSorter();

}  // namespace dagd

#endif  // DAGD_SERVER_JOB_SORTER_H_
