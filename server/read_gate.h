#ifndef DAGD_SERVER_READ_GATE_H_
#define DAGD_SERVER_READ_GATE_H_

#include <cstdint>
#include <functional>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace dagd {

// Bounds what one worker stream has handed to the scheduler's thread that
// the thread has not handled yet. A worker's stream reads its next message
// as soon as it posted the last one; a worker that sends faster than dagd
// handles (a flood, or a slow store under a burst) would grow dagd's queue
// without bound. Past `max_bytes` the stream's next read waits until the
// backlog is down to half, and HTTP/2 flow control holds the worker back.
// Below the bound reads go on at once, as before: a gate costs a lock per
// message and changes nothing for a worker dagd keeps up with.
//
// Thread-safe: Posted and Close come from the stream's gRPC callbacks,
// Handled from the scheduler's thread.
class ReadGate {
 public:
  // `resume` starts the stream's next read; called from Handled, outside
  // the gate's lock (gRPC may run the read's callback, which posts through
  // this gate, before StartRead returns), never after Close returned.
  ReadGate(uint64_t max_bytes, std::function<void()> resume)
      : max_bytes_(max_bytes), resume_(std::move(resume)) {}

  // A message of `bytes` was read and is posted. True: start the next
  // read now; false: Handled will, once the backlog is down to half.
  bool Posted(uint64_t bytes) {
    absl::MutexLock lock(&mu_);
    backlog_ += bytes;
    if (backlog_ <= max_bytes_) return true;
    held_ = true;
    return false;
  }

  // The scheduler's thread handled a message of `bytes`.
  void Handled(uint64_t bytes) {
    {
      absl::MutexLock lock(&mu_);
      backlog_ -= bytes < backlog_ ? bytes : backlog_;
      if (!held_ || closed_ || backlog_ > max_bytes_ / 2) return;
      held_ = false;
      resuming_ = true;
      resumer_ = std::this_thread::get_id();
    }
    resume_();
    std::function<void()> finish;
    {
      absl::MutexLock lock(&mu_);
      resuming_ = false;
      finish = std::move(finish_);
      finish_ = nullptr;
    }
    // The stream is to end, and its read has started: now it may.
    if (finish) finish();
  }

  // The stream is about to finish (`finish` calls its reactor's Finish):
  // nothing resumes it from now on. A read started after Finish would
  // outlive the stream (gRPC ends it, and frees the reactor the read writes
  // into, once nothing is pending). So when a resume is starting a read on
  // another thread, that thread calls `finish` once the read has started,
  // and this returns false; otherwise it returns true, and the caller
  // finishes. Never waits: the caller may hold locks the resumed read's
  // callbacks take.
  bool Finishing(std::function<void()> finish) {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    if (!resuming_ || resumer_ == std::this_thread::get_id()) return true;
    finish_ = std::move(finish);
    return false;
  }

  // The stream is done (its reactor's OnDone): nothing resumes it any
  // more. Waits for a resume in progress on another thread; on this one
  // (gRPC ran the stream's end inside the resumed StartRead) the resume
  // touches nothing of the reactor after StartRead returns.
  void Close() {
    absl::MutexLock lock(&mu_);
    if (!(resuming_ && resumer_ == std::this_thread::get_id())) {
      mu_.Await(absl::Condition(
          +[](bool* resuming) { return !*resuming; }, &resuming_));
    }
    closed_ = true;
  }

 private:
  const uint64_t max_bytes_;
  const std::function<void()> resume_;
  absl::Mutex mu_;
  uint64_t backlog_ ABSL_GUARDED_BY(mu_) = 0;
  bool held_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool resuming_ ABSL_GUARDED_BY(mu_) = false;    // resume_ is running
  std::thread::id resumer_ ABSL_GUARDED_BY(mu_);  // on this thread
  // Finishing's, for the resume in progress to call.
  std::function<void()> finish_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dagd

#endif  // DAGD_SERVER_READ_GATE_H_
