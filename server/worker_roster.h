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
// - A restart whose grace ran out counts those not back as gone from then
//   (off one linger later): a second crash soon after still waits for
//   them, as the fixed grace did.
// - A worker with no process instance (Register.instance, random per
//   process) cannot be told from another of its name: it is kept under a
//   key no later worker matches, so a restart waits the whole grace for it
//   (and each of its streams is a synced write).
// - The roster is whole (every worker that joined is on it) only as the
//   start before this one left it, or at a store's first start: a start
//   of a dagd that kept no roster in between, or one that crashed before
//   saying so, waits the whole grace, and says it is whole one linger
//   after (the workers it could not know of are gone by then, as a
//   departed one would be).
// The instance is the worker's word: a worker that can register at all can
// pose as another (as it could report results it never ran), but under
// worker certificates only as another process of its own certificate.
//
// Loop thread only. Times come from one clock: should it go back,
// departures come off later; should it jump ahead, sooner.
#ifndef DAGD_SERVER_WORKER_ROSTER_H_
#define DAGD_SERVER_WORKER_ROSTER_H_

#include <cstddef>
#include <cstdint>
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
  explicit WorkerRoster(absl::Duration linger) : linger_(linger) {}

  // The roster a start finds (MetaStore::StoredRoster), in start number
  // `incarnation` (MetaStore::StartIncarnation): each worker on it is
  // awaited, if the start before this one left it whole.
  void Restore(StoredRoster stored, uint64_t incarnation);

  // Whether recovered jobs still wait for a worker (or, the roster not
  // whole, for the grace).
  bool Awaiting() const { return !whole_ || !awaited_.empty(); }
  // Whether the roster is known whole: as this start found it, or since
  // its grace ended.
  bool whole() const { return whole_; }
  size_t awaited() const { return awaited_.size(); }
  // A few of the awaited workers' names, for a log line.
  std::string AwaitedNames(size_t limit) const;

  // Worker stream `id` registered, from process `instance` (may be empty).
  // `certified`: `name` is its verified certificate's, and the instance
  // counts only under that name.
  void Joined(WorkerId id, const std::string& instance, const std::string& name,
              bool certified = false);
  // Worker stream `id` has sent everything it kept from before. True when
  // it was the last one awaited: recovered jobs may go on.
  bool CaughtUp(WorkerId id);
  // Worker stream `id` closed or was declared lost at `now`.
  void Left(WorkerId id, absl::Time now);
  // The recovery grace is over at `now` (or there was none): whoever is
  // not back counts as gone from now, and the roster is whole.
  void GraceEnded(absl::Time now);
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

  // Worker `key` has no stream since `since`: off the roster one linger
  // later unless it comes back.
  void Depart(const std::string& key, Member& member, absl::Time since);
  // Takes off the workers gone for the linger by `now`.
  void ExpireDepartures(absl::Time now);

  const absl::Duration linger_;
  uint64_t incarnation_ = 0;
  bool whole_ = true;
  // When to store that the roster is whole as of this start: at once if
  // it was found whole, one linger after the grace if not; then nullopt.
  std::optional<absl::Time> whole_due_;
  bool frozen_ = false;
  bool grew_ = false;  // a worker was put on since the last TakeWrites
  absl::flat_hash_map<std::string, Member> members_;  // by key
  absl::flat_hash_map<WorkerId, std::string> keys_;   // connected streams
  absl::flat_hash_set<std::string> awaited_;
  // Departures, (when the record goes, key), in time order but for those
  // GraceEnded queues again behind later ones: they come off later, never
  // sooner.
  std::deque<std::pair<absl::Time, std::string>> departures_;
  // Unstored changes by key: a name to put, nullopt to remove.
  absl::flat_hash_map<std::string, std::optional<std::string>> changes_;
};

}  // namespace dagd

#endif  // DAGD_SERVER_WORKER_ROSTER_H_
