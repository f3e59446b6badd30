#include "server/placement_rules.h"

#include <algorithm>

namespace dagd {

std::optional<PlacementChoice> PreferLocalThenByLoad(
    const PlacementRequest& request, absl::Span<const Candidate> candidates,
    Fill fill) {
  const bool pack = fill == Fill::kPack;
  std::optional<size_t> best;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const Candidate& c = candidates[i];
    if (c.lambda || !c.has_room) continue;
    // Most bytes held first: moving them costs more than any count of
    // small inputs; then most inputs; then by load.
    if (!best) {
      best = i;
      continue;
    }
    const Candidate& b = candidates[*best];
    const bool better_load =
        pack ? c.free_slots < b.free_slots : c.free_slots > b.free_slots;
    if (c.bytes_held > b.bytes_held ||
        (c.bytes_held == b.bytes_held &&
         (c.inputs_held > b.inputs_held ||
          (c.inputs_held == b.inputs_held && better_load)))) {
      best = i;
    }
  }
  if (!best) return std::nullopt;
  PlacementChoice choice;
  choice.index = best;
  const Candidate& c = candidates[*best];
  constexpr uint64_t kKiB = 1024;
  if (c.bytes_held >= kKiB && request.input_bytes > 0) {
    auto kib = [](uint64_t bytes) {
      return static_cast<uint32_t>(
          std::min<uint64_t>((bytes + kKiB - 1) / kKiB, UINT32_MAX));
    };
    choice.reason = {PlacementReason::Kind::kHoldsBytes, kib(c.bytes_held),
                     kib(request.input_bytes)};
  } else if (c.inputs_held > 0) {
    choice.reason = {PlacementReason::Kind::kHoldsInputs, c.inputs_held,
                     request.inputs};
  } else {
    choice.reason = {pack ? PlacementReason::Kind::kMostLoaded
                          : PlacementReason::Kind::kLeastLoaded,
                     c.free_slots, 0};
  }
  return choice;
}

std::optional<PlacementChoice> WaitForTheHolder(
    const PlacementRequest& request, absl::Span<const Candidate> candidates) {
  if (request.input_bytes == 0 || request.transfer_bytes_per_second <= 0) {
    return std::nullopt;
  }
  uint64_t busy_holder = 0;  // bytes held by the best worker without room
  uint64_t with_room = 0;    // bytes held by the best worker with room
  for (const Candidate& c : candidates) {
    if (c.lambda) continue;
    uint64_t& best = c.has_room ? with_room : busy_holder;
    best = std::max(best, c.bytes_held);
  }
  if (busy_holder <= with_room) return std::nullopt;
  const absl::Duration move =
      absl::Seconds(static_cast<double>(busy_holder - with_room) /
                    request.transfer_bytes_per_second);
  if (request.waited >= move) return std::nullopt;
  PlacementChoice wait;
  wait.ask_again_in = move - request.waited;
  return wait;
}

std::optional<PlacementChoice> LambdaForItsOwn(
    const PlacementRequest& request, absl::Span<const Candidate> candidates) {
  if (request.executor != Executor::Kind::kLambda) return std::nullopt;
  PlacementChoice choice;
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (candidates[i].lambda && candidates[i].has_room) {
      choice.index = i;
      choice.reason = {PlacementReason::Kind::kLambda, 0, 0};
      break;
    }
  }
  return choice;
}

std::optional<PlacementChoice> BurstToLambda(
    const PlacementRequest& request, absl::Span<const Candidate> candidates,
    absl::Duration after) {
  if (request.executor != Executor::Kind::kAnyWorker ||
      after == absl::InfiniteDuration()) {
    return std::nullopt;
  }
  std::optional<size_t> lambda;
  bool any_worker = false;
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (!candidates[i].lambda) {
      any_worker = true;
    } else if (candidates[i].has_room) {
      lambda = i;
    }
  }
  if (!lambda || !any_worker) return std::nullopt;
  PlacementChoice choice;
  if (request.waited >= after) {
    choice.index = lambda;
    const int64_t ms = absl::ToInt64Milliseconds(request.waited);
    choice.reason = {PlacementReason::Kind::kBurst,
                     static_cast<uint32_t>(std::min<int64_t>(ms, UINT32_MAX)),
                     0};
  } else {
    choice.ask_again_in = after - request.waited;
  }
  return choice;
}

bool GrantsShortTasks(const GrantRequest& request,
                      absl::Duration max_run_time) {
  return request.typical_run_time.has_value() &&
         *request.typical_run_time <= max_run_time;
}

}  // namespace dagd
