// Runs blocking requests (object store calls) on threads of their own, so
// that neither the coordinator's loop nor the Lambda dispatcher's waits.
#ifndef DAGD_SERVER_BACKGROUND_QUEUE_H_
#define DAGD_SERVER_BACKGROUND_QUEUE_H_

#include <deque>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"

namespace dagd {

// Thread-safe. Requests start in the order they were posted, on one of
// `threads` threads.
class BackgroundQueue {
 public:
  // `abandoned` is false when the request runs normally, and true when it
  // runs on the destroying thread because the queue stopped first: it must
  // then answer whoever waits for it without doing its work.
  using Request = absl::AnyInvocable<void(bool abandoned)>;

  explicit BackgroundQueue(int threads);
  // Waits for the requests in progress, then runs each queued one
  // abandoned.
  ~BackgroundQueue();
  BackgroundQueue(const BackgroundQueue&) = delete;
  BackgroundQueue& operator=(const BackgroundQueue&) = delete;

  void Post(Request request);

 private:
  void Run();

  absl::Mutex mu_;
  std::deque<Request> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace dagd

#endif  // DAGD_SERVER_BACKGROUND_QUEUE_H_
