// dagd-worker: runs task functions for a dagd coordinator.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "dagd/v1/worker_service.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "storage/aws_credentials.h"
#include "storage/base/byte_size.h"
#include "storage/base/clock.h"
#include "storage/base/health_listener.h"
#include "storage/base/http_status_server.h"
#include "storage/base/large_buffer.h"
#include "storage/base/logging.h"
#include "storage/data_client.h"
#include "storage/flow_control.h"
#include "storage/object_store.h"
#include "storage/s3_object_store.h"
#include "storage/tls.h"
#include "worker/attempt_observers.h"
#include "worker/builtins.h"
#include "worker/cgroup.h"
#include "worker/data_plane.h"
#include "worker/data_service.h"
#include "worker/exec_runtime.h"
#include "worker/function_registry.h"
#include "worker/function_runtime.h"
#include "worker/grpc_health_server.h"
#include "worker/lambda_runtime.h"
#include "worker/lambda_runtime_api.h"
#include "worker/lambda_store.h"
#include "worker/object_holder.h"
#include "worker/plugin_loader.h"
#include "worker/python_flags.h"
#include "worker/python_runtime.h"
#include "worker/task_runtime.h"
#include "worker/worker_metrics.h"
#include "worker/worker_options.h"
#include "worker/worker_runtime.h"
#include "worker/worker_status.h"

ABSL_FLAG(std::string, coordinator, "127.0.0.1:7700",
          "host:port of the dagd coordinator's gRPC endpoint");
ABSL_FLAG(std::string, slots, "",
          "how many tasks run at once (default: the number of cores)");
ABSL_FLAG(std::string, pool, "default",
          "the worker pool this worker serves; tasks ask for a pool");
ABSL_FLAG(std::string, labels, "",
          "labels tasks can require, as k=v,k2=v2 (e.g. zone=a,disk=ssd)");
ABSL_FLAG(std::string, resources, "",
          "named amounts this worker offers, as name=number,... "
          "(e.g. memory_mb=8192,gpu=1)");
ABSL_FLAG(std::vector<std::string>, plugin, {},
          "a shared library exporting dagd_register_functions; "
          "repeat the flag or separate paths with commas");
ABSL_FLAG(bool, allow_exec, false,
          "offer fn \"exec\": tasks run programs of the submitter's choosing "
          "on this machine (as --exec_user when given). Off: the worker does "
          "not offer exec, and dagd places no exec task on it");
ABSL_FLAG(std::string, exec_user, "",
          "with --allow_exec: run exec programs as this user (a name or "
          "uid), their attempt's files owned by it; the worker must run as "
          "root. Empty: as the worker's own user");
ABSL_FLAG(std::string, name, "",
          "a name for people to recognise this worker (default: host:pid)");
ABSL_FLAG(std::string, metrics_listen, "",
          "host:port of an HTTP server with Prometheus /metrics and /healthz "
          "(200 while registered and not draining, else 503); empty: off; "
          "port 0 picks a free port (logged)");
ABSL_FLAG(bool, metrics_tls, false,
          "serve --metrics_listen over HTTPS (TLS 1.2 or later) with "
          "--tls_cert and --tls_key; plain HTTP on it then fails");
ABSL_FLAG(std::string, healthz_listen, "",
          "host:port of a plain-HTTP listener that answers only /healthz, on "
          "a thread of its own that slow or silent clients cannot hold up "
          "(for orchestrator probes); empty: off");
ABSL_FLAG(std::string, health_listen, "",
          "host:port of a gRPC server with only grpc.health.v1 (SERVING "
          "while registered and not draining); empty: off; port 0 picks a "
          "free port (logged)");
ABSL_FLAG(absl::Duration, drain_timeout, absl::Seconds(60),
          "on SIGTERM or SIGINT, how long running tasks get to finish and "
          "report before the worker cancels them and exits");
ABSL_FLAG(absl::Duration, report_start_after, absl::Milliseconds(5),
          "how long a task runs before the worker tells dagd it started; a "
          "task that ends sooner is reported once, by its result (which "
          "carries its start time); 0: at once");
ABSL_FLAG(bool, lambda, false,
          "run as an AWS Lambda custom runtime: take tasks from the Lambda "
          "Runtime API at $AWS_LAMBDA_RUNTIME_API instead of a coordinator "
          "(the default whenever that variable is set; see "
          "deploy/lambda/README.md)");
