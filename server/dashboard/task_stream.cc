#include "server/dashboard/task_stream.h"

#include <algorithm>
#include <tuple>

#include "absl/container/flat_hash_map.h"

namespace dagd {
namespace {

int64_t Millis(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1000 + t.nanos() / 1'000'000;
}

bool IsSet(const google::protobuf::Timestamp& t) {
  return t.seconds() != 0 || t.nanos() != 0;
}

}  // namespace

TaskStream BuildTaskStream(const std::vector<v1::TaskStatus>& tasks,
                           size_t limit) {
  TaskStream stream;
  for (uint32_t i = 0; i < tasks.size(); ++i) {
    for (const v1::Attempt& attempt : tasks[i].attempts()) {
      if (attempt.worker().empty() || !IsSet(attempt.assigned_at())) continue;
      StreamBar bar;
      bar.task = i;
      bar.attempt = attempt.number();
      bar.worker = attempt.worker();
      bar.start_ms =
          Millis(IsSet(attempt.started_at()) ? attempt.started_at()
                                             : attempt.assigned_at());
      if (IsSet(attempt.finished_at())) {
        // Clocks of worker and dagd differ: an end never precedes a start.
        bar.end_ms = std::max(bar.start_ms, Millis(attempt.finished_at()));
      }
      bar.failed = !attempt.error().empty();
      stream.bars.push_back(std::move(bar));
    }
  }
  if (stream.bars.size() > limit) {
    auto by_start = [](const StreamBar& a, const StreamBar& b) {
      return a.start_ms > b.start_ms;
    };
    std::nth_element(stream.bars.begin(), stream.bars.begin() + limit,
                     stream.bars.end(), by_start);
    stream.omitted = stream.bars.size() - limit;
    stream.bars.resize(limit);
  }
  std::sort(stream.bars.begin(), stream.bars.end(),
            [](const StreamBar& a, const StreamBar& b) {
              return std::tie(a.worker, a.start_ms, a.task) <
                     std::tie(b.worker, b.start_ms, b.task);
            });
  // Per worker, each bar on the first row free at its start.
  absl::flat_hash_map<std::string, size_t> worker_index;
  std::vector<std::vector<int64_t>> row_ends;  // per worker, per row
  std::vector<int64_t> first_start;
  for (StreamBar& bar : stream.bars) {
    auto [it, added] = worker_index.try_emplace(bar.worker, row_ends.size());
    if (added) {
      row_ends.emplace_back();
      first_start.push_back(bar.start_ms);
    }
    std::vector<int64_t>& ends = row_ends[it->second];
    // A running bar holds its row to the end of time.
    const int64_t end = bar.end_ms < 0 ? INT64_MAX : bar.end_ms;
    size_t row = 0;
    while (row < ends.size() && ends[row] > bar.start_ms) ++row;
    if (row == ends.size()) ends.push_back(0);
    ends[row] = end;
    bar.row = row;
  }
  for (const auto& [worker, index] : worker_index) {
    stream.workers.emplace_back(worker, row_ends[index].size());
  }
  std::sort(stream.workers.begin(), stream.workers.end(),
            [&](const auto& a, const auto& b) {
              return std::tie(first_start[worker_index[a.first]], a.first) <
                     std::tie(first_start[worker_index[b.first]], b.first);
            });
  return stream;
}

}  // namespace dagd
