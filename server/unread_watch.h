// Whether a worker reads what dagd writes to its stream, from the count of
// messages its heartbeats say it has read (Heartbeat.messages_read).
//
// A write to a worker completes once gRPC has taken it, not once the
// worker has read it: a worker that heartbeats but stopped reading is seen
// by its writes only when what it leaves unread fills the stream's window
// (8 MiB). Sixteen assignments of 64 KiB stayed unread, and their tasks
// ran nowhere, for as long as the worker heartbeated. Workers that count
// their reads are judged by the count instead.
#ifndef DAGD_SERVER_UNREAD_WATCH_H_
#define DAGD_SERVER_UNREAD_WATCH_H_

#include <chrono>
#include <cstdint>
#include <optional>

namespace dagd {

// Not thread-safe: one stream's reading thread uses it.
class UnreadWatch {
 public:
  using Clock = std::chrono::steady_clock;

  explicit UnreadWatch(Clock::duration max_unread) : max_unread_(max_unread) {}

  // A heartbeat says `read` messages were read; `written` had been handed
  // to gRPC by `now`. True when a message handed over more than
  // max_unread ago is still unread.
  //
  // One mark at a time, O(1): a message written by the time of a
  // heartbeat must be read within max_unread of that heartbeat, so the
  // verdict comes at most max_unread and a heartbeat interval late.
  bool Deaf(uint64_t read, uint64_t written, Clock::time_point now) {
    if (mark_ && read >= mark_->written) mark_.reset();
    if (mark_) return now - mark_->at > max_unread_;
    if (written > read) mark_ = Mark{written, now};
    return false;
  }

  // The heartbeats read next may be old (dagd held the stream's reads
  // back): their counts say nothing of the messages written since.
  void Reset() { mark_.reset(); }

 private:
  struct Mark {
    uint64_t written;      // to be read...
    Clock::time_point at;  // ...within max_unread_ of this
  };
  const Clock::duration max_unread_;
  std::optional<Mark> mark_;
};

}  // namespace dagd

#endif  // DAGD_SERVER_UNREAD_WATCH_H_
