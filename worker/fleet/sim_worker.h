// A simulated worker for dagd-fleet: one WorkerService.Connect stream of
// its own, registered as a worker of its own, that runs the builtins const,
// add and identity (worker/builtins.h, the real ones) at once or after a
// fixed time, and reports their results the way dagd-worker does: in
// order, kept until dagd acknowledges them, sent again in Register after a
// reconnection. Thousands of them share a process and gRPC's callback
// threads (a stream costs no thread of its own), which is what lets one
// machine stand in for a fleet.
//
// Left out, as a fleet's coordinator does not see them: grants ahead (it
// registers without accepts_grants), the data plane (every output travels
// inline), cancellation of tasks that run for a fixed time (they report
// anyway; dagd drops the result of a cancelled attempt).
//
// The coordinator's restarts it does see: results kept until acknowledged
// and attempts still running are listed in its next Register, and streams
// are opened again with dagd-worker's backoff and jitter.
#ifndef DAGD_WORKER_FLEET_SIM_WORKER_H_
#define DAGD_WORKER_FLEET_SIM_WORKER_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "dagd/v1/worker_service.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "worker/function_registry.h"
#include "worker/timer_queue.h"

namespace dagd {

// What every simulated worker of one process shares.
struct FleetShared {
  std::shared_ptr<grpc::Channel> channel;  // or one per worker, see below
  std::string coordinator;
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  // One HTTP/2 connection per worker, as a real fleet has (true), or every
  // stream on `channel`.
  bool connection_per_worker = true;
  uint32_t slots = 16;
  absl::Duration task_duration = absl::ZeroDuration();
  const FunctionRegistry* functions = nullptr;  // the builtins
  TimerQueue* timers = nullptr;                 // delays and reconnections
  // Totals over the fleet.
  std::atomic<uint64_t> registered{0};  // workers registered now
  std::atomic<uint64_t> registrations{0};
  std::atomic<uint64_t> results{0};   // results reported (sent again too)
  std::atomic<uint64_t> attempts{0};  // attempts received
};

// Thread-safe: gRPC's threads and the timer thread call into it.
class SimWorker {
 public:
  // `credentials`: its connection's own (a client certificate of its
  // own); null: shared->credentials.
  SimWorker(FleetShared* shared, std::string name,
            std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr);
  ~SimWorker();
  SimWorker(const SimWorker&) = delete;
  SimWorker& operator=(const SimWorker&) = delete;

  // Opens a stream (and opens another, after a backoff, whenever one ends,
  // until Stop).
  void Start();
  // Ends the stream in flight and opens no other; returns once it ended.
  void Stop();

  // Sends a heartbeat on the stream, if one is registered and its
  // interval has passed since the last.
  void MaybeHeartbeat(absl::Time now);

 private:
  class Stream;

  void Connect();
  void StreamEnded(bool registered);
  // Runs `a`: its result goes into `done` when it ends at once, else it
  // is reported after task_duration from the timer thread.
  void Run(const v1::Assignment& a, std::vector<v1::TaskResult>* done);
  // Numbers `results`, keeps them until acknowledged, and sends them in
  // one batch.
  void Report(std::vector<v1::TaskResult> results);
  void Acked(uint64_t up_to);

  FleetShared* const shared_;
  const std::string name_;
  // Its process instance (Register.instance), as a dagd-worker's: after a
  // restart dagd waits for this one to be back, not for any of its name.
  const std::string instance_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::WorkerService::Stub> stub_;

  absl::Mutex mu_;
  Stream* stream_ ABSL_GUARDED_BY(mu_) = nullptr;  // the live one
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  absl::CondVar ended_;
  uint64_t next_report_ ABSL_GUARDED_BY(mu_) = 1;
  // Results not yet acknowledged, in report order.
  std::deque<v1::TaskResult> kept_ ABSL_GUARDED_BY(mu_);
  // Attempts running out their --task_duration, listed in Register so that
  // a restarted dagd takes them over instead of running them again.
  std::vector<v1::TaskRef> running_ ABSL_GUARDED_BY(mu_);
  int failed_connects_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace dagd

#endif  // DAGD_WORKER_FLEET_SIM_WORKER_H_
