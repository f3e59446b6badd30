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
  auto make_room = [&](size_t size) {
    if (bytes > 0 && bytes + size > max_bytes) {
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
    make_room(assignment.ByteSizeLong() + kFraming);
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
