// dagd: the coordinator daemon.

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/random/random.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "server/auth/authenticator.h"
#include "server/auth/tenant_policy.h"
#include "server/coordinator.h"
#include "server/dashboard/dashboard_http.h"
#include "server/dashboard/dashboard_source.h"
#include "server/grpc_services.h"
#include "server/lambda_dispatcher.h"
#include "server/local_workers.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/output_keeper.h"
#include "server/placement_policy.h"
#include "server/result_objects.h"
#include "server/retention.h"
#include "storage/aws_credentials.h"
#include "storage/base/clock.h"
#include "storage/base/file_limit.h"
#include "storage/base/health_listener.h"
#include "storage/base/host_port.h"
#include "storage/base/http_status_server.h"
#include "storage/data_secret.h"
#include "storage/flow_control.h"
#include "storage/rocksdb_meta_store.h"
#include "storage/s3_object_store.h"
#include "storage/tls.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7700",
          "gRPC address to serve JobService and WorkerService on; port 0 "
          "picks a free port");
ABSL_FLAG(std::string, tokens_file, "",
          "bearer tokens JobService callers and the dashboard's API must "
          "present, one per line: "
          "SHA256-HEX-OF-TOKEN TENANT ROLE [NAME] (roles: read, submit, "
          "admin; # starts a comment); reread on SIGHUP. Empty: every caller "
          "is an admin (for a dagd on loopback only)");
ABSL_FLAG(std::string, policy_file, "",
          "what each tenant may run and hold, one line per tenant: TENANT "
          "[weight=N] [functions=A,B|*] [pools=A,B|*] [lambda=A,B|*|none] "
          "[max_priority=N] [max_jobs=N] [max_tasks=N] [max_spec_bytes=SIZE] "
          "[max_running_slots=N]; * names every other tenant; reread on "
          "SIGHUP (README \"Security\"). Empty: every tenant may do "
          "everything");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain dagd presents on --listen and "
          "--metrics_listen; with --tls_key, both ports serve TLS only (the "
          "dashboard, /metrics and /healthz over https)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, worker_ca, "",
          "PEM CA certificates that sign workers' client certificates: set, "
          "a worker must present one to register, and its common name is "
          "the worker's name (needs --tls_cert)");
ABSL_FLAG(bool, insecure, false,
          "allow --listen or --metrics_listen on an address other hosts can "
          "reach without TLS, worker certificates and --tokens_file: anyone "
          "who reaches the port then owns the cluster");
ABSL_FLAG(std::string, port_file, "",
          "if set, write the bound gRPC port to this file once serving");
ABSL_FLAG(std::string, data_dir, "./dagd-data",
          "directory of the RocksDB database holding jobs, tasks and results");
ABSL_FLAG(std::string, healthz_listen, "",
          "host:port of a plain-HTTP listener that answers only GET /healthz "
          "(200 while serving, else 503), on a thread no client can hold: "
          "for orchestrators' probes, which slow clients of --metrics_listen "
          "could starve; empty: off; port 0 picks a free port (logged)");
ABSL_FLAG(std::string, metrics_listen, "127.0.0.1:9470",
          "HTTP address for Prometheus /metrics, /healthz and the dashboard "
          "(HTTPS with --tls_cert); empty disables it; port 0 picks a free "
          "port");
ABSL_FLAG(bool, dashboard, true,
          "serve the browser dashboard at / (and its JSON API under /api/) on "
          "--metrics_listen");
ABSL_FLAG(uint32_t, dashboard_max_streams, 32,
          "most dashboard pages open at once (each holds one event stream and "
          "one HTTP thread); more are refused with 429 until one closes");
ABSL_FLAG(std::string, log_format, "text",
          "text: one readable line per event; json: one JSON object per line");
ABSL_FLAG(int, local_workers, 0,
          "start this many dagd-worker processes connected to this dagd, and "
          "stop them on exit");
ABSL_FLAG(int, local_worker_slots, 0,
          "slots of each local worker; 0: the number of cores");
ABSL_FLAG(std::string, worker_binary, "",
          "dagd-worker binary for --local_workers; default: the one beside "
          "dagd, else dagd-worker from PATH");
ABSL_FLAG(uint32_t, max_tasks_per_job, 1'000'000,
          "jobs with more tasks are rejected");
