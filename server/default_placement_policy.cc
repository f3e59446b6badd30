// The default placement policy: today's rules, composed.

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/placement_policy.h"
#include "server/placement_rules.h"

namespace dagd {
namespace {

// "512 KiB", "286 MiB", "1.5 GiB": a size for people, from KiB.
std::string KibText(uint32_t kib) {
  if (kib < 1024) return absl::StrCat(kib, " KiB");
  if (kib < 1024 * 1024) return absl::StrFormat("%.0f MiB", kib / 1024.0);
  return absl::StrFormat("%.1f GiB", kib / (1024.0 * 1024.0));
}

class DefaultPlacementPolicy : public PlacementPolicy {
 public:
  explicit DefaultPlacementPolicy(PlacementOptions options)
      : options_(options) {}

  PlacementChoice Place(const PlacementRequest& request,
                        absl::Span<const Candidate> candidates) override {
    if (auto lambda = LambdaForItsOwn(request, candidates)) return *lambda;
    if (auto wait = WaitForTheHolder(request, candidates)) return *wait;
    if (auto local =
            PreferLocalThenByLoad(request, candidates, options_.fill)) {
      return *local;
    }
    if (auto burst = BurstToLambda(request, candidates, options_.burst_after)) {
      return *burst;
    }
    return PlacementChoice{};
  }

  std::optional<PlacementReason> Grant(const GrantRequest& request,
                                       uint32_t after_task) override {
    // A job with a parallelism cap counts running tasks; grants would run
    // outside that count.
    if (!options_.grants || !request.worker_accepts_grants ||
        request.job_has_parallelism_cap || !request.fits_after ||
        !GrantsShortTasks(request, options_.grant_max_run_time)) {
      return std::nullopt;
    }
    return PlacementReason{PlacementReason::Kind::kGranted, after_task, 0};
  }

  std::optional<PlacementReason> TakeOver(
      const TakeOverRequest& request) override {
    // Anything else would run beside what the scheduler counts.
    if (!request.task_ready || !request.has_room || !request.group_free ||
        request.job_at_limit) {
      return std::nullopt;
    }
    return PlacementReason{PlacementReason::Kind::kTakenOver, 0, 0};
  }

 private:
  const PlacementOptions options_;
};

}  // namespace

std::string PlacementText(const PlacementReason& reason,
                          absl::string_view worker,
                          absl::string_view after_task_id) {
  using Kind = PlacementReason::Kind;
  switch (reason.kind) {
    case Kind::kNone:
      return "";
    case Kind::kHoldsInputs:
      return absl::StrCat("placed on ", worker, ": holds ", reason.count,
                          " of ", reason.of, " input",
                          reason.of == 1 ? "" : "s");
    case Kind::kHoldsBytes:
      return absl::StrCat("placed on ", worker, ": holds ",
                          KibText(reason.count), " of the ", KibText(reason.of),
                          " of its inputs");
    case Kind::kLeastLoaded:
      return absl::StrCat("placed on ", worker, ": least loaded (",
                          reason.count, " free slot",
                          reason.count == 1 ? "" : "s", ")");
    case Kind::kMostLoaded:
      return absl::StrCat("placed on ", worker, ": most loaded with room (",
                          reason.count, " free slot",
                          reason.count == 1 ? "" : "s", ")");
    case Kind::kLambda:
      return "placed on Lambda: executor lambda";
    case Kind::kBurst:
      return absl::StrFormat("burst to Lambda: every worker busy for %.1f s",
                             reason.count / 1000.0);
    case Kind::kGranted:
      return absl::StrCat("granted ahead on ", worker, " after task '",
                          after_task_id, "'");
    case Kind::kTakenOver:
      return absl::StrCat("taken over on ", worker,
                          ": running there when it connected");
    case Kind::kReported:
      return absl::StrCat("taken over on ", worker,
                          ": its result came from an attempt made before");
  }
  return "";
}

PlacementReason StoredPlacement(const v1::Attempt& attempt) {
  using Kind = PlacementReason::Kind;
  if (attempt.placement_kind() == 0 ||
      attempt.placement_kind() > static_cast<uint32_t>(Kind::kMostLoaded)) {
    return PlacementReason{};
  }
  return PlacementReason{static_cast<Kind>(attempt.placement_kind()),
                         attempt.placement_count(), attempt.placement_of()};
}

void SetStoredPlacement(const PlacementReason& reason, v1::Attempt* attempt) {
  if (reason.kind == PlacementReason::Kind::kNone) return;
  attempt->set_placement_kind(static_cast<uint32_t>(reason.kind));
  attempt->set_placement_count(reason.count);
  attempt->set_placement_of(reason.of);
}

void FillPlacementText(
    v1::Attempt* attempt,
    const std::function<std::string(uint32_t index)>& after_task_id) {
  const PlacementReason reason = StoredPlacement(*attempt);
  attempt->clear_placement_kind();
  attempt->clear_placement_count();
  attempt->clear_placement_of();
  if (reason.kind == PlacementReason::Kind::kNone) return;
  attempt->set_placement(
      PlacementText(reason, attempt->worker(),
                    reason.kind == PlacementReason::Kind::kGranted
                        ? after_task_id(reason.count)
                        : std::string()));
}

std::unique_ptr<PlacementPolicy> MakeDefaultPlacementPolicy(
    PlacementOptions options) {
  return std::make_unique<DefaultPlacementPolicy>(options);
}

}  // namespace dagd
