#ifndef DAGD_SERVER_QUERY_POOL_H_
#define DAGD_SERVER_QUERY_POOL_H_

#include <cstddef>
#include <deque>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace dagd {

// A few threads that run the coordinator's reads of the store (queries of
// finished jobs, the planning of a deletion), so that a long read, such as
// the 300,000 task statuses of a finished job, never holds up the loop.
//
// Thread-safe; Post never blocks. Queries start in the order they were
// posted. The queue is bounded: a query posted while `max_queued` wait is
// refused rather than queued, so a flood of slow reads costs their callers
// an error instead of dagd its memory.
class QueryPool {
 public:
  // Runs once. With OK it does its work; with an error (the queue was full,
  // or the pool stopped before the query ran) it must only pass that error
  // on to whoever waits for its answer.
  using Query = absl::AnyInvocable<void(const absl::Status& refused)>;

  struct Options {
    int threads = 2;
    size_t max_queued = 1000;
  };

  explicit QueryPool(Options options);
  // Stop().
  ~QueryPool();
  QueryPool(const QueryPool&) = delete;
  QueryPool& operator=(const QueryPool&) = delete;

  // Queues `query`, or runs it at once on the calling thread refused with
  // RESOURCE_EXHAUSTED (queue full) or UNAVAILABLE (stopped).
  void Post(Query query);

  // Waits for the queries that run, then runs each queued one refused with
  // UNAVAILABLE on the calling thread. Later Posts are refused the same
  // way. Idempotent; not to be called from a query.
  void Stop();

  // Queries queued and not yet started (for tests and metrics).
  size_t queued() const;

 private:
  void Run();

  const Options options_;

  mutable absl::Mutex mu_;
  std::deque<Query> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Joined by the first Stop(); empty after.
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dagd

#endif  // DAGD_SERVER_QUERY_POOL_H_
