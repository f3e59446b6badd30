#include "worker/outbox.h"

#include <algorithm>
#include <iterator>
#include <utility>

namespace dagd {
namespace {

// Results per batch stop here (a batch holds at least one): a worker that
// kept many results while dagd was away sends them in pieces dagd accepts,
// instead of one message over its receive limit, again and again.
constexpr size_t kMaxBatchBytes = 4 << 20;

}  // namespace

Outbox::AttemptKey Outbox::KeyOf(const v1::TaskRef& ref) {
  return AttemptKey{ref.job_id(), ref.task_index(), ref.attempt()};
}

void Outbox::Started(v1::TaskStarted started) {
  const absl::Time due = started_delay_ > absl::ZeroDuration()
                             ? absl::Now() + started_delay_
                             : absl::InfinitePast();
  absl::MutexLock lock(&mu_);
  started_.push_back(PendingStart{std::move(started), due});
}

void Outbox::Finished(v1::TaskResult result) {
  AttemptKey key = KeyOf(result.task());
  absl::MutexLock lock(&mu_);
  // A second result for the same attempt replaces nothing: the first stays.
  if (!attempts_.insert(key).second) return;
  if (started_delay_ > absl::ZeroDuration()) {
    // The result says when the attempt started: a notice still waiting
    // need not go at all. It is among the newest.
    for (auto it = started_.rbegin(); it != started_.rend(); ++it) {
      if (KeyOf(it->started.task()) == key) {
        started_.erase(std::next(it).base());
        break;
      }
    }
  }
  result.set_report_order(next_order_++);
  results_.push_back(Entry{std::move(result), State::kUnsent, std::move(key)});
  ++unsent_;
}

bool Outbox::StartDue(absl::Time now) const {
  return !started_.empty() && started_.front().due <= now;
}

Outbox::TakeResult Outbox::Take(absl::Time deadline, v1::WorkerBatch* batch) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return closed_ || heartbeat_wanted_ || unsent_ > 0 ||
           StartDue(absl::Now()) || (kept_end_ != 0 && unsent_ == 0) ||
           (sealed_ && (results_.empty() || !asked_ack_));
  };
  // A waiting start notice falls due without anyone touching the mutex, so
  // the wait ends at the oldest one's due time too; and a notice reported
  // during the wait may be due before the wait ends, so it starts over.
  while (!ready() && absl::Now() < deadline) {
    const absl::Time wake =
        started_.empty() ? deadline : std::min(deadline, started_.front().due);
    auto changed = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return ready() || (!started_.empty() && started_.front().due < wake);
    };
    mu_.AwaitWithDeadline(absl::Condition(&changed), wake);
  }
  if (closed_) return TakeResult::kClosed;
  if (heartbeat_wanted_) {
    heartbeat_wanted_ = false;
    return TakeResult::kHeartbeat;
  }
  const bool starts = StartDue(absl::Now());
  if (!starts && unsent_ == 0 && kept_end_ != 0) {
    // Nothing kept is left unsent, yet no batch said so (an acknowledgement
    // covered the last of them first; dagd acknowledges only what a stream
    // carried, so this is a guard): the mark goes alone.
    batch->Clear();
    MarkKeptComplete(batch);
    return TakeResult::kBatch;
  }
  if (!starts && unsent_ == 0) {
    if (!sealed_) return TakeResult::kTimeout;
    if (results_.empty()) return TakeResult::kSealed;
    if (asked_ack_) return TakeResult::kTimeout;
    asked_ack_ = true;
    return TakeResult::kAskAck;
  }
  batch->Clear();
  // Notices not yet due stay: their tasks may end before they are.
  if (starts) {
    for (auto& pending : started_) {
      *batch->add_started() = std::move(pending.started);
    }
    started_.clear();
  }
  TakeUnsent(batch);
  MarkKeptComplete(batch);
  return TakeResult::kBatch;
}

void Outbox::MarkKeptComplete(v1::WorkerBatch* batch) {
  if (kept_end_ == 0 || (unsent_ > 0 && first_unsent_ < kept_end_)) return;
  batch->set_kept_complete(true);
  kept_end_ = 0;
}

