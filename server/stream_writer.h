#ifndef DAGD_SERVER_STREAM_WRITER_H_
#define DAGD_SERVER_STREAM_WRITER_H_

#include <deque>
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
template <typename Reactor, typename Message>
class StreamWriter {
 public:
  explicit StreamWriter(Reactor* reactor) : reactor_(reactor) {}

  void Push(Message message) {
    absl::MutexLock lock(&mu_);
    if (reactor_ == nullptr || finishing_) return;
    queue_.push_back(std::move(message));
    if (!writing_) StartNext();
  }

  void FinishAfterWrites(grpc::Status status) {
    absl::MutexLock lock(&mu_);
    if (reactor_ == nullptr || finishing_) return;
    finishing_ = true;
    status_ = std::move(status);
    if (!writing_) reactor_->Finish(status_);
  }

  // From the reactor's OnWriteDone.
  void WriteDone(bool ok) {
    absl::MutexLock lock(&mu_);
    if (reactor_ == nullptr) return;
    queue_.pop_front();
    writing_ = false;
    if (!ok) {
      // The peer is gone; nothing more can be written.
      queue_.clear();
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
  }

 private:
  void StartNext() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    writing_ = true;
    // std::deque keeps the front's address stable while others are pushed.
    reactor_->StartWrite(&queue_.front());
  }

  absl::Mutex mu_;
  Reactor* reactor_ ABSL_GUARDED_BY(mu_);
  std::deque<Message> queue_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dagd

#endif  // DAGD_SERVER_STREAM_WRITER_H_