ABSL_FLAG(std::string, data_listen, "127.0.0.1:0",
          "host:port where this worker serves the results it holds to other "
          "workers and dagd (port 0 picks a free port); empty: off, and "
          "outputs over dagd's inline limit travel inline (or to dagd's S3 "
          "bucket)");
ABSL_FLAG(std::string, data_advertise, "",
          "host:port that others dial to reach --data_listen, when that "
          "differs (a pod IP, a NAT); default: --data_listen's host with the "
          "bound port, or this host's name when it listens on 0.0.0.0");
ABSL_FLAG(int, max_concurrent_sends, 10,
          "results sent to other workers at once; further readers are told "
          "to ask again (RESOURCE_EXHAUSTED) and back off");
ABSL_FLAG(absl::Duration, send_stall_timeout, absl::Minutes(2),
          "a reader taking no chunk for this long loses its stream; 0: never");
ABSL_FLAG(std::string, object_memory, "",
          "memory for the results this worker holds, e.g. 4G (default: a "
          "quarter of the machine's or the container's memory); the least "
          "recently used ones beyond it are spilled to --spill_dir");
ABSL_FLAG(std::string, fetch_memory, "",
          "inputs fetched from other workers that running tasks may hold at "
          "once, e.g. 4G (default: a quarter of the memory it may use); a "
          "task waits for room; 0: no bound");
ABSL_FLAG(std::string, spill_dir, "",
          "where held results beyond --object_memory are spilled: a private "
          "directory made in it at start and removed at exit (default: in "
          "$TMPDIR, else /tmp)");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA certificates that signed the coordinator's certificate: "
          "set, the worker connects over TLS and obeys only a coordinator "
          "whose certificate they verify");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM client certificate the worker proves who it is with (signed "
          "by the coordinator's --worker_ca); its common name is the "
          "worker's name. Needs --tls_ca and --tls_key");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(bool, insecure, false,
          "serve held results on a --data_listen other hosts can reach "
          "without TLS (no --tls_cert): anyone reaching the port could read "
          "them. Without it the worker refuses to start so");
ABSL_FLAG(std::string, log_format, "text",
          "text, or json: one JSON object per line with ts, level, msg, and "
          "job and task when the line is about a task");

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitCannotServe = 1;

[[noreturn]] void Die(const std::string& message, int code = kExitUsage) {
  std::cerr << "dagd-worker: " << message << "\n";
  std::exit(code);
}

// Like Die, in the chosen log format, for failures after flag parsing.
[[noreturn]] void Fail(const dagd::LogFn& log, const std::string& message) {
  log(dagd::Error(message));
  std::exit(kExitCannotServe);
}

dagd::LogFormat LogFormatFromFlag() {
  auto format = dagd::ParseLogFormat(absl::GetFlag(FLAGS_log_format));
  if (!format.ok()) {
    Die(absl::StrCat("--log_format: ", format.status().message()));
  }
  return *format;
}

// absl keeps only the last value of a repeated flag; collect every
// --plugin occurrence ourselves so `--plugin a.so --plugin b.so` loads both.
std::vector<std::string> AllPluginPaths(int argc, char** argv) {
  std::vector<std::string> paths;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    absl::string_view value;
    if (absl::ConsumePrefix(&arg, "--plugin=") ||
        absl::ConsumePrefix(&arg, "-plugin=")) {
      value = arg;
    } else if ((arg == "--plugin" || arg == "-plugin") && i + 1 < argc) {
      value = argv[++i];
    } else {
      continue;
    }
    for (absl::string_view path :
         absl::StrSplit(value, ',', absl::SkipEmpty())) {
      paths.emplace_back(path);
    }
  }
  return paths;
}

