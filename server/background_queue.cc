#include "server/background_queue.h"

#include <algorithm>
#include <utility>

namespace dagd {

BackgroundQueue::BackgroundQueue(int threads) {
  for (int i = 0; i < std::max(threads, 1); ++i) {
    threads_.emplace_back([this] { Run(); });
  }
}

BackgroundQueue::~BackgroundQueue() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& thread : threads_) thread.join();
  std::deque<Request> left;
  {
    absl::MutexLock lock(&mu_);
    left.swap(queue_);
  }
  for (Request& request : left) request(/*abandoned=*/true);
}

void BackgroundQueue::Post(Request request) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(std::move(request));
}

void BackgroundQueue::Run() {
  while (true) {
    Request request;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](BackgroundQueue* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
            return self->stopping_ || !self->queue_.empty();
          },
          this));
      if (stopping_) return;
      request = std::move(queue_.front());
      queue_.pop_front();
    }
    request(/*abandoned=*/false);
  }
}

}  // namespace dagd
