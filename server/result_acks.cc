#include "server/result_acks.h"

#include <algorithm>

namespace dagd {

void ResultAcks::Received(WorkerId worker, uint64_t report_order,
                          size_t bytes) {
  if (report_order == 0) return;
  Pending& pending = pending_[worker];
  pending.up_to = std::max(pending.up_to, report_order);
  ++pending.results;
  pending.bytes += bytes;
  if (pending.results >= policy_.max_results ||
      pending.bytes >= policy_.max_bytes) {
    pending.due = true;
  }
}

void ResultAcks::Requested(WorkerId worker) {
  auto it = pending_.find(worker);
  if (it != pending_.end()) it->second.due = true;
}

void ResultAcks::Forget(WorkerId worker) { pending_.erase(worker); }

void ResultAcks::Flush(
    absl::flat_hash_map<WorkerId, v1::CoordinatorBatch>& sends) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    const Pending& pending = it->second;
    auto batch = sends.find(it->first);
    if (batch == sends.end() && !pending.due) {
      ++it;
      continue;
    }
    if (batch == sends.end()) batch = sends.try_emplace(it->first).first;
    batch->second.set_acked_up_to(pending.up_to);
    pending_.erase(it++);
  }
}

}  // namespace dagd
