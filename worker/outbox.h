// What the worker has to tell the coordinator (start notices and results),
// results kept until the coordinator acknowledges them, so they survive a
// broken stream or a coordinator crash and go out on the next stream.
// Everything pending goes out in one WorkerBatch per write: while a write is in
// flight, new reports accumulate, so a busy worker batches by itself and an
// idle one sends at once.
//
// A start notice may wait (started_delay): a task that ends within it is
// reported once, by its result, which carries its start time too. Tasks of
// a millisecond then cost dagd and the worker one message each, not two.
#ifndef DAGD_WORKER_OUTBOX_H_
#define DAGD_WORKER_OUTBOX_H_

#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "dagd/v1/worker_service.pb.h"

namespace dagd {

// Where a running attempt reports; implemented by Outbox, faked in tests.
class TaskReporter {
 public:
  virtual ~TaskReporter() = default;
  virtual void Started(v1::TaskStarted started) = 0;
  virtual void Finished(v1::TaskResult result) = 0;
};

// Thread-safe. Any thread reports; one writer thread at a time Takes.
//
// A result stays here until the coordinator acknowledges it (Ack), not
// just until it is written: a coordinator that crashes after reading a
// result but before storing it gets it again on the worker's next stream.
// Results go out in the order they were reported, resent ones first, so a
// granted task's result never overtakes its predecessor's.
class Outbox : public TaskReporter {
 public:
  // Start notices go out once `started_delay` has passed since they were
  // reported, unless the attempt's result came first (then never); zero
  // sends them at once.
  explicit Outbox(absl::Duration started_delay = absl::ZeroDuration())
      : started_delay_(started_delay) {}

  // kAskAck: sealed, and everything is sent but not all of it
  // acknowledged; dagd acknowledges lazily, so the writer asks it to
  // (with a heartbeat). Once per stream.
  // kHeartbeat: WantHeartbeat asked for one now.
  enum class TakeResult {
    kBatch,
    kTimeout,
    kClosed,
    kSealed,
    kAskAck,
    kHeartbeat
  };

  void Started(v1::TaskStarted started) override;
  void Finished(v1::TaskResult result) override;

  // Waits until something is unsent (moves all of it into `*batch`), the
  // deadline passes, or the outbox is closed. Once sealed, returns kAskAck
  // when every result is sent, then kSealed instead of waiting once every
  // result is acknowledged.
  TakeResult Take(absl::Time deadline, v1::WorkerBatch* batch);
  // The writer wrote a taken batch: its results wait for their Ack (or, if
  // the stream closed meanwhile, go out again on the next stream).
  void Sent(v1::WorkerBatch batch);
  // Puts back a batch whose write failed, ahead of anything newer.
  void Requeue(v1::WorkerBatch batch);
  // The coordinator stored every result up to this report_order: they are
  // forgotten.
  void Ack(uint64_t up_to);

  // Close makes Take return kClosed (waking a waiting writer) until Open.
  // The owner of a stream closes it when the stream ends and reopens it for
  // the next stream; results sent on the closed stream and not
  // acknowledged go out again on the next one, and reports keep
  // accumulating meanwhile.
  void Close();
  void Open();

  // Says that nothing more will be reported (the worker is draining and its
  // attempts are done): the writer sends what is pending, asks for its
  // acknowledgement (kAskAck), then, once all of it is acknowledged, gets
  // kSealed and ends the stream. Never undone.
  void Seal();

  // The next Take returns kHeartbeat, at once: the worker began to drain,
  // and dagd learns it from a heartbeat (Heartbeat.draining) rather than
  // at the next interval, placing nothing new on it meanwhile.
  void WantHeartbeat();

  // Moves unsent results into `batch` (whether or not the outbox is
  // closed), for a Register, as Take would; hand them back with Sent or
  // Requeue. Returns whether that is all of them (Register.kept_complete);
  // if not, the batch Take makes with the last of them says so.
  bool TakeKept(v1::WorkerBatch* batch);

  // Results not yet acknowledged, sent or not.
  size_t pending_results() const;

  // Drops every result and start notice, sent or not (the coordinator now
  // serves another data directory: they are of attempts it never made).
  // Report orders go on from where they were.
  void Forget();

 private:
  // An attempt, to drop a second result of it. Job ids are short: the
  // string usually lives inside the key, with nothing allocated.
  struct AttemptKey {
    std::string job_id;
    uint32_t task_index = 0;
    uint32_t attempt = 0;
    bool operator==(const AttemptKey& o) const {
      return task_index == o.task_index && attempt == o.attempt &&
             job_id == o.job_id;
    }
    template <typename H>
    friend H AbslHashValue(H h, const AttemptKey& k) {
      return H::combine(std::move(h), k.job_id, k.task_index, k.attempt);
    }
  };
  static AttemptKey KeyOf(const v1::TaskRef& ref);
  enum class State { kUnsent, kTaken, kSent };
  struct Entry {
    v1::TaskResult result;  // moved out while kTaken
    State state = State::kUnsent;
    AttemptKey key;
  };
  // Moves unsent results into `batch`, oldest first, up to a size that
  // dagd accepts in one message.
  void TakeUnsent(v1::WorkerBatch* batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Marks `batch` (WorkerBatch.kept_complete) if it is the first since
  // TakeKept after which no result kept then is unsent.
  void MarkKeptComplete(v1::WorkerBatch* batch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes back the results of a batch the writer had taken.
  void Return(v1::WorkerBatch& batch, State state)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The entry of a result not yet acknowledged, or nullptr.
  Entry* Find(uint64_t report_order) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // A start notice and when it may go out.
  struct PendingStart {
    v1::TaskStarted started;
    absl::Time due;
  };
  // Whether the oldest start notice may go out at `now`.
  bool StartDue(absl::Time now) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const absl::Duration started_delay_;
  mutable absl::Mutex mu_;
  // Oldest first; all due at once their delay has passed (Take sends every
  // notice it has once the oldest is due).
  std::deque<PendingStart> started_ ABSL_GUARDED_BY(mu_);
  // Results not yet acknowledged: results_[i] has report_order
  // first_order_ + i. Orders are given out one by one and acknowledged
  // oldest first, so they stay contiguous. dagd acknowledges lazily, so
  // hundreds may wait here, mostly sent.
  std::deque<Entry> results_ ABSL_GUARDED_BY(mu_);
  uint64_t first_order_ ABSL_GUARDED_BY(mu_) = 1;
  // No result before this report_order is unsent: Take starts there rather
  // than walk every result waiting for its acknowledgement.
  uint64_t first_unsent_ ABSL_GUARDED_BY(mu_) = 1;
  // The attempts of results_.
  absl::flat_hash_set<AttemptKey> attempts_ ABSL_GUARDED_BY(mu_);
  uint64_t next_order_ ABSL_GUARDED_BY(mu_) = 1;
  size_t unsent_ ABSL_GUARDED_BY(mu_) = 0;  // entries kUnsent
  // Set by a TakeKept that left some behind: the report order after the
  // last result kept then, until a batch says they are all sent. 0: none.
  uint64_t kept_end_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool sealed_ ABSL_GUARDED_BY(mu_) = false;
  bool asked_ack_ ABSL_GUARDED_BY(mu_) = false;  // on this stream
  bool heartbeat_wanted_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace dagd

#endif  // DAGD_WORKER_OUTBOX_H_