ABSL_FLAG(uint32_t, max_task_kinds_per_job, 1'000,
          "jobs with more distinct kinds of task (fn, resources, executor) "
          "are rejected: placing a job's task looks at each of its kinds");
ABSL_FLAG(uint64_t, max_job_bytes, 256ull << 20,
          "jobs larger than this, encoded, are rejected");
ABSL_FLAG(uint32_t, max_workers, 10'000,
          "more workers connected at once are refused (RESOURCE_EXHAUSTED) "
          "until some leave");
ABSL_FLAG(uint32_t, max_worker_slots, 1024,
          "a worker that registers more slots gets this many");
ABSL_FLAG(absl::Duration, worker_timeout, absl::Seconds(30),
          "a worker silent for this long is declared lost and its tasks run "
          "again elsewhere");
ABSL_FLAG(absl::Duration, heartbeat_interval, absl::Seconds(5),
          "how often workers are told to send a heartbeat");
ABSL_FLAG(absl::Duration, sync_interval, absl::Seconds(1),
          "writes not covered by an acknowledgement are fsynced this often");
ABSL_FLAG(uint32_t, grant_depth, 64,
          "how many successors of an assigned task, each waiting only for the "
          "one before, go to its worker with it to run there straight away; "
          "0: none");
ABSL_FLAG(absl::Duration, retention, absl::Hours(168),
          "finished jobs are deleted, with their tasks and results, once "
          "they have been finished this long; 0 keeps them forever");
ABSL_FLAG(absl::Duration, grant_max_run_time, absl::Milliseconds(2),
          "only tasks of functions whose attempts recently ran at most this "
          "long are granted ahead");
ABSL_FLAG(uint32_t, grant_queued, 8,
          "how many more ready tasks of a short task's job and kind wait on "
          "its worker behind it, to run on its slot next, while the job has "
          "more of them ready than there are free slots; 0: none");
ABSL_FLAG(std::string, placement, "spread",
          "where a task holding none of its inputs on any worker goes: "
          "spread: the least loaded worker (the most free slots); pack: the "
          "most loaded one with room, so work fills few workers and leaves "
          "the rest idle for an autoscaler to remove");
ABSL_FLAG(std::string, lambda_function, "",
          "the AWS Lambda function (dagd-worker as a custom runtime) that "
          "tasks with executor \"lambda\" invoke; NAME or NAME:ALIAS. Setting "
          "it turns Lambda dispatch on (executor \"lambda:NAME\" too)");
ABSL_FLAG(std::vector<std::string>, lambda_allowed_functions, {},
          "Lambda functions besides --lambda_function that tasks may name "
          "(executor \"lambda:NAME\"), comma-separated: dagd invokes them "
          "with its own credentials");
ABSL_FLAG(uint32_t, lambda_max_concurrency, 100,
          "Lambda invocations in flight at once, over all functions");
ABSL_FLAG(std::string, aws_region, "",
          "AWS region of Lambda (and S3); empty: $AWS_REGION, else us-east-1");
ABSL_FLAG(bool, lambda_burst, false,
          "with Lambda dispatch on, a ready task for any worker (no pool, "
          "labels or amounts) that waited --lambda_burst_after while no "
          "worker had room goes to --lambda_function, which must offer the "
          "workers' functions");
ABSL_FLAG(absl::Duration, lambda_burst_after, absl::Seconds(1),
          "how long a task waits for a worker before it bursts to Lambda");
ABSL_FLAG(std::string, lambda_endpoint, "",
          "base URL of the Lambda API; empty: "
          "https://lambda.REGION.amazonaws.com (set it for tests and private "
          "endpoints)");
ABSL_FLAG(std::string, s3_bucket, "",
          "S3 bucket for results larger than --inline_max_bytes (and Lambda "
          "payloads over Lambda's limit); empty: none: large results stay on "
          "their workers, and jobs' outputs are copied into the database up "
          "to --max_stored_result_bytes");
ABSL_FLAG(std::string, s3_prefix, "",
          "prepended as it is to every object key dagd and its workers use "
          "in --s3_bucket (\"dagd/\")");
ABSL_FLAG(std::string, s3_endpoint, "",
          "base URL of S3 for dagd and its workers; empty: "
          "https://s3.REGION.amazonaws.com (set it for tests and private "
          "endpoints)");
