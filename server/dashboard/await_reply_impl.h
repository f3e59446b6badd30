// AwaitReply's template body (declared in dashboard_source.h).
#ifndef DAGD_SERVER_DASHBOARD_AWAIT_REPLY_IMPL_H_
#define DAGD_SERVER_DASHBOARD_AWAIT_REPLY_IMPL_H_

#include <memory>
#include <optional>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace dagd {

template <typename T, typename Call>
absl::StatusOr<T> AwaitReply(Call call, absl::Duration timeout) {
  // Shared with the callback, which may run after this returns.
  struct Slot {
    absl::Notification done;
    std::optional<absl::StatusOr<T>> answer;
  };
  auto slot = std::make_shared<Slot>();
  call([slot](absl::StatusOr<T> answer) {
    slot->answer = std::move(answer);
    slot->done.Notify();
  });
  if (!slot->done.WaitForNotificationWithTimeout(timeout)) {
    return absl::DeadlineExceededError(absl::StrCat(
        "dagd did not answer within ", absl::FormatDuration(timeout)));
  }
  return *std::move(slot->answer);
}

}  // namespace dagd

#endif  // DAGD_SERVER_DASHBOARD_AWAIT_REPLY_IMPL_H_
