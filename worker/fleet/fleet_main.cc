// dagd-fleet: a fleet of simulated workers in one process, for measuring
// what a coordinator does with many of them (worker/fleet/sim_worker.h).
//
//   dagd-fleet --coordinator=127.0.0.1:7700 --workers=1000 --slots=16
//
// Each worker has a stream (and, by default, a connection) of its own and
// registers as fleet-N; it runs const, add and identity at once, or after
// --task_duration. Every second it prints how many are registered, and
// the totals, on stderr. SIGTERM or SIGINT stops it.
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "storage/base/file_limit.h"
#include "storage/flow_control.h"
#include "storage/tls.h"
#include "worker/builtins.h"
#include "worker/fleet/sim_worker.h"

ABSL_FLAG(std::string, coordinator, "127.0.0.1:7700", "dagd's address");
ABSL_FLAG(int, workers, 100, "simulated workers");
ABSL_FLAG(int, slots, 16, "slots of each");
ABSL_FLAG(absl::Duration, task_duration, absl::ZeroDuration(),
          "how long each task takes; 0: it ends at once");
ABSL_FLAG(bool, connection_per_worker, true,
          "one HTTP/2 connection per worker, as a real fleet has; false: "
          "every stream on one connection");
ABSL_FLAG(std::string, name_prefix, "fleet-",
          "workers are PREFIX0, PREFIX1...");
ABSL_FLAG(absl::Duration, spread, absl::ZeroDuration(),
          "start the workers evenly over this long instead of at once");
ABSL_FLAG(std::string, tls_ca, "", "as dagd-worker's --tls_ca");
ABSL_FLAG(std::string, tls_certs, "",
          "a directory of client certificates, NAME.crt and NAME.key for "
          "each worker NAME (make-certs.sh --worker NAME puts them in its "
          "workers/), for a dagd with --worker_ca; needs --tls_ca");
ABSL_FLAG(absl::Duration, totals_interval, absl::Seconds(1),
          "how often to print the line of totals (at least 10ms)");

int main(int argc, char** argv) {
  // As in dagd and dagd-worker: Debian's Abseil checks every Mutex::Lock's
  // order against a global graph, and a fleet's thousand streams take
  // their workers' locks often enough for that to be a tenth of this
  // process's CPU, on the cores it shares with the dagd it measures.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  absl::SetProgramUsageMessage(
      "simulated dagd workers, for measuring a coordinator with many.\n"
      "usage: dagd-fleet --coordinator=host:port --workers=N --slots=S "
      "[--task_duration=10ms]");
  absl::ParseCommandLine(argc, argv);
  dagd::RaiseOpenFilesLimit();  // a thousand connections
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  const int count = absl::GetFlag(FLAGS_workers);
  if (count < 1 || absl::GetFlag(FLAGS_slots) < 1) {
    std::cerr << "dagd-fleet: --workers and --slots must be at least 1\n";
    return 2;
  }
  auto credentials =
      dagd::ChannelCredentials({"", "", absl::GetFlag(FLAGS_tls_ca)});
  if (!credentials.ok()) {
    std::cerr << "dagd-fleet: " << credentials.status().message() << "\n";
    return 2;
  }
  const std::string tls_certs = absl::GetFlag(FLAGS_tls_certs);
  if (!tls_certs.empty() && (absl::GetFlag(FLAGS_tls_ca).empty() ||
                             !absl::GetFlag(FLAGS_connection_per_worker))) {
    std::cerr << "dagd-fleet: --tls_certs needs --tls_ca and a connection "
                 "per worker\n";
    return 2;
  }
  dagd::FunctionRegistry functions;
  if (absl::Status s = dagd::RegisterBuiltins(&functions); !s.ok()) {
    std::cerr << "dagd-fleet: " << s.message() << "\n";
    return 1;
  }
  dagd::TimerQueue timers;
  dagd::FleetShared shared;
  shared.coordinator = absl::GetFlag(FLAGS_coordinator);
  shared.credentials = *credentials;
  shared.connection_per_worker = absl::GetFlag(FLAGS_connection_per_worker);
  if (!shared.connection_per_worker) {
    grpc::ChannelArguments args;
    dagd::SetFlowControl(args);  // as dagd-worker's channel
    shared.channel =
        grpc::CreateCustomChannel(shared.coordinator, *credentials, args);
  }
  shared.slots = static_cast<uint32_t>(absl::GetFlag(FLAGS_slots));
  shared.task_duration = absl::GetFlag(FLAGS_task_duration);
  shared.functions = &functions;
  shared.timers = &timers;

  std::vector<std::unique_ptr<dagd::SimWorker>> fleet;
  fleet.reserve(count);
  const std::string prefix = absl::GetFlag(FLAGS_name_prefix);
  const absl::Duration step = absl::GetFlag(FLAGS_spread) / count;
  for (int i = 0; i < count; ++i) {
    std::string name = absl::StrCat(prefix, i);
    std::shared_ptr<grpc::ChannelCredentials> own;
    if (!tls_certs.empty()) {
      const std::string path = absl::StrCat(tls_certs, "/", name);
      auto made = dagd::ChannelCredentials({absl::StrCat(path, ".crt"),
                                            absl::StrCat(path, ".key"),
                                            absl::GetFlag(FLAGS_tls_ca)});
      if (!made.ok()) {
        std::cerr << "dagd-fleet: worker " << name << ": "
                  << made.status().message() << "\n";
        return 2;
      }
      own = *std::move(made);
    }
    fleet.push_back(std::make_unique<dagd::SimWorker>(&shared, std::move(name),
                                                      std::move(own)));
    fleet.back()->Start();
    if (step > absl::ZeroDuration()) absl::SleepFor(step);
  }

  // Heartbeats, and a line of totals each --totals_interval (with the
  // Unix time in seconds, for scripts timing a fleet's return), until a
  // stop signal.
  const absl::Duration totals_every =
      std::max(absl::GetFlag(FLAGS_totals_interval), absl::Milliseconds(10));
  std::atomic<bool> stopping{false};
  std::thread beats([&] {
    absl::Time next_line = absl::Now();
    absl::Time next_beats = next_line;
    while (!stopping) {
      const absl::Time now = absl::Now();
      if (now >= next_beats) {
        for (auto& worker : fleet) worker->MaybeHeartbeat(now);
        next_beats = now + absl::Milliseconds(100);
      }
      if (now >= next_line) {
        std::cerr << "dagd-fleet: " << shared.registered.load() << " of "
                  << count << " registered; registrations "
                  << shared.registrations.load() << ", attempts "
                  << shared.attempts.load() << ", results "
                  << shared.results.load() << ", at "
                  << absl::StrFormat(
                         "%.3f", absl::ToDoubleSeconds(now - absl::UnixEpoch()))
                  << std::endl;
        next_line = now + totals_every;
      }
      absl::SleepFor(std::min(totals_every, absl::Milliseconds(100)));
    }
  });
  int received = 0;
  sigwait(&stop, &received);
  stopping = true;
  beats.join();
  for (auto& worker : fleet) worker->Stop();
  return 0;
}
