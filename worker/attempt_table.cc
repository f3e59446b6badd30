#include "worker/attempt_table.h"

#include <vector>

namespace dagd {

AttemptTable::Key AttemptTable::KeyOf(const v1::TaskRef& ref) {
  return Key(ref.job_id(), ref.task_index(), ref.attempt());
}

std::shared_ptr<CancellationToken> AttemptTable::Add(const v1::TaskRef& ref,
                                                     uint32_t slots) {
  absl::MutexLock lock(&mu_);
  auto token = std::make_shared<CancellationToken>();
  if (!attempts_.emplace(KeyOf(ref), Entry{token, slots, ref.seal()}).second) {
    return nullptr;
  }
  busy_slots_ += slots;
  return token;
}

void AttemptTable::Remove(const v1::TaskRef& ref) {
  absl::MutexLock lock(&mu_);
  auto it = attempts_.find(KeyOf(ref));
  if (it == attempts_.end()) return;
  busy_slots_ -= it->second.slots;
  attempts_.erase(it);
}

void AttemptTable::PassSlots(const v1::TaskRef& from, const v1::TaskRef& to) {
  absl::MutexLock lock(&mu_);
  auto from_it = attempts_.find(KeyOf(from));
  if (from_it == attempts_.end()) return;
  const uint32_t slots = from_it->second.slots;
  attempts_.erase(from_it);
  auto to_it = attempts_.find(KeyOf(to));
  if (to_it != attempts_.end()) {
    to_it->second.slots += slots;
  } else {
    busy_slots_ -= slots;
  }
}

bool AttemptTable::Contains(const v1::TaskRef& ref) const {
  absl::MutexLock lock(&mu_);
  return attempts_.find(KeyOf(ref)) != attempts_.end();
}

bool AttemptTable::Cancel(const v1::TaskRef& ref, CancelReason reason) {
  std::shared_ptr<CancellationToken> token;
  {
    absl::MutexLock lock(&mu_);
    auto it = attempts_.find(KeyOf(ref));
    if (it == attempts_.end()) return false;
    token = it->second.token;
  }
  // Outside the lock: cancel callbacks (killing a process group) may take
  // a moment, and must not stall heartbeats or new assignments.
  token->Cancel(reason);
  return true;
}

void AttemptTable::CancelAll(CancelReason reason) {
  std::vector<std::shared_ptr<CancellationToken>> tokens;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [key, entry] : attempts_) tokens.push_back(entry.token);
  }
  for (const auto& token : tokens) token->Cancel(reason);
}

std::vector<v1::TaskRef> AttemptTable::Refs() const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::TaskRef> refs;
  refs.reserve(attempts_.size());
  for (const auto& [key, entry] : attempts_) {
    v1::TaskRef& ref = refs.emplace_back();
    ref.set_job_id(std::get<0>(key));
    ref.set_task_index(std::get<1>(key));
    ref.set_attempt(std::get<2>(key));
    ref.set_seal(entry.seal);
  }
  return refs;
}

uint32_t AttemptTable::busy_slots() const {
  absl::MutexLock lock(&mu_);
  return busy_slots_;
}

size_t AttemptTable::size() const {
  absl::MutexLock lock(&mu_);
  return attempts_.size();
}

bool AttemptTable::WaitUntilEmpty(absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto empty = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return attempts_.empty();
  };
  return mu_.AwaitWithTimeout(absl::Condition(&empty), timeout);
}

}  // namespace dagd
