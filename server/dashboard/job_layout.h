// The shape of a job's graph as the dashboard draws it: each task's depth
// (the longest chain of inputs and `after` dependencies above it) and, for
// jobs too large to draw task by task, groups of tasks with the same
// function at the same depth, with the edges between groups counted.
#ifndef DAGD_SERVER_DASHBOARD_JOB_LAYOUT_H_
#define DAGD_SERVER_DASHBOARD_JOB_LAYOUT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "dagd/v1/types.pb.h"

namespace dagd {

// Computed once per job from its task list (the graph never changes), in
// time and memory linear in tasks plus edges, without recursion. Immutable
// after construction, so shared between threads freely.
class JobLayout {
 public:
  // `tasks` in any order; a dependency on an id not in `tasks` is ignored.
  explicit JobLayout(const std::vector<v1::TaskStatus>& tasks);

  struct Group {
    std::string fn;
    uint32_t depth = 0;
    std::vector<uint32_t> tasks;  // indices into the task list
  };
  struct GroupEdge {
    uint32_t from = 0;  // group indices
    uint32_t to = 0;
    uint32_t count = 0;  // task edges between them
  };

  size_t size() const { return depth_.size(); }
  uint32_t depth(size_t task) const { return depth_[task]; }
  uint32_t group_of(size_t task) const { return group_of_[task]; }
  // Task edges (upstream index, downstream index), inputs and `after` alike.
  const std::vector<std::pair<uint32_t, uint32_t>>& edges() const {
    return edges_;
  }
  // Ordered by depth, then function name.
  const std::vector<Group>& groups() const { return groups_; }
  const std::vector<GroupEdge>& group_edges() const { return group_edges_; }

 private:
  std::vector<uint32_t> depth_;
  std::vector<uint32_t> group_of_;
  std::vector<std::pair<uint32_t, uint32_t>> edges_;
  std::vector<Group> groups_;
  std::vector<GroupEdge> group_edges_;
};

}  // namespace dagd

#endif  // DAGD_SERVER_DASHBOARD_JOB_LAYOUT_H_
