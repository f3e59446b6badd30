// The task stream: each attempt of a job's tasks as a bar on a row of its
// worker, rows packed so that bars on one row never overlap (one row per
// slot in use: dagd does not record slot numbers, so the rows are the
// fewest that hold the worker's attempts side by side).
#ifndef DAGD_SERVER_DASHBOARD_TASK_STREAM_H_
#define DAGD_SERVER_DASHBOARD_TASK_STREAM_H_

#include <cstdint>
#include <string>
#include <vector>

#include "dagd/v1/types.pb.h"

namespace dagd {

struct StreamBar {
  uint32_t task = 0;  // index into the task list
  uint32_t attempt = 0;
  std::string worker;
  uint32_t row = 0;      // within its worker, from 0
  int64_t start_ms = 0;  // started_at, else assigned_at
  int64_t end_ms = -1;   // -1: still running
  bool failed = false;   // the attempt ended with an error
};

struct TaskStream {
  std::vector<StreamBar> bars;  // ordered by worker, then start
  // Workers in order of their first bar, with the rows each uses.
  std::vector<std::pair<std::string, uint32_t>> workers;
  // Attempts left out because there were more than the limit (the
  // earliest are the ones left out).
  size_t omitted = 0;
};

// At most `limit` bars, the latest started. Attempts never started on a
// worker (no assigned_at) are not drawn.
TaskStream BuildTaskStream(const std::vector<v1::TaskStatus>& tasks,
                           size_t limit);

}  // namespace dagd

#endif  // DAGD_SERVER_DASHBOARD_TASK_STREAM_H_
