// The workers that may run or hold work of dagd's jobs, kept in the store
// so that a restart knows whom it waits for. After a restart, recovered
// jobs stand still until every worker on the stored roster is back and has
// sent what it kept from before (Register.kept_complete), or until
// --recovery_grace runs out, whichever comes first: a fleet that is back
// in two seconds goes on after two, not after the whole grace.
//
// Why each rule keeps a task from running twice:
// - A worker is put on the roster, synced, in the turn it joins, before
//   anything is handed to it: no worker holds work the stored roster lacks.
// - It comes off once it has been gone for `linger` (the grace): a stream
//   that broke just before a crash may still come back with attempts, and
//   is waited for. Streams closed by dagd's own stop change nothing.
// - A restart whose grace ran out takes those not back off: their work
//   has run again by then, as it did before the roster.
// - A worker with no process instance (Register.instance, random per
//   process) cannot be told from another of its name: it is kept under a
//   key no later worker matches, so a restart waits the whole grace for it.
// - A store that never said its roster is whole (from before it, or its
//   first start with it ended before its grace) waits the whole grace, and
//   is whole from then on.
//
// Loop thread only.
#ifndef DAGD_SERVER_WORKER_ROSTER_H_
#define DAGD_SERVER_WORKER_ROSTER_H_

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "server/worker_id.h"
#include "storage/write_set.h"

namespace dagd {

class WorkerRoster {
 public:
  using Entry = std::pair<std::string, std::string>;  // key, name

  explicit WorkerRoster(absl::Duration linger) : linger_(linger) {}

  // The roster a start finds (MetaStore::StoredRoster): each worker on it
  // is awaited. nullopt: not known whole, so the whole grace is waited.
  void Restore(std::optional<std::vector<Entry>> stored);

  // Whether recovered jobs still wait for a worker (or, the roster not
  // whole, for the grace).
  bool Awaiting() const { return !whole_ || !awaited_.empty(); }
  size_t awaited() const { return awaited_.size(); }
  // A few of the awaited workers' names, for a log line.
  std::string AwaitedNames(size_t limit) const;

  // Worker stream `id` registered, from process `instance` (may be empty).
  void Joined(WorkerId id, const std::string& instance,
              const std::string& name);
  // Worker stream `id` has sent everything it kept from before. True when
  // it was the last one awaited: recovered jobs may go on.
  bool CaughtUp(WorkerId id);
  // Worker stream `id` closed or was declared lost at `now`.
  void Left(WorkerId id, absl::Time now);
  // The recovery grace is over (or there was none): whoever is not back
  // is gone, and the roster is whole.
  void GraceEnded();
  // dagd is stopping: streams it closes do not take workers off.
  void Freeze() { frozen_ = true; }

  // Moves the changes due at `now` into `writes`. True when they must be
  // synced: a worker put on may be given work once they are committed.
  bool TakeWrites(absl::Time now, WriteSet::RosterWrites& writes);
  // When a departed worker's record is next due to go.
  std::optional<absl::Time> NextDue() const;

 private:
  struct Member {
    std::string name;
    uint32_t streams = 0;  // connected now
    absl::Time left_at = absl::InfinitePast();
  };

  void Remove(const std::string& key);

  const absl::Duration linger_;
  bool whole_ = true;
  bool store_whole_ = false;
  bool frozen_ = false;
  bool sync_ = false;
  absl::flat_hash_map<std::string, Member> members_;  // by key
  absl::flat_hash_map<WorkerId, std::string> keys_;   // connected streams
  absl::flat_hash_set<std::string> awaited_;
  // Departures in time order: (when the record goes, key).
  std::deque<std::pair<absl::Time, std::string>> departures_;
  // Unstored changes by key: a name to put, nullopt to remove.
  absl::flat_hash_map<std::string, std::optional<std::string>> changes_;
};

}  // namespace dagd

#endif  // DAGD_SERVER_WORKER_ROSTER_H_
