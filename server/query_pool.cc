#include "server/query_pool.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace dagd {

QueryPool::QueryPool(Options options) : options_(options) {
  absl::MutexLock lock(&mu_);
  for (int i = 0; i < std::max(options_.threads, 1); ++i) {
    threads_.emplace_back([this] { Run(); });
  }
}

QueryPool::~QueryPool() { Stop(); }

void QueryPool::Post(Query query) {
  absl::Status refused;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      refused = absl::UnavailableError("dagd is shutting down");
    } else if (queue_.size() >= options_.max_queued) {
      refused = absl::ResourceExhaustedError(absl::StrCat(
          options_.max_queued,
          " reads of finished jobs are already waiting; try again shortly"));
    } else {
      queue_.push_back(std::move(query));
      return;
    }
  }
  query(refused);
}

void QueryPool::Stop() {
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    threads.swap(threads_);
  }
  for (std::thread& thread : threads) thread.join();
  std::deque<Query> left;
  {
    absl::MutexLock lock(&mu_);
    left.swap(queue_);
  }
  const absl::Status stopped = absl::UnavailableError("dagd is shutting down");
  for (Query& query : left) query(stopped);
}

size_t QueryPool::queued() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

void QueryPool::Run() {
  while (true) {
    Query query;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](QueryPool* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
            return self->stopping_ || !self->queue_.empty();
          },
          this));
      if (stopping_) return;
      query = std::move(queue_.front());
      queue_.pop_front();
    }
    query(absl::OkStatus());
  }
}

}  // namespace dagd