// What the exec runtime is given, or nullopt when the worker does not
// offer exec. An AWS Lambda function always does: each instance is a
// sandbox of its own, made for the tasks dagd sends it.
std::optional<dagd::ExecOptions> ExecFromFlags(bool lambda,
                                               const dagd::LogFn& log) {
  const std::string user = absl::GetFlag(FLAGS_exec_user);
  if (!lambda && !absl::GetFlag(FLAGS_allow_exec)) {
    if (!user.empty()) Die("--exec_user needs --allow_exec");
    return std::nullopt;
  }
  dagd::ExecOptions options;
  if (absl::StatusOr<dagd::CgroupTree> tree = dagd::CgroupTree::Detect();
      tree.ok()) {
    log(
        dagd::Info(absl::StrCat("exec attempts run in cgroups of their own "
                                "under ",
                                tree->dir())));
    options.cgroups = std::make_shared<dagd::CgroupTree>(*std::move(tree));
  } else if (!lambda) {
    log(dagd::Info(absl::StrCat(
        "exec attempts run without cgroups (", tree.status().message(),
        "); their helpers are found by an environment tag")));
  }
  if (user.empty()) return options;
  absl::StatusOr<dagd::RunAs> run_as = dagd::ResolveUser(user);
  if (!run_as.ok()) Die(std::string(run_as.status().message()));
  if (geteuid() != 0 && run_as->uid != geteuid()) {
    Die(absl::StrCat("--exec_user=", user,
                     ": the worker must run as root to start programs as "
                     "another user"));
  }
  options.run_as = *std::move(run_as);
  return options;
}

std::optional<dagd::PythonRuntimeOptions> PythonOptions(uint32_t slots) {
  auto options = dagd::PythonFromFlags(slots);
  if (!options.ok()) Die(std::string(options.status().message()));
  return *std::move(options);
}

// An AWS Lambda instance runs one task per invocation in memory sized for
// it: its interpreter keeps nothing for the next one.
std::optional<dagd::PythonRuntimeOptions> LambdaPythonOptions() {
  std::optional<dagd::PythonRuntimeOptions> options =
      PythonOptions(/*slots=*/1);
  if (options.has_value()) options->keep_bytes = 0;
  return options;
}

uint32_t SlotsFromFlag() {
  std::string text = absl::GetFlag(FLAGS_slots);
  if (text.empty()) return std::max(1u, std::thread::hardware_concurrency());
  uint32_t slots;
  if (!absl::SimpleAtoi(text, &slots) || slots == 0 || slots > 4096) {
    Die(absl::StrCat("--slots must be a whole number from 1 to 4096, got '",
                     text, "'"));
  }
  return slots;
}

dagd::WorkerOptions OptionsFromFlags() {
  dagd::WorkerOptions options;
  options.coordinator = absl::GetFlag(FLAGS_coordinator);
  if (options.coordinator.empty()) Die("--coordinator must not be empty");
  options.slots = SlotsFromFlag();
  options.pool = absl::GetFlag(FLAGS_pool);
  if (options.pool.empty()) Die("--pool must not be empty");
  options.name = absl::GetFlag(FLAGS_name);
  auto labels = dagd::ParseLabels(absl::GetFlag(FLAGS_labels));
  if (!labels.ok()) Die(absl::StrCat("--labels: ", labels.status().message()));
  options.labels = *std::move(labels);
  auto resources = dagd::ParseResources(absl::GetFlag(FLAGS_resources));
  if (!resources.ok()) {
    Die(absl::StrCat("--resources: ", resources.status().message()));
  }
  options.resources = *std::move(resources);
  options.drain_timeout = absl::GetFlag(FLAGS_drain_timeout);
  if (options.drain_timeout < absl::ZeroDuration()) {
    Die(absl::StrCat("--drain_timeout must not be negative, got ",
                     absl::FormatDuration(options.drain_timeout)));
  }
  options.report_start_after = absl::GetFlag(FLAGS_report_start_after);
  if (options.report_start_after < absl::ZeroDuration()) {
    Die(absl::StrCat("--report_start_after must not be negative, got ",
                     absl::FormatDuration(options.report_start_after)));
  }
  return options;
}

// The task runtimes this worker offers, and the function registries they
// read. Lives as long as the process serves.
struct Runtimes {
  dagd::FunctionRegistry builtins;
  dagd::FunctionRegistry plugins;
  dagd::TaskRuntimes list;
};

