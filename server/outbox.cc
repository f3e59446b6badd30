#include "server/outbox.h"

#include <utility>

#include "server/batch_split.h"

namespace dagd {

Outbox::Outbox(size_t max_message_bytes)
    : max_message_bytes_(max_message_bytes), thread_([this] { Run(); }) {}

Outbox::~Outbox() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    wake_.Signal();
  }
  thread_.join();
}

void Outbox::Post(std::vector<Letter> letters) {
  if (letters.empty()) return;
  absl::MutexLock lock(&mu_);
  if (queue_.empty()) {
    queue_ = std::move(letters);
    wake_.Signal();
  } else {
    for (Letter& letter : letters) queue_.push_back(std::move(letter));
  }
  ++posted_;
}

void Outbox::Flush() {
  absl::MutexLock lock(&mu_);
  const uint64_t target = posted_;
  while (handed_ < target) handed_over_.Wait(&mu_);
}

size_t Outbox::Backlog() {
  absl::MutexLock lock(&mu_);
  return queue_.size() + in_hand_;
}

void Outbox::Run() {
  std::vector<Letter> letters;
  while (true) {
    uint64_t posted;
    {
      absl::MutexLock lock(&mu_);
      while (queue_.empty() && !stopping_) wake_.Wait(&mu_);
      if (queue_.empty()) return;  // stopping, and everything handed over
      letters.swap(queue_);
      posted = posted_;
      in_hand_ = letters.size();
    }
    for (Letter& letter : letters) Hand(letter);
    // Freed here, not on the loop thread.
    letters.clear();
    absl::MutexLock lock(&mu_);
    handed_ = posted;
    in_hand_ = 0;
    handed_over_.SignalAll();
  }
}

void Outbox::Hand(Letter& letter) const {
  if (letter.close) {
    if (letter.drop) {
      letter.to->Drop(*std::move(letter.close));
    } else {
      letter.to->Close(*std::move(letter.close));
    }
    return;
  }
  if (!letter.message.has_batch()) {
    letter.to->Send(std::move(letter.message));
    return;
  }
  for (v1::CoordinatorBatch& piece : SplitBatch(
           std::move(*letter.message.mutable_batch()), max_message_bytes_)) {
    v1::CoordinatorMessage message;
    *message.mutable_batch() = std::move(piece);
    letter.to->Send(std::move(message));
  }
}

}  // namespace dagd