ABSL_FLAG(uint64_t, inline_max_bytes, 64 << 10,
          "a task output larger than this does not travel through dagd: "
          "with --s3_bucket it is written to S3 by whoever ran the task; "
          "without, it stays on the worker that made it (its --data_listen) "
          "and other workers fetch it from there. The database keeps its "
          "size, CRC-32C and location");
ABSL_FLAG(uint64_t, max_result_bytes, uint64_t{32} << 30,
          "a task output larger than this fails its task for good (the "
          "worker drops it); 0: no bound");
ABSL_FLAG(uint64_t, max_stored_result_bytes, uint64_t{256} << 20,
          "without --s3_bucket, a job's output (a task nothing consumes) "
          "held by a worker is copied into the database (in --data_dir, in "
          "1 MiB chunks) when it is at most this large, so that it outlives "
          "its worker; larger ones stay on their worker only. 0: none is "
          "copied");
ABSL_FLAG(uint32_t, max_recomputes, 3,
          "a task whose result was lost with the worker holding it runs "
          "again, at most this many times; once more fails its job");
ABSL_FLAG(absl::Duration, recovery_grace, absl::Seconds(5),
          "after a restart, recovered jobs wait at most this long before "
          "their ready tasks run again, so that workers still running them "
          "(or holding their results) can reconnect and report them; the "
          "wait ends sooner once every worker connected before the restart "
          "is back and has reported; 0: no wait");

namespace dagd {
namespace {

// A source of random numbers in [0, 1) for one thread: each user gets its
// own (absl::BitGen is not thread-safe).
std::function<double()> MakeUniform() {
  auto gen = std::make_shared<absl::BitGen>();
  return [gen] { return absl::Uniform(*gen, 0.0, 1.0); };
}

absl::Status WritePortFile(const std::string& path, int port) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << port << "\n";
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", tmp));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot write --port_file ", path));
  }
  return absl::OkStatus();
}

std::string AwsRegion() {
  std::string region = absl::GetFlag(FLAGS_aws_region);
  if (region.empty()) {
    const char* env = std::getenv("AWS_REGION");
    region = env != nullptr && *env != '\0' ? env : "us-east-1";
  }
  return region;
}

absl::StatusOr<Fill> PlacementFlag() {
  const std::string value = absl::GetFlag(FLAGS_placement);
  if (value == "spread") return Fill::kSpread;
  if (value == "pack") return Fill::kPack;
  return absl::InvalidArgumentError(
      absl::StrCat("--placement must be spread or pack, not '", value, "'"));
}

// Flag values that parse but cannot work, refused before anything is
// opened or written (INVALID_ARGUMENT naming the flag).
absl::Status CheckFlagValues() {
  if (absl::StatusOr<Fill> fill = PlacementFlag(); !fill.ok()) {
    return fill.status();
  }
  for (const auto& [flag, address, optional] :
       {std::tuple<const char*, std::string, bool>{
            "listen", absl::GetFlag(FLAGS_listen), false},
        {"metrics_listen", absl::GetFlag(FLAGS_metrics_listen), true},
        {"healthz_listen", absl::GetFlag(FLAGS_healthz_listen), true}}) {
    if (optional && address.empty()) continue;
    if (!ListenPort(address)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", flag, "='", address,
                       "' is not host:port with a port from 0 to 65535"));
    }
  }
  const absl::Duration heartbeat = absl::GetFlag(FLAGS_heartbeat_interval);
  const absl::Duration timeout = absl::GetFlag(FLAGS_worker_timeout);
  if (heartbeat < absl::Milliseconds(1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--heartbeat_interval must be at least 1ms, not ",
                     absl::FormatDuration(heartbeat)));
  }
  if (timeout <= heartbeat) {
    // Every worker would be declared lost between two of its heartbeats,
    // and its tasks run again, over and over.
    return absl::InvalidArgumentError(
        absl::StrCat("--worker_timeout (", absl::FormatDuration(timeout),
                     ") must be longer than --heartbeat_interval (",
                     absl::FormatDuration(heartbeat), "), a few times over"));
  }
  if (absl::GetFlag(FLAGS_sync_interval) <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--sync_interval must be positive, not ",
                     absl::FormatDuration(absl::GetFlag(FLAGS_sync_interval))));
  }
  for (const auto& [flag, value] :
       {std::pair<const char*, absl::Duration>{
            "recovery_grace", absl::GetFlag(FLAGS_recovery_grace)},
        {"grant_max_run_time", absl::GetFlag(FLAGS_grant_max_run_time)},
        {"lambda_burst_after", absl::GetFlag(FLAGS_lambda_burst_after)}}) {
    if (value < absl::ZeroDuration()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", flag, " must not be negative, not ",
                       absl::FormatDuration(value)));
    }
  }
  if (absl::GetFlag(FLAGS_local_workers) < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--local_workers must not be negative, not ",
                     absl::GetFlag(FLAGS_local_workers)));
  }
  return absl::OkStatus();
}

