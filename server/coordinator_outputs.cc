// Jobs' outputs held by workers, copied into dagd's store (OutputKeeper)
// and recorded as stored by the scheduler. A job's deletion waits for the
// copies of its outputs in flight; a copy of a job being deleted is not
// started.

#include <utility>
#include <vector>

#include "server/coordinator.h"
#include "server/log.h"

namespace dagd {

void Coordinator::KeepOutputs(std::vector<OutputToKeep> outputs) {
  if (keeper_ == nullptr) return;
  for (OutputToKeep& output : outputs) {
    if (deleting_.contains(output.seq)) continue;
    ++keeping_[output.seq].copies;
    ++copying_from_[HolderKey(output.ref)];
    keeper_->Keep(std::move(output), [this](const OutputToKeep& output,
                                            absl::StatusOr<KeptOutput> kept) {
      Post([this, output, kept = std::move(kept)]() mutable {
        OnOutputCopied(output, std::move(kept));
      });
    });
  }
}

void Coordinator::OnOutputCopied(const OutputToKeep& output,
                                 absl::StatusOr<KeptOutput> kept) {
  if (kept.ok()) {
    scheduler_.OnOutputKept(output, *std::move(kept));
  } else if ((output.check_record && absl::IsNotFound(kept.status())) ||
             IsStaleCopy(kept.status())) {
    // A key a worker listed at registration that no stored record waits
    // for (a deleted job's output, a finished job's intermediate, one
    // copied already), or an older attempt's output, replaced while it was
    // copied: nothing will read it, so its holder frees it, once the
    // records read are synced (a copy's may not be yet).
    std::vector<v1::ObjectRef> stray = {output.ref};
    ReleaseWhenSynced(stray, /*synced=*/false);
  } else if (!absl::IsFailedPrecondition(kept.status())) {
    // It stays held: readable while its worker lives, copied again when
    // the worker registers with it after a restart of dagd.
    LOG(WARNING).Job(JobIdFromSeq(output.seq))
        << "the output of task " << output.index
        << " could not be copied into dagd's store; it stays on its worker: "
        << kept.status().message();
  }
  if (auto from = copying_from_.find(HolderKey(output.ref));
      from != copying_from_.end() && --from->second == 0) {
    copying_from_.erase(from);
  }
  auto it = keeping_.find(output.seq);
  if (it == keeping_.end() || --it->second.copies > 0) return;
  std::vector<Event> deletions = std::move(it->second.deletions);
  keeping_.erase(it);
  // After this turn's commit records the copy: the deletion's plan must
  // see the stored result.
  for (Event& deletion : deletions) {
    AfterCommit(
        [this, deletion = std::move(deletion)](const absl::Status&) mutable {
          Post(std::move(deletion));
        });
  }
}

}  // namespace dagd
