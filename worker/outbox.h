// What the worker has to tell the coordinator (start notices and results),
// kept until a write succeeds, so results survive a broken stream and go
// out on the next one. Everything pending goes out in one WorkerBatch per
// write: while a write is in flight, new reports accumulate, so a busy
// worker batches by itself and an idle one sends at once.
#ifndef DAGD_WORKER_OUTBOX_H_
#define DAGD_WORKER_OUTBOX_H_

#include <vector>

#include "absl/base/thread_annotations.h"
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
class Outbox : public TaskReporter {
 public:
  enum class TakeResult { kBatch, kTimeout, kClosed, kSealed };

  void Started(v1::TaskStarted started) override;
  void Finished(v1::TaskResult result) override;

  // Waits until something is pending (moves all of it into `*batch`), the
  // deadline passes, or the outbox is closed. Once sealed, returns kSealed
  // instead of waiting when nothing is pending.
  TakeResult Take(absl::Time deadline, v1::WorkerBatch* batch);
  // Puts back a batch whose write failed, ahead of anything newer.
  void Requeue(v1::WorkerBatch batch);

  // Close makes Take return kClosed (waking a waiting writer) until Open.
  // The owner of a stream closes it when the stream ends and reopens it for
  // the next stream; reports keep accumulating meanwhile.
  void Close();
  void Open();

  // Says that nothing more will be reported (the worker is draining and its
  // attempts are done): the writer sends what is pending, then gets
  // kSealed and ends the stream. Never undone.
  void Seal();

  size_t pending_results() const;

 private:
  mutable absl::Mutex mu_;
  std::vector<v1::TaskStarted> started_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::TaskResult> results_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool sealed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace dagd

#endif  // DAGD_WORKER_OUTBOX_H_