// Registers the builtins, loads `plugins`, starts the Python interpreters
// (with `python`), and lists the runtimes in the order they are asked:
// builtins, plugins, exec, python. `max_output_bytes` bounds the builtin
// `bytes` (see RegisterBuiltins).
absl::Status LoadRuntimes(
    const std::vector<std::string>& plugins,
    const std::optional<dagd::ExecOptions>& exec,
    const std::optional<dagd::PythonRuntimeOptions>& python,
    const dagd::LogFn& log, Runtimes* runtimes,
    std::function<uint64_t()> max_output_bytes = nullptr) {
  if (absl::Status status = dagd::RegisterBuiltins(&runtimes->builtins,
                                                   std::move(max_output_bytes));
      !status.ok()) {
    return absl::InternalError(absl::StrCat("builtins: ", status.message()));
  }
  for (const std::string& path : plugins) {
    if (absl::Status status = dagd::LoadPlugin(path, &runtimes->plugins);
        !status.ok()) {
      return status;
    }
  }
  std::vector<std::unique_ptr<dagd::TaskRuntime>> list;
  // The builtins read inputs through Payload::bytes(); plugins need not.
  list.push_back(std::make_unique<dagd::FunctionRuntime>(
      dagd::kBuiltinRuntime, &runtimes->builtins, /*reads_in_place=*/true));
  if (!plugins.empty()) {
    list.push_back(std::make_unique<dagd::FunctionRuntime>(dagd::kPluginRuntime,
                                                           &runtimes->plugins));
  }
  if (exec.has_value()) {
    list.push_back(std::make_unique<dagd::ExecRuntime>(*exec));
  }
  if (python.has_value()) {
    auto runtime = dagd::PythonRuntime::Start(*python, log);
    if (!runtime.ok()) {
      return absl::Status(
          runtime.status().code(),
          absl::StrCat("--python: ", runtime.status().message()));
    }
    log(dagd::Info(absl::StrCat("python: ", (*runtime)->Describe())));
    list.push_back(*std::move(runtime));
  }
  for (std::unique_ptr<dagd::TaskRuntime>& runtime : list) {
    if (absl::Status status = runtimes->list.Add(std::move(runtime));
        !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

std::string DescribeRuntimes(const dagd::TaskRuntimes& runtimes) {
  return absl::StrCat(
      "runtimes: ", absl::StrJoin(runtimes.Names(), ", "),
      "; functions: ", absl::StrJoin(runtimes.Functions(), ", "));
}

std::unique_ptr<dagd::v1::WorkerService::Stub> MakeStub(
    const std::string& coordinator,
    const std::shared_ptr<grpc::ChannelCredentials>& credentials) {
  grpc::ChannelArguments args;
  // gRPC's own reconnect backoff (1 s initial, 120 s max) would otherwise
  // sit under ours and delay recovery after a coordinator restart. The
  // "min" backoff is also how long one connection attempt may take: at
  // 100 ms, handshakes on a busy machine were cut off again and again.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 5000);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  // Each connection attempt gets its own channel (see WorkerRuntime), so
  // no other stream shares it.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(-1);
  dagd::SetFlowControl(args);
  auto channel = grpc::CreateCustomChannel(coordinator, credentials, args);
  return dagd::v1::WorkerService::NewStub(channel);
}

// Blocks SIGTERM and SIGINT in every thread (call before starting any), so
// that only the sigwait thread below receives them, outside signal context.
sigset_t BlockStopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return signals;
}

void ParseFlags(int argc, char** argv) {
  absl::FlagsUsageConfig config;
  // Show our flags in --help, not those of the libraries we link.
  config.contains_help_flags = [](absl::string_view file) {
    return absl::EndsWith(file, "worker/main.cc");
  };
  config.contains_helpshort_flags = config.contains_help_flags;
  absl::SetFlagsUsageConfig(config);
  absl::SetProgramUsageMessage(
      "runs task functions for a dagd coordinator.\n\n"
      "usage: dagd-worker [--coordinator=host:port] [--slots=N] [--pool=NAME]\n"
      "                   [--labels=k=v,...] [--resources=name=amount,...]\n"
      "                   [--plugin=lib.so ...] [--name=NAME]\n"
      "                   [--python[=INTERPRETER]] [--python_processes=N]\n"
      "                   [--python_keep_bytes=256M]\n"
      "                   [--metrics_listen=host:port] [--metrics_tls] "
      "[--health_listen=host:port]\n"
      "                   [--healthz_listen=host:port] [--insecure]\n"
      "                   [--drain_timeout=60s] [--report_start_after=5ms]\n"
      "                   [--log_format=text|json]\n"
      "                   [--data_listen=host:port] "
      "[--data_advertise=host:port]\n"
      "                   [--object_memory=4G] [--fetch_memory=4G] "
      "[--spill_dir=DIR] "
      "[--max_concurrent_sends=10] [--send_stall_timeout=2m]\n"
      "       dagd-worker --lambda [--plugin=lib.so ...] "
      "[--log_format=text|json]\n\n"
      "Builtin functions: const, add, sleep, identity, fail, flaky, bytes,\n"
      "checksum, exec;\n"
      "with --python, python (Python functions; see README \"Python and "
      "Dask\").\n"
      "SIGTERM or SIGINT drains: no new tasks, running ones get\n"
      "--drain_timeout to finish and report, then exit status 0. A second\n"
      "signal stops at once.\n\n"
      "With AWS_LAMBDA_RUNTIME_API set (as Lambda does), or --lambda, it is\n"
      "an AWS Lambda function instead: it runs the task of each invocation\n"
      "and answers through the Lambda Runtime API; the coordinator, slot\n"
      "and status flags do not apply.");
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) {
    Die(absl::StrCat("unexpected argument '", rest[1], "' (see --help)"));
  }
}

struct StatusServers {
  std::unique_ptr<dagd::HttpStatusServer> http;
  std::unique_ptr<dagd::HealthListener> healthz;
  std::unique_ptr<dagd::GrpcHealthServer> grpc_health;
};

// The TLS files the flags name (empty paths for those not given).
dagd::TlsFiles TlsFilesFromFlags() {
  return {absl::GetFlag(FLAGS_tls_cert), absl::GetFlag(FLAGS_tls_key),
          absl::GetFlag(FLAGS_tls_ca)};
}

// Starts the servers asked for by --metrics_listen, --healthz_listen and
// --health_listen, wired to `status`; exits 1 when one cannot listen.
StatusServers StartStatusServers(dagd::WorkerStatus* status,
                                 dagd::WorkerMetrics* metrics,
                                 const dagd::LogFn& log) {
  StatusServers servers;
  auto serving = [status] { return status->state().serving(); };
  if (std::string listen = absl::GetFlag(FLAGS_metrics_listen);
      !listen.empty()) {
    dagd::HttpServerOptions options;
    const bool https = absl::GetFlag(FLAGS_metrics_tls);
    if (https) {
      options.tls_cert = absl::GetFlag(FLAGS_tls_cert);
      options.tls_key = absl::GetFlag(FLAGS_tls_key);
      if (options.tls_cert.empty() || options.tls_key.empty()) {
        Die("--metrics_tls needs --tls_cert and --tls_key");
      }
    }
    auto http = dagd::HttpStatusServer::Start(listen, metrics->registry(),
                                              serving, std::move(options));
    if (!http.ok()) {
      Fail(log, absl::StrCat("--metrics_listen: ", http.status().message()));
    }
    servers.http = *std::move(http);
    log(dagd::Info(absl::StrCat("metrics and /healthz on ",
                                https ? "HTTPS" : "HTTP", " port ",
                                servers.http->port())));
  }
  if (std::string listen = absl::GetFlag(FLAGS_healthz_listen);
      !listen.empty()) {
    auto healthz = dagd::HealthListener::Start(listen, serving);
    if (!healthz.ok()) {
      Fail(log, absl::StrCat("--healthz_listen: ", healthz.status().message()));
    }
    servers.healthz = *std::move(healthz);
    log(dagd::Info(
        absl::StrCat("/healthz alone on port ", servers.healthz->port())));
  }
  if (std::string listen = absl::GetFlag(FLAGS_health_listen);
      !listen.empty()) {
    auto health = dagd::GrpcHealthServer::Start(listen);
    if (!health.ok()) {
      Fail(log, absl::StrCat("--health_listen: ", health.status().message()));
    }
    servers.grpc_health = *std::move(health);
    dagd::GrpcHealthServer* server = servers.grpc_health.get();
    status->AddListener([server](const dagd::WorkerState& state) {
      server->SetServing(state.serving());
    });
    log(dagd::Info(absl::StrCat("gRPC health on port ", server->port())));
  }
  return servers;
}

// The data plane (worker/data_plane.h) and what it stands on, destroyed in
// reverse order: the DataService before the holder it serves.
struct DataParts {
  // dagd's data-plane secret, once registered: required of readers,
  // presented to holders.
  std::unique_ptr<dagd::DataSecret> secret;
  std::unique_ptr<dagd::ObjectHolder> holder;  // null: --data_listen=
  std::unique_ptr<dagd::DataService> service;
  std::unique_ptr<dagd::DataClient> client;
  std::unique_ptr<dagd::FetchBudget> fetch_budget;
  std::unique_ptr<dagd::DataPlane> plane;
};

// A byte-size flag's value ("4G"), `otherwise` when it is empty; exits 2
// naming `flag` when it does not parse.
uint64_t ByteSizeFlag(const std::string& text, const char* flag,
                      uint64_t otherwise) {
  if (text.empty()) return otherwise;
  auto parsed = dagd::ParseByteSize(text);
  if (!parsed.ok()) Die(absl::StrCat(flag, ": ", parsed.status().message()));
  return *parsed;
}

// Starts the object holder and the DataService unless --data_listen is
// empty; exits 2 on a bad flag, 1 when it cannot listen or make the spill
// directory.
DataParts StartDataPlane(dagd::Clock* clock, const dagd::LogFn& log) {
  DataParts parts;
  // With a certificate, held results move over TLS both ways: this worker
  // reads others' with it, and serves its own only to readers the CA
  // signed.
  const dagd::TlsFiles tls = TlsFilesFromFlags();
  const bool use_tls = !tls.cert.empty();
  parts.secret = std::make_unique<dagd::DataSecret>();
  dagd::DataClientOptions client_options;
  client_options.secret = parts.secret.get();
  if (use_tls) {
    auto credentials = dagd::ChannelCredentials(tls);
    if (!credentials.ok()) Die(std::string(credentials.status().message()));
    client_options.credentials = *std::move(credentials);
  }
  parts.client = std::make_unique<dagd::DataClient>(std::move(client_options));
  const std::string listen = absl::GetFlag(FLAGS_data_listen);
  if (!listen.empty() && !use_tls && !absl::GetFlag(FLAGS_insecure) &&
      !dagd::IsLoopbackAddress(listen)) {
    Die(absl::StrCat(
        "--data_listen=", listen,
        " can be reached from other hosts, and the worker would serve the "
        "results it holds there without TLS: give it --tls_cert, --tls_key "
        "and --tls_ca (README \"Security\"), listen on 127.0.0.1, or pass "
        "--insecure to accept the risk"));
  }
  if (!listen.empty()) {
    const uint64_t memory =
        ByteSizeFlag(absl::GetFlag(FLAGS_object_memory), "--object_memory",
                     dagd::DefaultObjectMemory());
    const int sends = absl::GetFlag(FLAGS_max_concurrent_sends);
    if (sends < 1) {
      Die(absl::StrCat("--max_concurrent_sends must be at least 1, got ",
                       sends));
    }
    if (absl::GetFlag(FLAGS_send_stall_timeout) < absl::ZeroDuration()) {
      Die("--send_stall_timeout must not be negative");
    }
    auto spill = dagd::MakeSpillDirectory(absl::GetFlag(FLAGS_spill_dir));
    if (!spill.ok()) {
      Fail(log, absl::StrCat("--spill_dir: ", spill.status().message()));
    }
    parts.holder =
        std::make_unique<dagd::ObjectHolder>(memory, *std::move(spill));
    dagd::DataServiceOptions options;
    options.listen = listen;
    options.advertise = absl::GetFlag(FLAGS_data_advertise);
    options.max_concurrent_sends = sends;
    options.send_stall_timeout = absl::GetFlag(FLAGS_send_stall_timeout);
    options.secret = parts.secret.get();
    auto credentials = dagd::DataServerCredentials(tls);
    if (!credentials.ok()) Die(std::string(credentials.status().message()));
    options.credentials = *std::move(credentials);
    auto service = dagd::DataService::Start(options, parts.holder.get());
    if (!service.ok()) {
      parts.holder.reset();  // removes the spill directory; exit would not
      Fail(log, absl::StrCat("--data_listen: ", service.status().message()));
    }
    parts.service = *std::move(service);
    log(dagd::Info(absl::StrCat(
        "serving held results on port ", parts.service->port(), " as ",
        parts.service->address(), "; object memory ", memory,
        " bytes, spilling to ", parts.holder->spill_location())));
  }
  parts.fetch_budget = std::make_unique<dagd::FetchBudget>(
      ByteSizeFlag(absl::GetFlag(FLAGS_fetch_memory), "--fetch_memory",
                   dagd::MemoryLimitBytes() / 4));
  parts.plane = std::make_unique<dagd::DataPlane>(
      dagd::NewInstanceId(), parts.holder.get(), parts.service.get(),
      parts.client.get(), clock, parts.secret.get(), parts.fetch_budget.get());
  return parts;
}

// The Lambda Runtime API's host:port when this process is to be a Lambda
// function, else nullopt.
std::optional<std::string> LambdaEndpoint() {
  const char* endpoint = std::getenv("AWS_LAMBDA_RUNTIME_API");
  bool set = endpoint != nullptr && *endpoint != '\0';
  if (absl::GetFlag(FLAGS_lambda) && !set) {
    Die("--lambda needs AWS_LAMBDA_RUNTIME_API, the host:port of the Lambda "
        "Runtime API (Lambda sets it); it is not set");
  }
  if (!set) return std::nullopt;
  return std::string(endpoint);
}

// Reports a failed start to Lambda (POST .../runtime/init/error, which
// fails the invocation that started this instance with the message) and
// exits 1.
[[noreturn]] void FailLambdaInit(dagd::LambdaRuntimeApi& api,
                                 const dagd::LogFn& log,
                                 const std::string& message) {
  log(dagd::Error(message));
  absl::Status posted = api.PostInitError({dagd::kInitFailed, message});
  if (!posted.ok()) {
    log(dagd::Error(absl::StrCat("cannot report the failed start to Lambda: ",
                                 posted.message())));
  }
  std::exit(kExitCannotServe);
}

// Serves Lambda invocations until the Runtime API fails; returns the exit
// status.
int RunLambda(const std::string& endpoint,
              const std::vector<std::string>& plugins,
              const sigset_t& stop_signals) {
  // Lambda ends an instance with SIGTERM, then SIGKILL; there is nothing
  // to drain (the invocation in flight is lost either way), so the default
  // action applies.
  pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);
  std::unique_ptr<dagd::LambdaRuntimeApi> api =
      dagd::MakeCurlLambdaRuntimeApi(endpoint);
  auto format = dagd::ParseLogFormat(absl::GetFlag(FLAGS_log_format));
  if (!format.ok()) {
    FailLambdaInit(*api, dagd::StderrLogger(dagd::LogFormat::kText),
                   absl::StrCat("--log_format: ", format.status().message()));
  }
  const dagd::LogFn log = dagd::StderrLogger(*format);
  Runtimes runtimes;
  if (absl::Status loaded =
          LoadRuntimes(plugins, ExecFromFlags(/*lambda=*/true, log),
                       LambdaPythonOptions(), log, &runtimes);
      !loaded.ok()) {
    FailLambdaInit(*api, log, std::string(loaded.message()));
  }
  log(dagd::Info(DescribeRuntimes(runtimes.list)));
  absl::StatusOr<dagd::LambdaStore> store = dagd::LambdaObjectStore();
  if (!store.ok()) {
    FailLambdaInit(*api, log, std::string(store.status().message()));
  }
  if (store->store != nullptr) {
    log(dagd::Info(absl::StrCat("object store: ", store->store->Describe())));
  }
  dagd::LambdaRuntimeOptions options;
  options.store_bucket = dagd::EnvOrEmpty("DAGD_S3_BUCKET");
  dagd::SystemClock clock;
  dagd::FailedAttemptLog failure_log(log);
  dagd::LambdaRuntime runtime(options, api.get(), &runtimes.list,
                              store->store.get(), &clock, log, &failure_log);
  log(dagd::Info(absl::StrCat(
      "serving Lambda invocations from the Runtime API at ", endpoint)));
  absl::Status status = runtime.Run();
  log(dagd::Error(absl::StrCat("exiting: ", status.message())));
  return kExitCannotServe;
}

}  // namespace

