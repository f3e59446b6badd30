// Where a task runs: the placement policy's interface, and the reason it
// gives for each choice. The scheduler finds the workers that could ever
// run a task (function, executor, labels, capacity) and asks the policy to
// choose among them; grants ahead and the takeover of running attempts go
// through it too. The reason is kept with the attempt and shown in
// TaskStatus.attempts[].placement and `dagctl tasks`.
//
// A policy is a pure function of what it is given: no clock, no state of
// its own beyond its settings, so a test drives it with plain values.
#ifndef DAGD_SERVER_PLACEMENT_POLICY_H_
#define DAGD_SERVER_PLACEMENT_POLICY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "dagd/v1/types.pb.h"
#include "server/executor.h"

namespace dagd {

// Why an attempt went where it did. Compact (a million-task job keeps one
// per attempt); its text is made only when someone asks.
struct PlacementReason {
  enum class Kind : uint8_t {
    kNone,         // not recorded (attempts from before this was kept)
    kHoldsInputs,  // `count` of `of` inputs were made there
    kHoldsBytes,   // `count` KiB of the inputs' `of` KiB are held there
    kLeastLoaded,  // the most free slots among those with room: `count`
    kLambda,       // executor "lambda": dagd's Lambda dispatcher
    kBurst,        // every worker busy for `count` ms: burst to Lambda
    kGranted,      // granted ahead after task index `count` of its job
    kTakenOver,    // running there when its worker (re)connected
    kReported,     // its result came from an attempt dagd did not place
    kMostLoaded,   // --placement=pack: the fewest free slots with room
  };
  Kind kind = Kind::kNone;
  uint32_t count = 0;
  uint32_t of = 0;
};

// How people read a reason: "placed on w1-2: holds 2 of 2 inputs".
// `after_task_id` names the predecessor of a grant.
std::string PlacementText(const PlacementReason& reason,
                          absl::string_view worker,
                          absl::string_view after_task_id);

// The reason in an attempt's compact stored form (Attempt.placement_kind,
// _count, _of); kNone when it has none (or an unknown kind).
PlacementReason StoredPlacement(const v1::Attempt& attempt);
void SetStoredPlacement(const PlacementReason& reason, v1::Attempt* attempt);
// An attempt read from the store, as dagd answers it: the compact reason
// turned into `placement` text. `after_task_id(index)` names the task a
// grant followed.
void FillPlacementText(
    v1::Attempt* attempt,
    const std::function<std::string(uint32_t index)>& after_task_id);

// A worker that could run the task.
struct Candidate {
  uint32_t free_slots = 0;
  bool has_room = false;  // slots and amounts free for the task now
  bool lambda = false;    // dagd's Lambda dispatcher
  // How many of the task's inputs it made (counted for those with room),
  // and how many bytes of them it holds (for every worker, room or not).
  uint32_t inputs_held = 0;
  uint64_t bytes_held = 0;
};

struct PlacementRequest {
  Executor::Kind executor = Executor::Kind::kAnyWorker;
  uint32_t inputs = 0;       // the task's inputs
  uint64_t input_bytes = 0;  // their size, where known
  // How long the task has been ready, for bursts and for waiting on the
  // worker that holds its inputs.
  absl::Duration waited = absl::ZeroDuration();
  // Bytes per second workers fetch at (their heartbeats), for what moving
  // inputs costs; 0: not known.
  double transfer_bytes_per_second = 0;
};

struct PlacementChoice {
  // Index into the candidates; nullopt: none now.
  std::optional<size_t> index;
  PlacementReason reason;
  // With no index: how much longer the task must wait before the answer
  // may change with nothing else changing (a burst); nullopt: never.
  std::optional<absl::Duration> ask_again_in;
};

// A grant ahead: the successor of a task just placed on a worker, waiting
// for nothing else, may go to the same worker to run right after it.
struct GrantRequest {
  bool worker_accepts_grants = false;
  bool job_has_parallelism_cap = false;
  // The successor fits there on its predecessor's slots and holds no
  // group or amounts.
  bool fits_after = false;
  // Recent mean run time of the successor's function; nullopt: none yet.
  std::optional<absl::Duration> typical_run_time;
};

// A running attempt a (re)connecting worker reports.
struct TakeOverRequest {
  bool task_ready = false;  // READY, not backing off
  bool has_room = false;    // the worker has its slots and amounts free
  bool group_free = false;  // its exclusive group, if any, is not held
  // Its job is at its max_parallelism, or its tenant at its
  // max_running_slots (the task ran again elsewhere meanwhile).
  bool job_at_limit = false;
};

class PlacementPolicy {
 public:
  virtual ~PlacementPolicy() = default;
  virtual PlacementChoice Place(const PlacementRequest& request,
                                absl::Span<const Candidate> candidates) = 0;
  // nullopt: do not grant.
  virtual std::optional<PlacementReason> Grant(const GrantRequest& request,
                                               uint32_t after_task) = 0;
  // nullopt: cancel the attempt there; the task runs again as placed.
  virtual std::optional<PlacementReason> TakeOver(
      const TakeOverRequest& request) = 0;
};

// Among workers holding none of a task's inputs, which one it goes to
// (dagd's --placement).
enum class Fill : uint8_t {
  // The least loaded: work spreads over every worker, each task on the one
  // with the most free slots.
  kSpread,
  // The most loaded that has room: work fills few workers and leaves the
  // rest idle, for an autoscaler to take away.
  kPack,
};

struct PlacementOptions {
  // Bursts to Lambda after a task waited this long; infinite: never.
  absl::Duration burst_after = absl::InfiniteDuration();
  // Grants only tasks whose function typically runs at most this long.
  absl::Duration grant_max_run_time = absl::Milliseconds(2);
  bool grants = true;
  Fill fill = Fill::kSpread;
};

// Today's rules (placement_rules.h): the worker holding most of the
// task's inputs, then the least loaded (or, with Fill::kPack, the most
// loaded with room); Lambda for its own tasks and, when
// every worker is busy long enough, as a burst; grants of short tasks.
std::unique_ptr<PlacementPolicy> MakeDefaultPlacementPolicy(
    PlacementOptions options);

}  // namespace dagd

#endif  // DAGD_SERVER_PLACEMENT_POLICY_H_
