#include "client/bench/dagbench_shapes.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/job_builder.h"

namespace dagd {
namespace {

constexpr int kTreeLeaves = 1024;
constexpr int kWideTasks = 10000;
constexpr int kChainLength = 1000;
constexpr int kBigChainLength = 1000;

// 1,024 const leaves, reduced pairwise; `fn`/`ms` select add or sleep.
absl::StatusOr<v1::JobSpec> BuildTree(const std::string& name,
                                      const std::string& fn, int sleep_ms) {
  JobBuilder job(name);
  std::vector<std::string> level;
  level.reserve(kTreeLeaves);
  for (int i = 0; i < kTreeLeaves; ++i) {
    level.push_back(absl::StrCat("leaf", i));
    job.Task(level.back(), "const").Arg("value", i);
  }
  for (int depth = 1; level.size() > 1; ++depth) {
    std::vector<std::string> next;
    for (size_t i = 0; i + 1 < level.size(); i += 2) {
      next.push_back(level.size() == 2 ? std::string("root")
                                       : absl::StrCat("n", depth, "_", i / 2));
      TaskBuilder task = job.Task(next.back(), fn);
      task.Inputs({level[i], level[i + 1]});
      if (sleep_ms > 0) task.Arg("ms", sleep_ms);
    }
    level = std::move(next);
  }
  return job.Build();
}

absl::StatusOr<v1::JobSpec> BuildWide() {
  JobBuilder job("bench-wide");
  std::vector<std::string> ids;
  ids.reserve(kWideTasks);
  for (int i = 0; i < kWideTasks; ++i) {
    ids.push_back(absl::StrCat("c", i));
    job.Task(ids.back(), "const").Arg("value", 1);
  }
  job.Task("sum", "add").Inputs(ids);
  return job.Build();
}

// add(value 1), then add(previous, value 1) ...: the last is kChainLength.
absl::StatusOr<v1::JobSpec> BuildChain() {
  JobBuilder job("bench-chain");
  job.Task("h0", "add").Arg("value", 1);
  for (int i = 1; i < kChainLength; ++i) {
    job.Task(absl::StrCat("h", i), "add")
        .Inputs({absl::StrCat("h", i - 1)})
        .Arg("value", 1);
  }
  return job.Build();
}

absl::StatusOr<v1::JobSpec> BuildSyncJob() {
  JobBuilder job("bench-sync");
  job.Task("one", "const").Arg("value", 1);
  return job.Build();
}

// Chain c starts with const c and passes it down 999 identities.
absl::StatusOr<v1::JobSpec> BuildBig(int chains) {
  JobBuilder job("bench-big");
  for (int c = 0; c < chains; ++c) {
    job.Task(absl::StrCat("c", c, "_0"), "const").Arg("value", c);
    for (int i = 1; i < kBigChainLength; ++i) {
      job.Task(absl::StrCat("c", c, "_", i), "identity")
          .Inputs({absl::StrCat("c", c, "_", i - 1)});
    }
  }
  return job.Build();
}

constexpr int kShuffleSide = 8;  // producers, consumers, pieces each

std::string PieceId(int producer, int piece) {
  return absl::StrCat("p", producer, "_", piece);
}

// bytes: one result made in pool a, consumed in pool b.
absl::StatusOr<v1::JobSpec> BuildBytes(int64_t size) {
  JobBuilder job("bench-bytes");
  job.Task("make", "bytes").Arg("size", size).Arg("seed", 1).Executor("pool:a");
  job.Task("take", "checksum").Inputs({"make"}).Executor("pool:b");
  return job.Build();
}

// shuffle: producer i's piece j is task p<i>_<j> (seed 8i+j); consumer j
// takes piece j of every producer.
absl::StatusOr<v1::JobSpec> BuildShuffle(int64_t piece_size) {
  JobBuilder job("bench-shuffle");
  for (int i = 0; i < kShuffleSide; ++i) {
    for (int j = 0; j < kShuffleSide; ++j) {
      job.Task(PieceId(i, j), "bytes")
          .Arg("size", piece_size)
          .Arg("seed", i * kShuffleSide + j)
          .Executor(i < kShuffleSide / 2 ? "pool:a" : "pool:b");
    }
  }
  for (int j = 0; j < kShuffleSide; ++j) {
    std::vector<std::string> pieces;
    for (int i = 0; i < kShuffleSide; ++i) pieces.push_back(PieceId(i, j));
    job.Task(absl::StrCat("c", j), "checksum").Inputs(pieces);
  }
  return job.Build();
}

// What `checksum` of `inputs` must answer: their sizes and CRC-32Cs as
// dagd recorded them where they were made.
absl::StatusOr<std::string> ExpectedChecksum(
    Client& client, const std::string& job_id,
    const std::vector<std::string>& inputs) {
  std::vector<uint64_t> sizes;
  std::vector<uint32_t> crcs;
  for (const std::string& input : inputs) {
    absl::StatusOr<v1::TaskStatus> task = client.Task(job_id, input);
    if (!task.ok()) return task.status();
    sizes.push_back(task->result().size_bytes());
    crcs.push_back(task->result().crc32c());
  }
  return absl::StrCat(R"({"bytes":[)", absl::StrJoin(sizes, ","),
                      R"(],"crc32c":[)", absl::StrJoin(crcs, ","), "]}");
}

std::string BigLast(int chain) {
  return absl::StrCat("c", chain, "_", kBigChainLength - 1);
}

}  // namespace

std::optional<Shape> FindShape(const std::string& name,
                               const ShapeSizes& sizes) {
  if (name == "tree") {
    return Shape{name,
                 [] { return BuildTree("bench-tree", "add", 0); },
                 {{"root", "523776"}}};
  }
  if (name == "tree100") {
    return Shape{name,
                 [] { return BuildTree("bench-tree100", "sleep", 100); },
                 {{"root", "523776"}}};
  }
  if (name == "wide") {
    return Shape{name, BuildWide, {{"sum", absl::StrCat(kWideTasks)}}};
  }
  if (name == "chain") {
    return Shape{
        name,
        BuildChain,
        {{absl::StrCat("h", kChainLength - 1), absl::StrCat(kChainLength)}}};
  }
  if (name == "sync") return Shape{name, BuildSyncJob, {{"one", "1"}}};
  if (name == "big") {
    const int chains = std::max(sizes.big_chains, 1);
    return Shape{name,
                 [chains] { return BuildBig(chains); },
                 {{BigLast(0), "0"},
                  {BigLast(chains / 2), absl::StrCat(chains / 2)},
                  {BigLast(chains - 1), absl::StrCat(chains - 1)}}};
  }
  if (name == "bytes") {
    const int64_t size = sizes.bytes_size;
    Shape shape{name, [size] { return BuildBytes(size); }, {}};
    shape.expected_after = [](Client& client, const std::string& job_id)
        -> absl::StatusOr<std::vector<std::pair<std::string, std::string>>> {
      absl::StatusOr<std::string> want =
          ExpectedChecksum(client, job_id, {"make"});
      if (!want.ok()) return want.status();
      return std::vector<std::pair<std::string, std::string>>{
          {"take", *std::move(want)}};
    };
    shape.moved_bytes = static_cast<uint64_t>(size);
    return shape;
  }
  if (name == "shuffle") {
    const int64_t piece = sizes.shuffle_piece_size;
    Shape shape{name, [piece] { return BuildShuffle(piece); }, {}};
    shape.expected_after = [](Client& client, const std::string& job_id)
        -> absl::StatusOr<std::vector<std::pair<std::string, std::string>>> {
      std::vector<std::pair<std::string, std::string>> expected;
      for (int j = 0; j < kShuffleSide; ++j) {
        std::vector<std::string> pieces;
        for (int i = 0; i < kShuffleSide; ++i) pieces.push_back(PieceId(i, j));
        absl::StatusOr<std::string> want =
            ExpectedChecksum(client, job_id, pieces);
        if (!want.ok()) return want.status();
        expected.emplace_back(absl::StrCat("c", j), *std::move(want));
      }
      return expected;
    };
    return shape;
  }
  return std::nullopt;
}

}  // namespace dagd