// A dagd that other hosts can reach must know who calls it, unless the
// operator says otherwise.
absl::Status CheckExposure() {
  if (absl::GetFlag(FLAGS_insecure)) return absl::OkStatus();
  const bool guarded = !absl::GetFlag(FLAGS_tls_cert).empty() &&
                       !absl::GetFlag(FLAGS_worker_ca).empty() &&
                       !absl::GetFlag(FLAGS_tokens_file).empty();
  if (guarded) return absl::OkStatus();
  for (const auto& [flag, address] :
       {std::pair<const char*, std::string>{"listen",
                                            absl::GetFlag(FLAGS_listen)},
        {"metrics_listen", absl::GetFlag(FLAGS_metrics_listen)}}) {
    if (address.empty() || IsLoopbackAddress(address)) continue;
    return absl::FailedPreconditionError(absl::StrCat(
        "--", flag, "=", address,
        " can be reached from other hosts, and dagd would serve it without "
        "--tls_cert, --worker_ca and --tokens_file: anyone reaching it could "
        "read, cancel and run jobs, and register as a worker. Give those "
        "flags (README \"Security\"), listen on 127.0.0.1, or pass "
        "--insecure to accept the risk"));
  }
  return absl::OkStatus();
}

CoordinatorOptions OptionsFromFlags() {
  CoordinatorOptions options;
  options.limits.max_tasks_per_job = absl::GetFlag(FLAGS_max_tasks_per_job);
  options.limits.max_task_kinds_per_job =
      std::max<uint32_t>(1, absl::GetFlag(FLAGS_max_task_kinds_per_job));
  options.limits.max_job_bytes = absl::GetFlag(FLAGS_max_job_bytes);
  options.scheduler.worker_timeout = absl::GetFlag(FLAGS_worker_timeout);
  options.scheduler.grant_depth = absl::GetFlag(FLAGS_grant_depth);
  options.scheduler.grant_max_run_time =
      absl::GetFlag(FLAGS_grant_max_run_time);
  options.scheduler.grant_queued = absl::GetFlag(FLAGS_grant_queued);
  // CheckFlagValues refused any other value.
  options.scheduler.fill = PlacementFlag().value_or(Fill::kSpread);
  options.scheduler.recovery_grace = absl::GetFlag(FLAGS_recovery_grace);
  options.scheduler.lambda_function = absl::GetFlag(FLAGS_lambda_function);
  options.limits.lambda = !options.scheduler.lambda_function.empty();
  if (options.limits.lambda) {
    options.limits.lambda_functions =
        absl::GetFlag(FLAGS_lambda_allowed_functions);
    options.scheduler.lambda_allowed_functions =
        options.limits.lambda_functions;
    options.limits.lambda_functions.push_back(
        options.scheduler.lambda_function);
  }
  if (options.limits.lambda && absl::GetFlag(FLAGS_lambda_burst)) {
    options.scheduler.lambda_burst_after =
        absl::GetFlag(FLAGS_lambda_burst_after);
  }
  if (std::string bucket = absl::GetFlag(FLAGS_s3_bucket); !bucket.empty()) {
    v1::ObjectStoreConfig& store = options.scheduler.object_store;
    store.set_bucket(bucket);
    store.set_prefix(absl::GetFlag(FLAGS_s3_prefix));
    store.set_endpoint(absl::GetFlag(FLAGS_s3_endpoint));
    store.set_region(AwsRegion());
    store.set_inline_max_bytes(absl::GetFlag(FLAGS_inline_max_bytes));
  }
  options.inline_max_bytes = absl::GetFlag(FLAGS_inline_max_bytes);
  options.scheduler.max_result_bytes = absl::GetFlag(FLAGS_max_result_bytes);
  options.scheduler.max_recomputes = absl::GetFlag(FLAGS_max_recomputes);
  // With a bucket, S3 is the outputs' durable home.
  if (options.scheduler.object_store.bucket().empty()) {
    options.scheduler.max_stored_result_bytes =
        absl::GetFlag(FLAGS_max_stored_result_bytes);
  }
  options.heartbeat_interval = absl::GetFlag(FLAGS_heartbeat_interval);
  options.max_worker_slots = absl::GetFlag(FLAGS_max_worker_slots);
  options.max_workers = absl::GetFlag(FLAGS_max_workers);
  options.sync_interval = absl::GetFlag(FLAGS_sync_interval);
  return options;
}

