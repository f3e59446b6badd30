#ifndef DAGD_SERVER_STREAM_WRITER_H_
#define DAGD_SERVER_STREAM_WRITER_H_

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"

namespace dagd {

// Queues messages for a callback reactor that allows one write in flight:
// Push never blocks, and each message goes out when the previous write is
// done. Finish waits for queued writes. Detach (from the reactor's OnDone)
// turns every later call into a no-op, so whoever still holds this object
// can outlive the reactor safely.
//
// A reader that does not keep up cannot make dagd hold its messages
// without bound: past `max_queued_bytes` unsent, the queue is dropped and
// the stream ends with RESOURCE_EXHAUSTED. Stalled() tells how long the
// write in flight has waited, for readers that stopped reading while the
// queue is still small.
template <typename Reactor, typename Message>
class StreamWriter {
 public:
  // 0: no bound.
  explicit StreamWriter(Reactor* reactor, uint64_t max_queued_bytes = 0)
      : reactor_(reactor), max_queued_bytes_(max_queued_bytes) {}

  void Push(Message message) {
    absl::MutexLock lock(&mu_);
    if (reactor_ == nullptr || finishing_) return;
    if (max_queued_bytes_ != 0) {
      const uint64_t size = message.ByteSizeLong();
      if (queued_bytes_ + size > max_queued_bytes_) return Overflow();
      queued_bytes_ += size;
      sizes_.push_back(size);
    }
    queue_.push_back(std::move(message));
    if (!writing_) StartNext();
  }

  // How long the write in flight has waited for the reader; zero when
  // nothing is being written.
  std::chrono::steady_clock::duration Stalled() {
    absl::MutexLock lock(&mu_);
    if (!writing_) return std::chrono::steady_clock::duration::zero();
    return std::chrono::steady_clock::now() - write_started_;
  }

  // Messages whose write completed: gRPC took them (the reader may not
  // have read them yet).
  uint64_t written() {
    absl::MutexLock lock(&mu_);
    return written_;
  }

  void FinishAfterWrites(grpc::Status status) {
    absl::MutexLock lock(&mu_);
    if (reactor_ == nullptr || finishing_) return;
    finishing_ = true;
    status_ = std::move(status);
    if (!writing_) reactor_->Finish(status_);
  }

  // Finishes with `status` without waiting for the write in flight: its
  // call is cancelled (reactor->CancelCall()), which ends that write, and the
  // stream finishes then. For a reader dagd gave up on.
  void Abandon(grpc::Status status) {
    absl::MutexLock lock(&mu_);
    // Finishing with nothing in flight: Finish was called already.
    if (reactor_ == nullptr || (finishing_ && !writing_)) return;
    if (!finishing_) {
      finishing_ = true;
      status_ = std::move(status);
    }
    if (!writing_) {
      queue_.clear();
      sizes_.clear();
      reactor_->Finish(status_);
      return;
    }
    // The write in flight stays until gRPC is done with it.
    queue_.erase(queue_.begin() + 1, queue_.end());
    sizes_.erase(sizes_.begin() + std::min<size_t>(sizes_.size(), 1),
                 sizes_.end());
    reactor_->CancelCall();
  }

  // From the reactor's OnWriteDone.
  void WriteDone(bool ok) {
    absl::MutexLock lock(&mu_);
    if (reactor_ == nullptr) return;
    if (!sizes_.empty()) {
      queued_bytes_ -= sizes_.front();
      sizes_.pop_front();
    }
    queue_.pop_front();
    writing_ = false;
    if (ok) ++written_;
    if (!ok) {
      // The peer is gone; nothing more can be written.
      queue_.clear();
      sizes_.clear();
      if (!finishing_) {
        finishing_ = true;
        status_ = grpc::Status(grpc::StatusCode::CANCELLED, "peer went away");
      }
    }
    if (!queue_.empty()) {
      StartNext();
    } else if (finishing_) {
      reactor_->Finish(status_);
    }
  }

  // The code the stream finished with (OK until it finishes).
  grpc::StatusCode finish_code() {
    absl::MutexLock lock(&mu_);
    return status_.error_code();
  }

  void Detach() {
    absl::MutexLock lock(&mu_);
    reactor_ = nullptr;
    queue_.clear();
    sizes_.clear();
  }

 private:
  // The reader is too far behind: what it has not read is dropped (the
  // write in flight stays: gRPC still holds it) and the stream ends.
  void Overflow() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    finishing_ = true;
    status_ = grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        "the reader fell more than " + std::to_string(max_queued_bytes_) +
            " bytes behind; dagd closed the stream (read it faster, or "
            "watch with end_only)");
    if (writing_) {
      queue_.erase(queue_.begin() + 1, queue_.end());
      sizes_.erase(sizes_.begin() + 1, sizes_.end());
    } else {
      queue_.clear();
      sizes_.clear();
      reactor_->Finish(status_);
    }
  }

  void StartNext() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    writing_ = true;
    write_started_ = std::chrono::steady_clock::now();
    // std::deque keeps the front's address stable while others are pushed.
    reactor_->StartWrite(&queue_.front());
  }

  absl::Mutex mu_;
  Reactor* reactor_ ABSL_GUARDED_BY(mu_);
  const uint64_t max_queued_bytes_;
  // Of the queue, as ByteSizeLong counted them when pushed; one size per
  // queued message, with a bound only.
  uint64_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<uint64_t> sizes_ ABSL_GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point write_started_ ABSL_GUARDED_BY(mu_);
  std::deque<Message> queue_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t written_ ABSL_GUARDED_BY(mu_) = 0;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dagd

#endif  // DAGD_SERVER_STREAM_WRITER_H_