void Outbox::Return(v1::WorkerBatch& batch, State state) {
  // A stream that closed while the batch was in flight will not be
  // acknowledged: what it carried goes out on the next one.
  if (closed_) state = State::kUnsent;
  for (v1::TaskResult& result : *batch.mutable_results()) {
    const uint64_t order = result.report_order();
    Entry* entry = Find(order);
    if (entry == nullptr) continue;  // acknowledged already
    if (entry->state != State::kTaken) continue;
    entry->result = std::move(result);
    entry->state = state;
    if (state == State::kUnsent) {
      ++unsent_;
      first_unsent_ = std::min(first_unsent_, order);
    }
  }
}

void Outbox::Sent(v1::WorkerBatch batch) {
  absl::MutexLock lock(&mu_);
  Return(batch, State::kSent);
}

void Outbox::Requeue(v1::WorkerBatch batch) {
  absl::MutexLock lock(&mu_);
  // The batch's notices were due; they go back ahead of the newer ones.
  auto& started = *batch.mutable_started();
  for (auto it = started.rbegin(); it != started.rend(); ++it) {
    started_.push_front(PendingStart{std::move(*it), absl::InfinitePast()});
  }
  // Results keep their place by report order, so they go ahead of newer
  // ones by themselves.
  Return(batch, State::kUnsent);
}

void Outbox::Ack(uint64_t up_to) {
  absl::MutexLock lock(&mu_);
  while (!results_.empty() && first_order_ <= up_to) {
    Entry& entry = results_.front();
    if (entry.state == State::kUnsent) --unsent_;
    // A result in flight (kTaken) has its TaskRef in the writer's batch;
    // Return then finds no entry for it and drops it.
    attempts_.erase(entry.key);
    results_.pop_front();
    ++first_order_;
  }
  first_unsent_ = std::max(first_unsent_, first_order_);
}

void Outbox::Forget() {
  absl::MutexLock lock(&mu_);
  started_.clear();
  results_.clear();
  attempts_.clear();
  first_order_ = next_order_;
  first_unsent_ = next_order_;
  unsent_ = 0;
  // A Register that did not carry every kept result still owes dagd the
  // mark that they are all in: the next batch says it.
  if (kept_end_ != 0) kept_end_ = next_order_;
}

void Outbox::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
  for (Entry& entry : results_) {
    if (entry.state != State::kSent) continue;
    entry.state = State::kUnsent;
    ++unsent_;
  }
  first_unsent_ = first_order_;
}

void Outbox::Seal() {
  absl::MutexLock lock(&mu_);
  sealed_ = true;
}

void Outbox::WantHeartbeat() {
  absl::MutexLock lock(&mu_);
  heartbeat_wanted_ = true;
}

void Outbox::Open() {
  absl::MutexLock lock(&mu_);
  closed_ = false;
  // A new stream: what the last one asked for is not owed on this one.
  asked_ack_ = false;
}

bool Outbox::TakeKept(v1::WorkerBatch* batch) {
  absl::MutexLock lock(&mu_);
  TakeUnsent(batch);
  kept_end_ = unsent_ > 0 ? next_order_ : 0;
  return kept_end_ == 0;
}

void Outbox::TakeUnsent(v1::WorkerBatch* batch) {
  size_t bytes = 0;
  size_t i = first_unsent_ - first_order_;
  for (; i < results_.size() && unsent_ > 0; ++i) {
    Entry& entry = results_[i];
    if (entry.state != State::kUnsent) continue;
    const size_t size = entry.result.ByteSizeLong();
    if (batch->results_size() > 0 && bytes + size > kMaxBatchBytes) break;
    bytes += size;
    *batch->add_results() = std::move(entry.result);
    entry.state = State::kTaken;
    --unsent_;
  }
  // Every result before i is taken or sent (or none is left unsent).
  first_unsent_ = first_order_ + i;
}

Outbox::Entry* Outbox::Find(uint64_t report_order) {
  if (report_order < first_order_) return nullptr;
  const uint64_t i = report_order - first_order_;
  return i < results_.size() ? &results_[i] : nullptr;
}

size_t Outbox::pending_results() const {
  absl::MutexLock lock(&mu_);
  return results_.size();
}

}  // namespace dagd