// The object store of --s3_bucket; null without one.
absl::StatusOr<std::unique_ptr<ObjectStore>> MakeResultStore(
    const v1::ObjectStoreConfig& config, AwsCredentialsProvider* credentials) {
  if (config.bucket().empty()) return nullptr;
  absl::StatusOr<std::unique_ptr<ObjectStore>> store =
      MakeS3ObjectStore(config, credentials);
  if (!store.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--s3_bucket, --s3_prefix, --s3_endpoint: ", store.status().message()));
  }
  return store;
}

std::vector<std::string> LocalWorkerArgs(int port) {
  // Local workers stop with their dagd: draining would only delay the stop,
  // since the tasks they run are re-queued for the next dagd anyway.
  std::vector<std::string> args = {
      absl::StrCat("--coordinator=127.0.0.1:", port), "--drain_timeout=0s",
      // On the coordinator's own machine, started by its operator: the
      // quick start's workers run exec.
      "--allow_exec"};
  if (int slots = absl::GetFlag(FLAGS_local_worker_slots); slots > 0) {
    args.push_back(absl::StrCat("--slots=", slots));
  }
  return args;
}

int Run() {
  absl::StatusOr<LogFormat> format =
      ParseLogFormat(absl::GetFlag(FLAGS_log_format));
  if (!format.ok()) {
    LOG(ERROR) << "--log_format: " << format.status().message();
    return 2;
  }
  const absl::Duration retention = absl::GetFlag(FLAGS_retention);
  if (retention < absl::ZeroDuration()) {
    LOG(ERROR) << "--retention must be positive, or 0 to keep jobs forever, "
               << "not " << absl::FormatDuration(retention);
    return 2;
  }
  if (absl::GetFlag(FLAGS_inline_max_bytes) == 0) {
    LOG(ERROR) << "--inline_max_bytes must be at least 1";
    return 2;
  }
  if (absl::Status s = CheckFlagValues(); !s.ok()) {
    LOG(ERROR) << s.message();
    return 2;
  }
  SetLogFormat(*format);
  // Each worker is a connection, and RocksDB keeps files open.
  if (auto raised = RaiseOpenFilesLimit()) {
    LOG(INFO) << "open files: raised the limit from " << raised->first << " to "
              << raised->second;
  }
  if (absl::Status s = CheckExposure(); !s.ok()) {
    LOG(ERROR) << s.message();
    return 2;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  // Blocked before any thread starts, so only sigwait below sees them.
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // After the mask: gRPC starts threads of its own here.
  // dagd's certificate, and the CA of the workers' (whose data ports dagd
  // reads held results from with the same certificate).
  const TlsFiles tls = {absl::GetFlag(FLAGS_tls_cert),
                        absl::GetFlag(FLAGS_tls_key),
                        absl::GetFlag(FLAGS_worker_ca)};
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      ServerCredentials(tls);
  if (!credentials.ok()) {
    LOG(ERROR) << credentials.status().message();
    return 2;
  }

  std::unique_ptr<Authenticator> authenticator =
      std::make_unique<Authenticator>();
  if (std::string path = absl::GetFlag(FLAGS_tokens_file); !path.empty()) {
    absl::StatusOr<std::unique_ptr<Authenticator>> read =
        Authenticator::FromFile(path);
    if (!read.ok()) {
      LOG(ERROR) << read.status().message();
      return 2;
    }
    authenticator = *std::move(read);
    LOG(INFO) << "JobService callers need one of the " << authenticator->size()
              << " token(s) of --tokens_file";
  }

  // Read before the store opens, so a bad file changes nothing.
  const std::string policy_file = absl::GetFlag(FLAGS_policy_file);
  std::optional<TenantPolicies> policies;
  if (!policy_file.empty()) {
    absl::StatusOr<TenantPolicies> read = TenantPolicies::Read(policy_file);
    if (!read.ok()) {
      LOG(ERROR) << read.status().message();
      return 2;
    }
    policies = *std::move(read);
  }

  const std::string data_dir = absl::GetFlag(FLAGS_data_dir);
  absl::StatusOr<std::unique_ptr<RocksMetaStore>> store =
      RocksMetaStore::Open(data_dir);
  if (!store.ok()) {
    LOG(ERROR) << store.status().message();
    return 1;
  }
  // What dagd and its workers present to read held results, and workers
  // require (storage/data_secret.h): kept with the store, as its attempt key.
  absl::StatusOr<std::string> attempt_key = (*store)->AttemptKey();
  if (!attempt_key.ok()) {
    LOG(ERROR) << "--data_dir '" << data_dir
               << "': " << attempt_key.status().message();
    return 1;
  }
  DataSecret data_secret;
  data_secret.Set(DataSecretFromAttemptKey(*attempt_key));
  CoordinatorOptions options = OptionsFromFlags();
  options.data_secret = data_secret.Get();
  // AWS credentials, for Lambda and S3 alike.
  std::unique_ptr<AwsCredentialsProvider> aws_credentials;
  if (!absl::GetFlag(FLAGS_lambda_function).empty() ||
      !options.scheduler.object_store.bucket().empty()) {
    aws_credentials = MakeDefaultCredentialsChain();
  }
  absl::StatusOr<std::unique_ptr<ObjectStore>> result_store =
      MakeResultStore(options.scheduler.object_store, aws_credentials.get());
  if (!result_store.ok()) {
    LOG(ERROR) << result_store.status().message();
    return 2;
  }
  // Results workers hold are read from them (ReadResult, GetResult). With
  // --worker_ca, over TLS: dagd presents its own certificate and accepts a
  // holder only with the certificate of the worker that holds the result.
  DataClientOptions holders_options;
  holders_options.secret = &data_secret;
  if (!tls.ca.empty()) {
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> to_holders =
        ChannelCredentials(tls);
    if (!to_holders.ok()) {
      LOG(ERROR) << to_holders.status().message();
      return 2;
    }
    holders_options.credentials = *std::move(to_holders);
  }
  DataClient held_results(std::move(holders_options));
  auto result_objects = std::make_unique<ResultObjects>(
      result_store->get(), &held_results, store->get());
  if (*result_store != nullptr) {
    LOG(INFO) << "results over "
              << options.scheduler.object_store.inline_max_bytes()
              << " bytes go to " << result_objects->Describe();
  }
  SystemClock clock;
  Coordinator coordinator(options, store->get(), &clock, MakeUniform());
  coordinator.SetResultObjects(result_objects.get());
  if (policies) {
    coordinator.SetPolicies(
        std::make_shared<const TenantPolicies>(*std::move(policies)));
    LOG(INFO) << "tenants are held to --policy_file " << policy_file;
  }
  // Declared after the coordinator, so destroyed first: a copy it
  // abandons posts to a coordinator that still exists.
  std::unique_ptr<OutputKeeper> keeper;
  if (options.scheduler.max_stored_result_bytes > 0) {
    keeper = std::make_unique<OutputKeeper>(
        store->get(), &held_results, options.scheduler.max_stored_result_bytes);
    coordinator.SetOutputKeeper(keeper.get());
  }
  std::atomic<bool> fatal{false};
  coordinator.SetFatalHandler([&fatal](const absl::Status&) {
    fatal = true;
    kill(getpid(), SIGTERM);
  });

  auto registry = std::make_shared<prometheus::Registry>();
  CoordinatorMetrics metrics(*registry);
  coordinator.SetTurnObserver(
      [&metrics](const TurnStats& stats) { metrics.Update(stats); });
  RpcMetrics rpc_metrics(*registry);
  // Healthy from when the store is open and the server listens until the
  // stop begins; /healthz and grpc.health.v1 say the same.
  std::atomic<bool> serving{false};
  // Declared before the HTTP server, whose threads hold its event streams:
  // the server stops first.
  CoordinatorSource dashboard_source(&coordinator);
  std::unique_ptr<Dashboard> dashboard;
  HttpServerOptions http_options;
  if (absl::GetFlag(FLAGS_dashboard) &&
      !absl::GetFlag(FLAGS_metrics_listen).empty()) {
    DashboardOptions dashboard_options;
    dashboard_options.live.max_streams =
        std::max<uint32_t>(1, absl::GetFlag(FLAGS_dashboard_max_streams));
    dashboard = std::make_unique<Dashboard>(
        &dashboard_source, authenticator.get(), &clock, dashboard_options);
    http_options.handler = dashboard->Handler();
    http_options.threads = dashboard->HttpThreads();
  }
  http_options.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  http_options.tls_key = absl::GetFlag(FLAGS_tls_key);
  const bool https = !http_options.tls_cert.empty();
  std::unique_ptr<HttpStatusServer> http_server;
  if (std::string address = absl::GetFlag(FLAGS_metrics_listen);
      !address.empty()) {
    absl::StatusOr<std::unique_ptr<HttpStatusServer>> started =
        HttpStatusServer::Start(
            address, registry, [&serving] { return serving.load(); },
            std::move(http_options));
    if (!started.ok()) {
      LOG(ERROR) << "--metrics_listen: " << started.status().message();
      return 1;
    }
    http_server = *std::move(started);
    LOG(INFO) << "metrics and /healthz on port " << http_server->port()
              << (https ? " (https)" : "")
              << (dashboard != nullptr ? ", dashboard at /" : "");
  }

  std::unique_ptr<HealthListener> health_listener;
  if (std::string address = absl::GetFlag(FLAGS_healthz_listen);
      !address.empty()) {
    absl::StatusOr<std::unique_ptr<HealthListener>> started =
        HealthListener::Start(address, [&serving] { return serving.load(); });
    if (!started.ok()) {
      LOG(ERROR) << "--healthz_listen: " << started.status().message();
      return 1;
    }
    health_listener = *std::move(started);
    LOG(INFO) << "/healthz alone on port " << health_listener->port();
  }

  if (absl::Status s = coordinator.Start(); !s.ok()) {
    // Every error here comes from reading the store.
    LOG(ERROR) << "cannot start from --data_dir '" << data_dir
               << "': " << s.message()
               << (absl::IsDataLoss(s)
                       ? " (the database is damaged: restore it from a "
                         "backup, or move it aside to start empty)"
                       : "");
    return 1;
  }
  // Lambda dispatch: one more worker, living in this process.
  std::shared_ptr<LambdaDispatcher> lambda;
  if (const std::string function = absl::GetFlag(FLAGS_lambda_function);
      !function.empty()) {
    LambdaOptions lambda_options;
    lambda_options.endpoint = absl::GetFlag(FLAGS_lambda_endpoint);
    lambda_options.region = AwsRegion();
    lambda_options.max_concurrency =
        absl::GetFlag(FLAGS_lambda_max_concurrency);
    lambda_options.heartbeat_interval = absl::GetFlag(FLAGS_heartbeat_interval);
    lambda_options.object_store = options.scheduler.object_store;
    lambda_options.store = result_store->get();
    const WorkerId id = coordinator.NewWorkerId();
    lambda = std::make_shared<LambdaDispatcher>(
        lambda_options, aws_credentials.get(), &clock, MakeUniform(),
        [&coordinator, id](v1::WorkerMessage message) {
          coordinator.WorkerMessage(id, std::move(message));
        });
    lambda->Start();
    coordinator.ConnectLocalWorker(id, lambda);
    LOG(INFO) << "Lambda dispatch on: executor \"lambda\" invokes '" << function
              << "' at " << lambda->InvokeUrl(function);
  }
  std::unique_ptr<RetentionSweeper> sweeper;
  if (retention > absl::ZeroDuration()) {
    sweeper = std::make_unique<RetentionSweeper>(
        retention, store->get(), &coordinator, &clock,
        [&metrics](uint64_t n) { metrics.AddSweptJobs(n); });
    sweeper->SetResultObjects(result_objects.get());
    sweeper->Start();
  }
  JobServiceImpl job_service(&coordinator, authenticator.get(), &rpc_metrics);
  WorkerServiceOptions worker_options;
  worker_options.require_certificates = !tls.ca.empty();
  worker_options.clients = authenticator.get();
  worker_options.max_stall = absl::GetFlag(FLAGS_worker_timeout);
  WorkerServiceImpl worker_service(&coordinator, worker_options);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  const std::string listen = absl::GetFlag(FLAGS_listen);
  builder.AddListeningPort(listen, *credentials, &port);
  const uint64_t max_message = absl::GetFlag(FLAGS_max_job_bytes) + (16 << 20);
  builder.SetMaxReceiveMessageSize(
      static_cast<int>(std::min<uint64_t>(max_message, INT32_MAX)));
  builder.SetMaxSendMessageSize(INT32_MAX);
  SetFlowControl(builder);
  builder.RegisterService(&job_service);
  builder.RegisterService(&worker_service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    LOG(ERROR) << "cannot listen on --listen '" << listen << "'";
    return 1;
  }
  server->GetHealthCheckService()->SetServingStatus(true);
  serving = true;
  LOG(INFO) << "dagd serving on port " << port << ", data in " << data_dir;
  if (std::string path = absl::GetFlag(FLAGS_port_file); !path.empty()) {
    if (absl::Status s = WritePortFile(path, port); !s.ok()) {
      LOG(ERROR) << s.message();
      return 1;
    }
  }

  std::string worker_binary = absl::GetFlag(FLAGS_worker_binary);
  if (worker_binary.empty()) worker_binary = DefaultWorkerBinary();
  LocalWorkers local_workers(worker_binary, LocalWorkerArgs(port));
  if (absl::Status s = local_workers.Start(absl::GetFlag(FLAGS_local_workers));
      !s.ok()) {
    LOG(ERROR) << s.message();
    return 1;
  }

  int signal = 0;
  while (sigwait(&signals, &signal) == 0 && signal == SIGHUP) {
    if (absl::Status s = authenticator->Reload(); !s.ok()) {
      LOG(ERROR) << "SIGHUP: kept the tokens in use: " << s.message();
    } else if (!authenticator->open()) {
      LOG(INFO) << "SIGHUP: reread --tokens_file, " << authenticator->size()
                << " token(s)";
    }
    if (policy_file.empty()) continue;
    if (absl::StatusOr<TenantPolicies> read =
            TenantPolicies::Reread(policy_file);
        !read.ok()) {
      LOG(ERROR) << "SIGHUP: kept the tenant policies in use: "
                 << read.status().message();
    } else {
      coordinator.SetPolicies(
          std::make_shared<const TenantPolicies>(*std::move(read)));
      LOG(INFO) << "SIGHUP: reread --policy_file";
    }
  }
  LOG(INFO) << "stopping (" << (fatal ? "store failure" : strsignal(signal))
            << ")";
  job_service.StopAccepting();
  // gRPC health first: once /healthz answers 503, both channels agree.
  server->GetHealthCheckService()->SetServingStatus(false);
  serving = false;
  local_workers.Stop(absl::Seconds(5));
  coordinator.CloseStreams();
  // Its event streams end while the coordinator still answers their reads.
  if (dashboard != nullptr) dashboard->Stop();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  if (sweeper != nullptr) sweeper->Stop();
  // Calls in flight are abandoned: their tasks run again after a restart.
  if (lambda != nullptr) lambda->Stop();
  coordinator.Stop();
  LOG(INFO) << "stopped";
  return fatal ? 1 : 0;
}

}  // namespace
}  // namespace dagd

int main(int argc, char** argv) {
  // Abseil as Debian builds it checks the lock order of every Mutex::Lock
  // against a global graph (one more global lock per task, many times
  // over); dagd's tests keep that check, the binaries skip it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  absl::SetProgramUsageMessage(
      "dagd: the dagd coordinator. Accepts jobs over gRPC, stores them in "
      "RocksDB under --data_dir, and dispatches their tasks to dagd-worker "
      "processes.\nUsage: dagd [--listen=HOST:PORT] [--data_dir=DIR] "
      "[--local_workers=N] ...");
  absl::ParseCommandLine(argc, argv);
  return dagd::Run();
}
