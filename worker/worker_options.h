// Configuration of a worker process, filled from flags by main and passed
// in; nothing reads flags or globals below main.
#ifndef DAGD_WORKER_WORKER_OPTIONS_H_
#define DAGD_WORKER_WORKER_OPTIONS_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace dagd {

struct WorkerOptions {
  std::string coordinator = "127.0.0.1:7700";  // for log lines
  std::string name;                            // host:pid if empty
  uint32_t slots = 1;
  std::string pool = "default";
  std::map<std::string, std::string> labels;
  std::map<std::string, double> resources;
  // Reconnect delays: the first, then doubling up to the max (jittered).
  absl::Duration initial_backoff = absl::Milliseconds(100);
  // Short: after a restart, recovered jobs wait until the last worker from
  // before is back (at most dagd's --recovery_grace, 5 s), a fleet
  // included. With 2 s, 1,000 simulated workers took 4.3 s after dagd
  // served again, the last of them on the jittered 2 s steps (README
  // "Measured").
  absl::Duration max_backoff = absl::Seconds(1);
  // Used when the coordinator's Registered does not say.
  absl::Duration default_heartbeat = absl::Seconds(5);
  // On Drain: how long running attempts get to finish (--drain_timeout),
  // then how long the coordinator gets to close the stream after the last
  // result went out (while it copies the outputs this process holds): what
  // is left of drain_timeout, and at least drain_close_grace.
  absl::Duration drain_timeout = absl::Seconds(60);
  absl::Duration drain_close_grace = absl::Seconds(5);
  // How long an attempt runs before its start notice goes to dagd
  // (--report_start_after); one that ends sooner is reported once.
  absl::Duration report_start_after = absl::Milliseconds(5);
};

// "k=v,k2=v2" to a map. INVALID_ARGUMENT names the bad entry (no '=',
// empty key, duplicate key). An empty string is an empty map.
absl::StatusOr<std::map<std::string, std::string>> ParseLabels(
    absl::string_view text);
// Like ParseLabels, but every value must be a non-negative number.
absl::StatusOr<std::map<std::string, double>> ParseResources(
    absl::string_view text);

// "host:pid", the default worker name.
std::string DefaultWorkerName();

// What --object_memory is by default: a quarter of this machine's memory,
// or of the cgroup's memory limit when that is lower (a container's).
uint64_t DefaultObjectMemory();

}  // namespace dagd

#endif  // DAGD_WORKER_WORKER_OPTIONS_H_
