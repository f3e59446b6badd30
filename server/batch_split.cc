#include "server/batch_split.h"

#include <utility>

namespace dagd {

std::vector<v1::CoordinatorBatch> SplitBatch(v1::CoordinatorBatch batch,
                                             size_t max_bytes) {
  std::vector<v1::CoordinatorBatch> out;
  if (batch.ByteSizeLong() <= max_bytes) {
    out.push_back(std::move(batch));
    return out;
  }
  // Field framing adds a few bytes per entry: counted as 16, generously.
  constexpr size_t kFraming = 16;
  v1::CoordinatorBatch* piece = &out.emplace_back();
  size_t bytes = 0;
  auto make_room = [&](size_t size, bool may_split = true) {
    if (may_split && bytes > 0 && bytes + size > max_bytes) {
      piece = &out.emplace_back();
      bytes = 0;
    }
    bytes += size;
  };
  for (v1::TaskRef& cancel : *batch.mutable_cancels()) {
    make_room(cancel.ByteSizeLong() + kFraming);
    *piece->add_cancels() = std::move(cancel);
  }
  for (v1::Assignment& assignment : *batch.mutable_assignments()) {
    // A follower stays in its predecessor's piece (it comes right after
    // it): a worker that finished the predecessor before reading the next
    // piece would drop the follower, and dagd wait for it for ever. A
    // piece may then exceed max_bytes by a chain; workers accept any size.
    make_room(assignment.ByteSizeLong() + kFraming, !assignment.has_after());
    *piece->add_assignments() = std::move(assignment);
  }
  for (std::string& key : *batch.mutable_release()) {
    make_room(key.size() + kFraming);
    piece->add_release(std::move(key));
  }
  piece->set_acked_up_to(batch.acked_up_to());
  return out;
}

}  // namespace dagd
