#include "worker/outbox.h"

#include <iterator>
#include <utility>

namespace dagd {

void Outbox::Started(v1::TaskStarted started) {
  absl::MutexLock lock(&mu_);
  started_.push_back(std::move(started));
}

void Outbox::Finished(v1::TaskResult result) {
  absl::MutexLock lock(&mu_);
  results_.push_back(std::move(result));
}

Outbox::TakeResult Outbox::Take(absl::Time deadline, v1::WorkerBatch* batch) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return closed_ || sealed_ || !started_.empty() || !results_.empty();
  };
  mu_.AwaitWithDeadline(absl::Condition(&ready), deadline);
  if (closed_) return TakeResult::kClosed;
  if (started_.empty() && results_.empty()) {
    return sealed_ ? TakeResult::kSealed : TakeResult::kTimeout;
  }
  batch->Clear();
  for (auto& started : started_) *batch->add_started() = std::move(started);
  for (auto& result : results_) *batch->add_results() = std::move(result);
  started_.clear();
  results_.clear();
  return TakeResult::kBatch;
}

void Outbox::Requeue(v1::WorkerBatch batch) {
  absl::MutexLock lock(&mu_);
  std::vector<v1::TaskStarted> started(
      std::make_move_iterator(batch.mutable_started()->begin()),
      std::make_move_iterator(batch.mutable_started()->end()));
  std::vector<v1::TaskResult> results(
      std::make_move_iterator(batch.mutable_results()->begin()),
      std::make_move_iterator(batch.mutable_results()->end()));
  started.insert(started.end(), std::make_move_iterator(started_.begin()),
                 std::make_move_iterator(started_.end()));
  results.insert(results.end(), std::make_move_iterator(results_.begin()),
                 std::make_move_iterator(results_.end()));
  started_ = std::move(started);
  results_ = std::move(results);
}

void Outbox::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

void Outbox::Seal() {
  absl::MutexLock lock(&mu_);
  sealed_ = true;
}

void Outbox::Open() {
  absl::MutexLock lock(&mu_);
  closed_ = false;
}

size_t Outbox::pending_results() const {
  absl::MutexLock lock(&mu_);
  return results_.size();
}

}  // namespace dagd