int main(int argc, char** argv) {
  // Abseil as Debian builds it checks the lock order of every Mutex::Lock
  // against a global graph (one more global lock per task, many times
  // over); dagd's tests keep that check, the binaries skip it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  sigset_t stop_signals = BlockStopSignals();
  std::vector<std::string> args = dagd::WithPythonDefault(argc, argv);
  std::vector<char*> arg_pointers;
  for (std::string& arg : args) arg_pointers.push_back(arg.data());
  arg_pointers.push_back(nullptr);
  argc = static_cast<int>(args.size());
  argv = arg_pointers.data();
  ParseFlags(argc, argv);
  if (std::optional<std::string> endpoint = LambdaEndpoint()) {
    return RunLambda(*endpoint, AllPluginPaths(argc, argv), stop_signals);
  }
  const dagd::LogFn log = dagd::StderrLogger(LogFormatFromFlag());
  dagd::WorkerOptions options = OptionsFromFlags();
  // The data plane, once started (after everything that may exit at once,
  // which would leave its spill directory behind): dagd's limits, told at
  // registration, are read from it.
  std::atomic<dagd::DataPlane*> limits_from{nullptr};
  // An exec or Python output over dagd's --max_result_bytes is not read.
  const auto max_result_bytes = [&limits_from]() -> uint64_t {
    dagd::DataPlane* plane = limits_from.load();
    return plane != nullptr ? plane->limits().max_result_bytes : 0;
  };
  std::optional<dagd::ExecOptions> exec = ExecFromFlags(false, log);
  if (exec.has_value()) exec->max_output_bytes = max_result_bytes;
  std::optional<dagd::PythonRuntimeOptions> python =
      PythonOptions(options.slots);
  if (python.has_value()) python->max_output_bytes = max_result_bytes;
  Runtimes runtimes;
  if (absl::Status loaded =
          LoadRuntimes(AllPluginPaths(argc, argv), exec, std::move(python), log,
                       &runtimes, max_result_bytes);
      !loaded.ok()) {
    Die(std::string(loaded.message()));
  }
  log(dagd::Info(DescribeRuntimes(runtimes.list)));
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      dagd::ChannelCredentials(TlsFilesFromFlags());
  if (!credentials.ok()) Die(std::string(credentials.status().message()));

  dagd::WorkerStatus status;
  dagd::WorkerMetrics metrics(options.slots, runtimes.list.Functions());
  status.AddListener([&metrics](const dagd::WorkerState& state) {
    metrics.StatusChanged(state);
  });
  dagd::FailedAttemptLog failure_log(log);
  dagd::ObserverFanOut observers({&metrics, &failure_log});
  StatusServers servers = StartStatusServers(&status, &metrics, log);

  dagd::SystemClock clock;
  DataParts data = StartDataPlane(&clock, log);
  limits_from = data.plane.get();
  std::mt19937_64 random_engine{std::random_device{}()};
  auto uniform = [&random_engine] {
    return std::uniform_real_distribution<double>(0.0, 1.0)(random_engine);
  };
  // The object store dagd names at registration, with this host's AWS
  // credentials (environment, ECS task role, EC2 instance profile).
  std::unique_ptr<dagd::AwsCredentialsProvider> aws_credentials =
      dagd::MakeDefaultCredentialsChain();
  dagd::WorkerRuntime runtime(
      options, [&] { return MakeStub(options.coordinator, *credentials); },
      &runtimes.list, &clock, uniform, log, &status, &observers,
      [credentials =
           aws_credentials.get()](const dagd::v1::ObjectStoreConfig& config) {
        return dagd::MakeS3ObjectStore(config, credentials);
      },
      data.plane.get());
  std::atomic<bool> run_returned{false};
  std::thread signal_thread([&] {
    int received = 0;
    sigwait(&stop_signals, &received);
    if (run_returned) return;
    log(dagd::Info(absl::StrCat("received SIG", sigabbrev_np(received),
                                ": draining (up to ",
                                absl::FormatDuration(options.drain_timeout),
                                "); send it again to stop at once")));
    std::thread drainer([&] { runtime.Drain(); });
    sigwait(&stop_signals, &received);
    if (!run_returned) {
      log(dagd::Warning(absl::StrCat("received SIG", sigabbrev_np(received),
                                     " again: stopping now")));
      runtime.Shutdown();
    }
    drainer.join();
  });
  runtime.Run();
  run_returned = true;
  // Wake the signal thread if it still waits; the signal is blocked, so it
  // stays pending for that thread only.
  pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();
  limits_from = nullptr;  // the data plane goes before the runtimes
  return 0;
}
