#include "client/reconnect.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace dagd {

bool IsConnectionLoss(const absl::Status& status) {
  return absl::IsUnavailable(status);
}

Outage::Outage(absl::Duration budget, absl::Time deadline,
               std::function<absl::Time()> now,
               std::function<void(absl::Duration)> sleep,
               ConnectionCallback on_change)
    : budget_(std::max(budget, absl::ZeroDuration())),
      deadline_(deadline),
      now_(std::move(now)),
      sleep_(std::move(sleep)),
      on_change_(std::move(on_change)) {}

void Outage::Reached() {
  Answered();
  lost_ = false;
  answered_ = false;
  give_up_at_ = absl::InfiniteFuture();
  pause_ = kInitialRetryPause;
}

void Outage::Answered() {
  reached_ = true;
  if (!lost_ || answered_) return;
  answered_ = true;
  if (!on_change_) return;
  ConnectionChange change;
  change.kind = ConnectionChange::Kind::kRegained;
  change.outage = now_() - lost_at_;
  on_change_(change);
}

void Outage::Lost(const absl::Status& cause) {
  only_refused_ = (!lost_ || only_refused_) && absl::IsResourceExhausted(cause);
  // The error that began an outage says the most ("Socket closed"); the
  // tries after it only time out.
  if (lost_) {
    if (!answered_) return;
    // Lost again after an answer that did not last: the same outage.
    answered_ = false;
    if (!on_change_ || budget_ == absl::ZeroDuration()) return;
    ConnectionChange change;
    change.kind = ConnectionChange::Kind::kLost;
    change.cause = cause;
    change.was_connected = true;
    change.retry_for = std::max(give_up_at_ - now_(), absl::ZeroDuration());
    on_change_(change);
    return;
  }
  cause_ = cause;
  lost_ = true;
  lost_at_ = now_();
  give_up_at_ = budget_ == absl::InfiniteDuration()
                    ? deadline_
                    : std::min(lost_at_ + budget_, deadline_);
  // A zero budget promises no retry: nothing to announce.
  if (!on_change_ || budget_ == absl::ZeroDuration()) return;
  ConnectionChange change;
  change.kind = ConnectionChange::Kind::kLost;
  change.cause = cause;
  change.was_connected = reached_;
  change.retry_for = give_up_at_ - lost_at_;
  on_change_(change);
}

bool Outage::Pause() {
  const absl::Duration left = give_up_at_ - now_();
  if (left <= absl::ZeroDuration()) return false;
  sleep_(std::min(pause_, left));
  pause_ = std::min(pause_ * 2, kMaxRetryPause);
  return true;
}

absl::Status Outage::GiveUp() const {
  if (budget_ == absl::ZeroDuration()) return cause_;
  if (budget_ != absl::InfiniteDuration() && deadline_ < lost_at_ + budget_ &&
      now_() >= deadline_) {
    // The call's own time ran out before the outage's (a watch past
    // watch_timeout). A call whose deadline is its only bound (a
    // submission) ends UNAVAILABLE.
    return absl::DeadlineExceededError(
        absl::StrCat("the deadline passed while dagd could not be reached: ",
                     cause_.message()));
  }
  const std::string tried = absl::FormatDuration(
      absl::Trunc(give_up_at_ - lost_at_, absl::Milliseconds(1)));
  if (only_refused_) {
    // dagd answered, and refused each time (a watch read too slowly, too
    // many reads waiting): not a connection that was lost.
    return absl::ResourceExhaustedError(absl::StrCat(
        "dagd refused again and again for ", tried, ": ", cause_.message()));
  }
  return absl::UnavailableError(
      reached_ ? absl::StrCat("connection lost: ", cause_.message(),
                              "; none again within ", tried)
               : absl::StrCat("no connection within ", tried, ": ",
                              cause_.message()));
}

}  // namespace dagd
