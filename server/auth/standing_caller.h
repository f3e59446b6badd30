// The caller of a long call (a WatchJob or ReadResult stream), who is
// checked again after each reread of the tokens file, so that a token taken
// off it (or given another tenant or role) ends the streams it opened
// before they send anything more, as the dashboard's event streams end.
//
// Thread rules: not thread-safe; each stream checks on one thread at a time
// (a watch on the coordinator's loop, or a query thread for a finished
// job; a result read step by step).
#ifndef DAGD_SERVER_AUTH_STANDING_CALLER_H_
#define DAGD_SERVER_AUTH_STANDING_CALLER_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "server/auth/authenticator.h"
#include "server/auth/principal.h"

namespace dagd {

class StandingCaller {
 public:
  // Without an authenticator (a call refused before it began) Check is
  // always OK.
  StandingCaller() = default;
  // `principal` is who `authorization` and `certificate` (as given to
  // Authenticator::Authenticate) were found to be, by a lookup that began
  // at the file's `generation` (read before it: a reread between the two
  // is then looked at again); `authenticator` outlives this.
  StandingCaller(const Authenticator* authenticator, uint64_t generation,
                 Principal principal, std::optional<std::string> authorization,
                 std::optional<std::string> certificate);

  const Principal& principal() const { return principal_; }

  // OK while the tokens file still names the caller as it did. Looks again
  // only after a reread of the file (one atomic load otherwise). Once not
  // OK, never again OK: UNAUTHENTICATED, saying the stream was ended.
  absl::Status Check();

 private:
  const Authenticator* authenticator_ = nullptr;
  Principal principal_;
  std::optional<std::string> authorization_;
  std::optional<std::string> certificate_;
  uint64_t generation_ = 0;  // the file's reread Check last looked at
  absl::Status revoked_;
};

}  // namespace dagd

#endif  // DAGD_SERVER_AUTH_STANDING_CALLER_H_
