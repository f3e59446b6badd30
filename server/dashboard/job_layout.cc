#include "server/dashboard/job_layout.h"

#include <algorithm>
#include <deque>
#include <tuple>

namespace dagd {

JobLayout::JobLayout(const std::vector<v1::TaskStatus>& tasks)
    : depth_(tasks.size(), 0), group_of_(tasks.size(), 0) {
  absl::flat_hash_map<absl::string_view, uint32_t> index;
  index.reserve(tasks.size());
  for (uint32_t i = 0; i < tasks.size(); ++i) index[tasks[i].task_id()] = i;
  std::vector<uint32_t> waiting(tasks.size(), 0);  // unresolved upstreams
  for (uint32_t i = 0; i < tasks.size(); ++i) {
    auto add = [&](const std::string& upstream) {
      auto it = index.find(upstream);
      if (it == index.end()) return;
      edges_.emplace_back(it->second, i);
      ++waiting[i];
    };
    for (const std::string& id : tasks[i].inputs()) add(id);
    for (const std::string& id : tasks[i].after()) add(id);
  }
  // Kahn's order over successor lists: a task's depth is final once its
  // last upstream is done. Tasks on a cycle (which a valid job never has)
  // keep the depth they reached.
  std::vector<std::vector<uint32_t>> successors(tasks.size());
  for (const auto& [from, to] : edges_) successors[from].push_back(to);
  std::deque<uint32_t> ready;
  for (uint32_t i = 0; i < tasks.size(); ++i) {
    if (waiting[i] == 0) ready.push_back(i);
  }
  while (!ready.empty()) {
    const uint32_t task = ready.front();
    ready.pop_front();
    for (uint32_t next : successors[task]) {
      depth_[next] = std::max(depth_[next], depth_[task] + 1);
      if (--waiting[next] == 0) ready.push_back(next);
    }
  }

  // Groups by (depth, fn), in that order.
  std::vector<std::tuple<uint32_t, absl::string_view, uint32_t>> keyed;
  keyed.reserve(tasks.size());
  for (uint32_t i = 0; i < tasks.size(); ++i) {
    keyed.emplace_back(depth_[i], tasks[i].fn(), i);
  }
  std::sort(keyed.begin(), keyed.end());
  for (const auto& [depth, fn, task] : keyed) {
    if (groups_.empty() || groups_.back().depth != depth ||
        groups_.back().fn != fn) {
      groups_.push_back(Group{std::string(fn), depth, {}});
    }
    groups_.back().tasks.push_back(task);
    group_of_[task] = groups_.size() - 1;
  }
  absl::flat_hash_map<std::pair<uint32_t, uint32_t>, uint32_t> counted;
  for (const auto& [from, to] : edges_) {
    ++counted[{group_of_[from], group_of_[to]}];
  }
  for (const auto& [key, count] : counted) {
    group_edges_.push_back(GroupEdge{key.first, key.second, count});
  }
  std::sort(group_edges_.begin(), group_edges_.end(),
            [](const GroupEdge& a, const GroupEdge& b) {
              return std::tie(a.from, a.to) < std::tie(b.from, b.to);
            });
}

}  // namespace dagd
