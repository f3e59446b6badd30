// The rules the default placement policy is made of, one function each,
// so a policy can take some and leave others.
#ifndef DAGD_SERVER_PLACEMENT_RULES_H_
#define DAGD_SERVER_PLACEMENT_RULES_H_

#include <optional>

#include "absl/time/time.h"
#include "absl/types/span.h"
#include "server/placement_policy.h"

namespace dagd {

// Among the workers (not Lambda) with room: the one that made most of the
// task's inputs (they are already there), then the one with the most free
// slots (Fill::kSpread) or the fewest (Fill::kPack); equal ones by their
// order in `candidates`. nullopt when none has room.
std::optional<PlacementChoice> PreferLocalThenByLoad(
    const PlacementRequest& request, absl::Span<const Candidate> candidates,
    Fill fill);

// The worker holding the most bytes of the task's inputs has no room: the
// task waits for it as long as moving the bytes it holds beyond what the
// best worker with room holds would take (at the measured transfer rate),
// then goes elsewhere. nullopt when the rule does not apply (nothing held,
// the holder has room, no rate known, or the wait is over); a choice
// without index says when to ask again.
std::optional<PlacementChoice> WaitForTheHolder(
    const PlacementRequest& request, absl::Span<const Candidate> candidates);

// A task of executor "lambda" goes to the Lambda dispatcher when it has
// room.
std::optional<PlacementChoice> LambdaForItsOwn(
    const PlacementRequest& request, absl::Span<const Candidate> candidates);

// No worker has room: a task any worker could run goes to Lambda once it
// has waited `after`. A task none of the workers could ever run waits (it
// would fail on Lambda for want of what it asked for). nullopt when the
// rule does not apply; a choice without index says when to ask again.
std::optional<PlacementChoice> BurstToLambda(
    const PlacementRequest& request, absl::Span<const Candidate> candidates,
    absl::Duration after);

// Grants ahead only short tasks: a grant holds its slot, so long tasks
// would make higher-priority work wait, and gain little from it.
bool GrantsShortTasks(const GrantRequest& request, absl::Duration max_run_time);

}  // namespace dagd

#endif  // DAGD_SERVER_PLACEMENT_RULES_H_
