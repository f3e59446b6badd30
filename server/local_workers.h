#ifndef DAGD_SERVER_LOCAL_WORKERS_H_
#define DAGD_SERVER_LOCAL_WORKERS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace dagd {

// Child `dagd-worker` processes that `dagd --local_workers=N` starts and
// stops. Not thread-safe; main owns it.
class LocalWorkers {
 public:
  // `binary` is the dagd-worker to run; `args` are passed to each.
  LocalWorkers(std::string binary, std::vector<std::string> args);
  ~LocalWorkers();

  absl::Status Start(int count);
  // SIGTERM to each, then SIGKILL to those still running after `grace`.
  void Stop(absl::Duration grace);

 private:
  const std::string binary_;
  const std::vector<std::string> args_;
  std::vector<pid_t> pids_;
};

// The dagd-worker beside the running dagd binary, else "dagd-worker" from
// PATH.
std::string DefaultWorkerBinary();

}  // namespace dagd

#endif  // DAGD_SERVER_LOCAL_WORKERS_H_
