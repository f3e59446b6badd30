// The workers that could run one demand, ordered by free slots: the least
// loaded is at the front and the most loaded with room found by a search,
// so placing a task among a thousand workers looks at the few that matter
// instead of every one.
#ifndef DAGD_SERVER_FREE_SLOT_INDEX_H_
#define DAGD_SERVER_FREE_SLOT_INDEX_H_

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <tuple>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "server/worker_id.h"

namespace dagd {

// Not thread-safe: the scheduler's thread owns it. Up to kSmall workers
// it keeps no order and sorts them when asked (cheaper than keeping a tree
// for the two workers most jobs see); beyond that, a B-tree.
class FreeSlotIndex {
 public:
  static constexpr size_t kSmall = 16;

  // `order` ranks workers with equal free slots: the lower comes first
  // (the scheduler gives the order workers became capable in, which is the
  // order the placement policy breaks ties by).
  void Add(WorkerId id, uint32_t free, uint64_t order) {
    const Key key{~free, order, id};
    if (!keys_.try_emplace(id, key).second) return;
    total_free_ += free;
    if (keys_.size() == kSmall + 1) {
      for (const auto& [unused, k] : keys_) by_free_.insert(k);
    } else if (keys_.size() > kSmall) {
      by_free_.insert(key);
    }
  }
  void Update(WorkerId id, uint32_t free) {
    auto it = keys_.find(id);
    if (it == keys_.end() || std::get<0>(it->second) == ~free) return;
    total_free_ = total_free_ - ~std::get<0>(it->second) + free;
    const bool tree = keys_.size() > kSmall;
    if (tree) by_free_.erase(it->second);
    std::get<0>(it->second) = ~free;
    if (tree) by_free_.insert(it->second);
  }
  void Remove(WorkerId id) {
    auto it = keys_.find(id);
    if (it == keys_.end()) return;
    total_free_ -= ~std::get<0>(it->second);
    if (keys_.size() > kSmall) by_free_.erase(it->second);
    keys_.erase(it);
    if (keys_.size() == kSmall) by_free_.clear();
  }
  bool Contains(WorkerId id) const { return keys_.contains(id); }
  uint64_t OrderOf(WorkerId id) const {
    auto it = keys_.find(id);
    return it == keys_.end() ? 0 : std::get<1>(it->second);
  }
  size_t size() const { return keys_.size(); }
  // Free slots over all these workers.
  uint64_t total_free() const { return total_free_; }

  // Calls visit(id, free) from the most free slots down (ties by order)
  // until it returns false.
  template <typename Visit>
  void ForEachMostFree(Visit visit) const {
    if (keys_.size() > kSmall) {
      for (const Key& key : by_free_) {
        if (!visit(std::get<2>(key), ~std::get<0>(key))) return;
      }
      return;
    }
    const absl::InlinedVector<Key, kSmall> keys = SortedSmall();
    for (const Key& key : keys) {
      if (!visit(std::get<2>(key), ~std::get<0>(key))) return;
    }
  }

  // Calls visit(id, free) for the workers with at least `at_least` free
  // slots, from the fewest free up (ties by order), until it returns false.
  template <typename Visit>
  void ForEachLeastFree(uint32_t at_least, Visit visit) const {
    if (keys_.size() > kSmall) {
      VisitFewestFirst(
          by_free_.begin(), by_free_.end(),
          [this](uint32_t inverted) {
            return by_free_.lower_bound(Key{inverted, 0, 0});
          },
          at_least, visit);
      return;
    }
    const absl::InlinedVector<Key, kSmall> keys = SortedSmall();
    VisitFewestFirst(
        keys.begin(), keys.end(),
        [&keys](uint32_t inverted) {
          return std::lower_bound(keys.begin(), keys.end(),
                                  Key{inverted, 0, 0});
        },
        at_least, visit);
  }

 private:
  // (~free, order, id): ascending order puts the most free slots first.
  using Key = std::tuple<uint32_t, uint64_t, WorkerId>;
  // Up to kSmall workers (no tree): their keys, sorted.
  absl::InlinedVector<Key, kSmall> SortedSmall() const {
    absl::InlinedVector<Key, kSmall> keys;
    for (const auto& [unused, key] : keys_) keys.push_back(key);
    std::sort(keys.begin(), keys.end());
    return keys;
  }

  // Over keys sorted ascending (most free first): from the last key with at
  // least `at_least` free slots back to the first, a level of equal free
  // slots at a time, each level in order. first_of(~free) is the first key
  // with that many free slots or fewer.
  template <typename It, typename FirstOf, typename Visit>
  static void VisitFewestFirst(It begin, It end, FirstOf first_of,
                               uint32_t at_least, Visit& visit) {
    if (at_least > 0) end = first_of(~at_least + 1);
    while (end != begin) {
      const uint32_t level = std::get<0>(*std::prev(end));
      const It first = first_of(level);
      for (It it = first; it != end; ++it) {
        if (!visit(std::get<2>(*it), ~level)) return;
      }
      end = first;
    }
  }

  absl::btree_set<Key> by_free_;  // only beyond kSmall workers
  absl::flat_hash_map<WorkerId, Key> keys_;
  uint64_t total_free_ = 0;
};

}  // namespace dagd

#endif  // DAGD_SERVER_FREE_SLOT_INDEX_H_
