// How a Client call rides through losing its coordinator: a dagd killed and
// restarted, upgraded, or rescheduled to another node behind the same
// address. dagd keeps every acknowledged job across a restart, so a call
// that waits for a job can simply find it again once dagd answers.
//
// An Outage belongs to one call (a Watch, a Wait, a submission) and runs on
// that call's thread. It reports each loss of the coordinator once, and its
// return once; it paces the retries in between (a doubling pause from
// kInitialRetryPause, capped at kMaxRetryPause) and says when the call has
// tried long enough.
#ifndef DAGD_CLIENT_RECONNECT_H_
#define DAGD_CLIENT_RECONNECT_H_

#include <functional>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace dagd {

// The first pause between two attempts to reach a lost coordinator, and the
// longest: a restarted dagd is noticed within about kMaxRetryPause.
inline constexpr absl::Duration kInitialRetryPause = absl::Milliseconds(100);
inline constexpr absl::Duration kMaxRetryPause = absl::Seconds(2);

// A change in a call's link to the coordinator, for the caller to log.
struct ConnectionChange {
  enum class Kind { kLost, kRegained };
  Kind kind = Kind::kLost;
  // kLost: what went wrong ("Socket closed", "failed to connect to all
  // addresses", "dagd is shutting down").
  absl::Status cause;
  // kLost: whether the call had reached the coordinator before (false when
  // it was unreachable from the start).
  bool was_connected = false;
  // kLost: how long the call keeps trying before it gives up.
  absl::Duration retry_for;
  // kRegained: how long the coordinator was lost.
  absl::Duration outage;
};
using ConnectionCallback = std::function<void(const ConnectionChange&)>;

// True for the errors a restart of the coordinator causes: UNAVAILABLE (the
// connection broke or was refused, or dagd said it is shutting down). A
// call that gets one may try again once the coordinator is back.
bool IsConnectionLoss(const absl::Status& status);

// One call's outages. Not thread-safe; lives on the calling thread.
class Outage {
 public:
  // `budget`: how long one outage may last before the call gives up
  // (zero: give up at once). `deadline`: when the whole call must end, an
  // outage or not (InfiniteFuture() for never). `on_change` may be null.
  Outage(absl::Duration budget, absl::Time deadline,
         std::function<absl::Time()> now,
         std::function<void(absl::Duration)> sleep,
         ConnectionCallback on_change);

  // The call reached the coordinator (an answer or an event came). Ends an
  // outage, reporting kRegained (unless Answered did), and starts the
  // pauses over.
  void Reached();
  // An answer that does not show the link holds: a watch's snapshot, which
  // a proxy that passes calls but breaks streams lets through too. Reports
  // kRegained, but the outage goes on (its time and pauses) until Reached.
  void Answered();
  // The call lost the coordinator with `cause`. Starts an outage, reporting
  // kLost; during one, changes nothing, except after Answered: then it
  // reports kLost again, with the time the outage has left.
  void Lost(const absl::Status& cause);

  // Whether an outage is under way (Answered or not).
  bool lost() const { return lost_; }
  // When the outage under way ends the call (InfiniteFuture() when none is).
  absl::Time give_up_at() const { return give_up_at_; }
  // Waits before the next attempt: the next step of the backoff, never past
  // give_up_at(). False, at once, when no time is left: call GiveUp().
  bool Pause();
  // The error that ends the call: the outage's cause itself when the
  // budget is zero (no retry was promised), DEADLINE_EXCEEDED once the
  // call's deadline has cut a finite budget short, else UNAVAILABLE saying
  // how long the call tried and what began the outage.
  absl::Status GiveUp() const;

 private:
  // Constant after construction.
  const absl::Duration budget_;
  const absl::Time deadline_;
  const std::function<absl::Time()> now_;
  const std::function<void(absl::Duration)> sleep_;
  const ConnectionCallback on_change_;

  bool reached_ = false;   // the coordinator answered this call at least once
  bool lost_ = false;      // an outage is under way
  bool answered_ = false;  // during it: kRegained was reported (Answered)
  absl::Time lost_at_;     // valid while lost_
  absl::Time give_up_at_ = absl::InfiniteFuture();  // valid while lost_
  absl::Status cause_;  // what began the outage under way, or the last one
  // Every Lost of the outage under way was RESOURCE_EXHAUSTED: dagd
  // answered, refusing, each time.
  bool only_refused_ = false;
  absl::Duration pause_ = kInitialRetryPause;  // the next Pause()
};

}  // namespace dagd

#endif  // DAGD_CLIENT_RECONNECT_H_
