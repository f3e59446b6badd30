// dagbench's shapes: each job built in code, and the answers it must give.
#ifndef DAGD_CLIENT_BENCH_DAGBENCH_SHAPES_H_
#define DAGD_CLIENT_BENCH_DAGBENCH_SHAPES_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "client/client.h"
#include "dagd/v1/types.pb.h"

namespace dagd {

// One-task jobs the sync shape runs, one after the other.
inline constexpr int kSyncJobs = 200;

// One measured shape: how to build it and what its answer must be.
struct Shape {
  std::string name;
  // Builds the job; not timed.
  std::function<absl::StatusOr<v1::JobSpec>()> build;
  // Results to check after the run: task id and its expected JSON text.
  std::vector<std::pair<std::string, std::string>> expected;
  // More of them, known only once the job ran (what it made, as dagd
  // recorded it); may be null.
  std::function<
      absl::StatusOr<std::vector<std::pair<std::string, std::string>>>(
          Client&, const std::string& job_id)>
      expected_after = nullptr;
  // Bytes the job moves between workers, when the shape measures that.
  uint64_t moved_bytes = 0;
};

// The sizes of the shapes that take one.
struct ShapeSizes {
  int64_t bytes_size = 0;          // bytes: the one result moved
  int64_t shuffle_piece_size = 0;  // shuffle: each piece
  int big_chains = 1000;           // big: chains of 1,000 tasks
};

// The shape called `name` (tree, tree100, wide, chain, sync, big, bytes,
// shuffle; see dagbench.cc), nullopt for another name.
std::optional<Shape> FindShape(const std::string& name,
                               const ShapeSizes& sizes);

}  // namespace dagd

#endif  // DAGD_CLIENT_BENCH_DAGBENCH_SHAPES_H_
