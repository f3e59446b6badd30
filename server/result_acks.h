#ifndef DAGD_SERVER_RESULT_ACKS_H_
#define DAGD_SERVER_RESULT_ACKS_H_

#include <cstddef>
#include <cstdint>

#include "absl/container/flat_hash_map.h"
#include "dagd/v1/worker_service.pb.h"
#include "server/worker_id.h"

namespace dagd {

// When dagd acknowledges results to the worker that sent them
// (CoordinatorBatch.acked_up_to).
struct AckPolicy {
  // A worker with this many results, or this many bytes of outputs and
  // errors, not yet acknowledged gets a batch carrying only the
  // acknowledgement: what it keeps for dagd stays bounded. 1 acknowledges
  // every result in the turn it was read.
  uint32_t max_results = 256;
  uint64_t max_bytes = 1 << 20;
};

// Which results each worker has reported that dagd has not yet
// acknowledged, and when to say so.
//
// A worker keeps each result until it is acknowledged, so that none is lost
// when dagd is; but an acknowledgement alone is not worth a message per
// turn. It rides on the next batch the worker gets anyway (assignments,
// cancels), and goes alone only when the worker holds many results for
// dagd (AckPolicy) or asks for it: a worker heartbeats at least every
// heartbeat interval, and a draining one heartbeats once its last result
// is sent, to be acknowledged before it leaves.
//
// Acknowledgements are attached to the turn's sends, which go out after the
// turn's writes are stored: a result is never acknowledged before it is in
// the store's write-ahead log (it survives a crash of dagd; an fsync follows
// within --sync_interval). Not thread-safe: the scheduler's thread owns it.
class ResultAcks {
 public:
  explicit ResultAcks(AckPolicy policy) : policy_(policy) {}

  // A result numbered `report_order` (TaskResult.report_order; 0 for
  // reporters that keep nothing, such as dagd's own Lambda dispatcher) of
  // `bytes` was read from the worker.
  void Received(WorkerId worker, uint64_t report_order, size_t bytes);
  // The worker asked to hear what is acknowledged (it heartbeated).
  void Requested(WorkerId worker);
  // The worker is gone: its results come again on its next stream.
  void Forget(WorkerId worker);
  // At the end of a turn: puts acked_up_to on every batch in `sends` to a
  // worker with results not yet acknowledged, and adds an acknowledgement
  // alone for each worker that is due one.
  void Flush(absl::flat_hash_map<WorkerId, v1::CoordinatorBatch>& sends);

  // Workers with results not yet acknowledged.
  size_t waiting() const { return pending_.size(); }

 private:
  struct Pending {
    uint64_t up_to = 0;  // the highest report_order read
    uint32_t results = 0;
    uint64_t bytes = 0;
    bool due = false;  // goes out this turn, with or without other sends
  };

  const AckPolicy policy_;
  absl::flat_hash_map<WorkerId, Pending> pending_;
};

}  // namespace dagd

#endif  // DAGD_SERVER_RESULT_ACKS_H_
