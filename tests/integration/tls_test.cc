// TLS on dagd's gRPC port, workers proving who they are with certificates,
// and dagd refusing to be exposed unguarded. The certificates are made
// with openssl for each run.
#include "storage/tls.h"

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "dagd/v1/worker_service.grpc.pb.h"
#include "server/auth/token_table.h"
#include "storage/data_client.h"
#include "storage/object_store.h"
#include "tests/integration/fault_env.h"
#include "tests/integration/integration_env.h"
#include "tests/testutil/pki.h"

namespace dagd {
namespace {

using ::testing::HasSubstr;
using testing::Pki;
using testing::PollUntil;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = testing::TempDir::Create("dagd-tls-")->release();
    pki_ = new Pki(dir_->path());
    for (absl::Status s :
         {pki_->MakeCa("ca"), pki_->MakeCa("rogue-ca"),
          pki_->MakeCert("ca", "dagd", "dagd"),
          pki_->MakeCert("ca", "worker", "worker-1"),
          pki_->MakeCert("ca", "worker3", "worker-3"),
          pki_->MakeCert("ca", "ci", "ci-runner"),
          pki_->MakeCert("rogue-ca", "rogue-ci", "ci-runner"),
          pki_->MakeCert("rogue-ca", "rogue-worker", "worker-2"),
          pki_->MakeCert("rogue-ca", "rogue-dagd", "dagd")}) {
      ASSERT_EQ(s, absl::OkStatus());
    }
    tokens_ = dir_->path() + "/tokens";
    std::ofstream(tokens_) << TokenHash("ops-token") << " ops admin\n"
                           << "cert:ci-runner alpha submit ci\n";
  }
  static void TearDownTestSuite() {
    delete pki_;
    delete dir_;
  }

  // A dagd serving TLS with worker certificates and tokens.
  static std::unique_ptr<testing::DagdProcess> StartGuarded(
      std::vector<std::string> more = {}) {
    testing::DagdOptions options;
    options.binaries = testing::BuiltBinaries();
    options.flags = {"--tls_cert=" + pki_->Path("dagd", "pem"),
                     "--tls_key=" + pki_->Path("dagd", "key"),
                     "--worker_ca=" + pki_->Path("ca", "pem"),
                     "--tokens_file=" + tokens_};
    options.flags.insert(options.flags.end(), more.begin(), more.end());
    options.client = Options(/*tls=*/true);
    absl::StatusOr<std::unique_ptr<testing::DagdProcess>> dagd =
        testing::DagdProcess::Start(std::move(options));
    EXPECT_TRUE(dagd.ok()) << dagd.status();
    return dagd.ok() ? *std::move(dagd) : nullptr;
  }

  static ClientOptions Options(bool tls) {
    ClientOptions options;
    options.token = "ops-token";
    options.tls = tls;
    options.tls_root_certs = pki_->Pem("ca");
    options.call_timeout = absl::Seconds(5);
    options.wait_for_ready = false;
    return options;
  }

  // The worker flags of certificate `name` ("" for none), trusting `ca`.
  static std::vector<std::string> WorkerFlags(const std::string& ca,
                                              const std::string& name) {
    std::vector<std::string> flags = {"--tls_ca=" + pki_->Path(ca, "pem"),
                                      "--slots=2"};
    if (!name.empty()) {
      flags.push_back("--tls_cert=" + pki_->Path(name, "pem"));
      flags.push_back("--tls_key=" + pki_->Path(name, "key"));
    }
    return flags;
  }

  static testing::TempDir* dir_;
  static Pki* pki_;
  static std::string tokens_;
};

testing::TempDir* TlsTest::dir_ = nullptr;
Pki* TlsTest::pki_ = nullptr;
std::string TlsTest::tokens_;

TEST_F(TlsTest, AWorkerWithACertificateOfTheCaRegistersUnderItsNameAndRuns) {
  std::unique_ptr<testing::DagdProcess> dagd = StartGuarded();
  ASSERT_NE(dagd, nullptr);
  ASSERT_TRUE(dagd->StartWorker(WorkerFlags("ca", "worker")).ok());
  ASSERT_EQ(dagd->WaitForWorkers(1), absl::OkStatus());
  absl::StatusOr<v1::ListWorkersResponse> workers =
      dagd->client().ListWorkers();
  ASSERT_TRUE(workers.ok());
  EXPECT_EQ(workers->workers(0).name(), "worker-1");

  absl::StatusOr<v1::JobSpec> spec = ParseJobSpecJson(testing::kAnswerJob);
  ASSERT_TRUE(spec.ok());
  absl::StatusOr<v1::SubmitJobResponse> done =
      dagd->client().SubmitAndWait(*spec);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->final_status().state(), v1::JOB_SUCCEEDED);
}

// Held results move over TLS: a consumer on another worker reads its
// input from the holder presenting its own certificate, and dagd reads an
// output from its holder with dagd's.
TEST_F(TlsTest, HeldResultsMoveBetweenWorkersAndToDagdOverTls) {
  std::unique_ptr<testing::DagdProcess> dagd = StartGuarded();
  ASSERT_NE(dagd, nullptr);
  for (const auto& [cert, pool] :
       {std::pair{"worker", "a"}, {"worker3", "b"}}) {
    std::vector<std::string> flags = WorkerFlags("ca", cert);
    flags.insert(flags.end(), {std::string("--pool=") + pool, "--allow_exec",
                               "--data_listen=127.0.0.1:0"});
    ASSERT_TRUE(dagd->StartWorker(flags).ok());
  }
  ASSERT_EQ(dagd->WaitForWorkers(2), absl::OkStatus());
  // 300 KB and 200 KB: over the inline limit, so held where made.
  const std::string job = R"json({"tasks": [
    {"id": "big", "fn": "exec", "executor": "pool:a", "args": {"argv": [
      "/bin/sh", "-c", "head -c 300000 /dev/zero | tr '\\0' x"]}},
    {"id": "count", "fn": "exec", "executor": "pool:b", "inputs": ["big"],
     "args": {"argv": ["/bin/sh", "-c",
      "tr -d x < \"$DAGD_INPUT_0\" | wc -c | tr -d ' \\n'; printf ' '; wc -c < \"$DAGD_INPUT_0\" | tr -d ' \\n'"]}},
    {"id": "out", "fn": "exec", "executor": "pool:a", "args": {"argv": [
      "/bin/sh", "-c", "head -c 200000 /dev/zero | tr '\\0' y"]}}
  ]})json";
  const std::vector<std::string> auth = {"--tls_ca=" + pki_->Path("ca", "pem"),
                                         "--token=ops-token"};
  std::vector<std::string> submit_args = auth;
  submit_args.insert(submit_args.end(), {"submit", "-", "--wait"});
  testing::CommandResult submit = dagd->RunDagctl(submit_args, job);
  ASSERT_EQ(submit.exit_code, 0) << submit.ToString() << dagd->Log();
  const std::string job_id = submit.out.substr(0, submit.out.find('\n'));
  std::vector<std::string> count_args = auth;
  count_args.insert(count_args.end(), {"result", job_id, "count"});
  testing::CommandResult count = dagd->RunDagctl(count_args);
  ASSERT_EQ(count.exit_code, 0) << count.ToString();
  EXPECT_EQ(count.out, "0 300000");
  std::vector<std::string> out_args = auth;
  out_args.insert(out_args.end(), {"result", job_id, "out"});
  testing::CommandResult out = dagd->RunDagctl(out_args);
  ASSERT_EQ(out.exit_code, 0) << out.ToString();
  EXPECT_EQ(out.out, std::string(200000, 'y'));
}

TEST_F(TlsTest, WorkersWithoutAValidCertificateCannotRegister) {
  std::unique_ptr<testing::DagdProcess> dagd = StartGuarded();
  ASSERT_NE(dagd, nullptr);
  absl::StatusOr<testing::Subprocess*> none =
      dagd->StartWorker(WorkerFlags("ca", ""));
  absl::StatusOr<testing::Subprocess*> rogue =
      dagd->StartWorker(WorkerFlags("ca", "rogue-worker"));
  ASSERT_TRUE(none.ok() && rogue.ok());
  // The one without a certificate is told why.
  ASSERT_EQ(PollUntil(
                [&] {
                  return (*none)->Stderr().find("client certificate") !=
                         std::string::npos;
                },
                absl::Seconds(20),
                "the worker without a certificate to be "
                "refused"),
            absl::OkStatus())
      << (*none)->Stderr();
  // A worker with a good certificate comes in; the other two never do.
  ASSERT_TRUE(dagd->StartWorker(WorkerFlags("ca", "worker")).ok());
  ASSERT_EQ(dagd->WaitForWorkers(1), absl::OkStatus());
  absl::SleepFor(absl::Seconds(1));
  absl::StatusOr<v1::ListWorkersResponse> workers =
      dagd->client().ListWorkers();
  ASSERT_TRUE(workers.ok());
  ASSERT_EQ(workers->workers_size(), 1);
  EXPECT_EQ(workers->workers(0).name(), "worker-1");
}

// Under worker certificates the roster keys a worker by its certificate's
// name and its process instance. The same worker back after a kill -9 of
// dagd is known by that key, so recovered jobs go on once it has sent what
// it kept: the task after the one it was running runs at once, not after
// the minute's grace.
TEST_F(TlsTest, ACertifiedWorkerBackAfterACrashEndsTheRecoveryWait) {
  const absl::Duration grace = absl::Seconds(60);
  absl::StatusOr<std::unique_ptr<testing::RestartableCluster>> made =
      testing::RestartableCluster::Create(
          {"--tls_cert=" + pki_->Path("dagd", "pem"),
           "--tls_key=" + pki_->Path("dagd", "key"),
           "--worker_ca=" + pki_->Path("ca", "pem"), "--tokens_file=" + tokens_,
           "--recovery_grace=" + absl::FormatDuration(grace)});
  ASSERT_TRUE(made.ok()) << made.status();
  testing::RestartableCluster& cluster = **made;
  ASSERT_EQ(cluster.StartDagd(), absl::OkStatus());
  ASSERT_EQ(cluster.StartWorker(WorkerFlags("ca", "worker")), absl::OkStatus());
  ClientOptions options = Options(/*tls=*/true);
  options.watch_timeout = 2 * grace;
  std::unique_ptr<Client> client = Client::Connect(cluster.address(), options);
  ASSERT_EQ(PollUntil(
                [&] {
                  absl::StatusOr<v1::ListWorkersResponse> w =
                      client->ListWorkers();
                  return w.ok() && w->workers_size() == 1;
                },
                absl::Seconds(20), "the worker to register"),
            absl::OkStatus());

  absl::StatusOr<v1::JobSpec> spec = ParseJobSpecJson(R"({"tasks": [
      {"id": "a", "fn": "sleep", "args": {"ms": 3000}},
      {"id": "b", "fn": "const", "args": {"value": 1}, "after": ["a"]}]})");
  ASSERT_TRUE(spec.ok()) << spec.status();
  v1::SubmitJobRequest request;
  *request.mutable_job() = *spec;
  absl::StatusOr<v1::SubmitJobResponse> submitted = client->SubmitJob(request);
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  const std::string job_id = submitted->job_id();
  ASSERT_EQ(testing::WaitForTaskState(*client, job_id, "a", v1::TASK_RUNNING),
            absl::OkStatus());

  ASSERT_EQ(cluster.KillDagd(), absl::OkStatus());
  const absl::Time restarted = absl::Now();
  ASSERT_EQ(cluster.StartDagd(), absl::OkStatus());
  absl::StatusOr<v1::JobStatus> done = client->Wait(job_id);
  const absl::Duration took = absl::Now() - restarted;
  const std::string log =
      testing::ReadFileOrEmpty(cluster.dir() + "/dagd-1.stderr");
  ASSERT_TRUE(done.ok()) << done.status() << "\n" << log;
  EXPECT_EQ(done->state(), v1::JOB_SUCCEEDED) << done->DebugString();
  EXPECT_LT(took, grace) << "the wait ran out instead of ending when the "
                            "worker was back:\n"
                         << log;
  EXPECT_NE(log.find("wait for 1 worker(s) connected before the restart "
                     "(worker-1)"),
            std::string::npos)
      << log;
}

// A certified worker's process reconnecting while dagd still has its older
// stream (half open: the connection dropped on the worker's side only) is
// taken back under its name, the newer stream replacing the older, instead
// of being refused until that stream times out. Another process with the
// same certificate is still refused while the first is connected.
TEST_F(TlsTest, ACertifiedWorkerReconnectingOverItsHalfOpenStreamIsTakenBack) {
  std::unique_ptr<testing::DagdProcess> dagd = StartGuarded();
  ASSERT_NE(dagd, nullptr);
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      ChannelCredentials({pki_->Path("worker", "pem"),
                          pki_->Path("worker", "key"),
                          pki_->Path("ca", "pem")});
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  auto stub = v1::WorkerService::NewStub(
      grpc::CreateChannel(dagd->address(), *credentials));
  v1::WorkerMessage hello;
  v1::Register* reg = hello.mutable_register_();
  reg->set_slots(1);
  reg->add_functions("const");
  reg->set_instance("instance-1");
  reg->set_data_address("127.0.0.1:1");
  grpc::ClientContext older_context;
  auto older = stub->Connect(&older_context);
  ASSERT_TRUE(older->Write(hello));
  ASSERT_EQ(dagd->WaitForWorkers(1), absl::OkStatus());

  grpc::ClientContext newer_context;
  auto newer = stub->Connect(&newer_context);
  ASSERT_TRUE(newer->Write(hello));
  ASSERT_EQ(
      dagd->WaitForLog("its older stream is dropped",
                       "dagd to drop the older stream", absl::Seconds(10)),
      absl::OkStatus());
  v1::CoordinatorMessage message;
  while (older->Read(&message)) {
  }
  EXPECT_EQ(older->Finish().error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  absl::StatusOr<v1::ListWorkersResponse> workers =
      dagd->client().ListWorkers();
  ASSERT_TRUE(workers.ok()) << workers.status();
  ASSERT_EQ(workers->workers_size(), 1);
  EXPECT_EQ(workers->workers(0).name(), "worker-1");

  grpc::ClientContext other_context;
  auto other = stub->Connect(&other_context);
  reg->set_instance("instance-2");
  ASSERT_TRUE(other->Write(hello));
  while (other->Read(&message)) {
  }
  grpc::Status refused = other->Finish();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::ALREADY_EXISTS)
      << refused.error_message();
  EXPECT_THAT(refused.error_message(), HasSubstr("'worker-1'"));
  newer_context.TryCancel();
  (void)newer->Finish();
}

TEST_F(TlsTest, AWorkerRefusesACoordinatorItsCaDidNotSign) {
  // A dagd with a certificate of another CA, as an impostor would have.
  testing::DagdOptions options;
  options.binaries = testing::BuiltBinaries();
  options.flags = {"--tls_cert=" + pki_->Path("rogue-dagd", "pem"),
                   "--tls_key=" + pki_->Path("rogue-dagd", "key")};
  options.client = Options(/*tls=*/true);
  options.client.tls_root_certs = pki_->Pem("rogue-ca");
  absl::StatusOr<std::unique_ptr<testing::DagdProcess>> impostor =
      testing::DagdProcess::Start(std::move(options));
  ASSERT_TRUE(impostor.ok()) << impostor.status();
  absl::StatusOr<testing::Subprocess*> worker =
      (*impostor)->StartWorker(WorkerFlags("ca", "worker"));
  ASSERT_TRUE(worker.ok());
  absl::SleepFor(absl::Seconds(3));
  absl::StatusOr<v1::ListWorkersResponse> workers =
      (*impostor)->client().ListWorkers();
  ASSERT_TRUE(workers.ok()) << workers.status();
  EXPECT_EQ(workers->workers_size(), 0) << "the worker obeyed an impostor";
}

TEST_F(TlsTest, ClientsNeedTlsAndTheRightCa) {
  std::unique_ptr<testing::DagdProcess> dagd = StartGuarded();
  ASSERT_NE(dagd, nullptr);
  EXPECT_TRUE(Client::Connect(dagd->address(), Options(true))->ListJobs().ok());
  // Plain text is not spoken on the port.
  EXPECT_EQ(Client::Connect(dagd->address(), Options(false))
                ->ListJobs()
                .status()
                .code(),
            absl::StatusCode::kUnavailable);
  // Nor is dagd trusted under another CA.
  ClientOptions rogue = Options(true);
  rogue.tls_root_certs = pki_->Pem("rogue-ca");
  EXPECT_EQ(Client::Connect(dagd->address(), rogue)->ListJobs().status().code(),
            absl::StatusCode::kUnavailable);
  // dagctl speaks TLS with --tls_ca.
  testing::CommandResult listed = dagd->RunDagctl(
      {"--tls_ca=" + pki_->Path("ca", "pem"), "--token=ops-token", "jobs"});
  EXPECT_EQ(listed.exit_code, 0) << listed.ToString();
}

TEST_F(TlsTest, AClientCertificateTheTokensFileNamesIsAnIdentity) {
  std::unique_ptr<testing::DagdProcess> dagd = StartGuarded();
  ASSERT_NE(dagd, nullptr);
  ClientOptions ci = Options(true);
  ci.token.clear();
  ci.tls_cert_chain = pki_->Pem("ci");
  ci.tls_private_key = ReadAll(pki_->Path("ci", "key"));
  absl::StatusOr<std::string> job = testing::SubmitJob(
      *Client::Connect(dagd->address(), ci), testing::kAnswerJob);
  ASSERT_TRUE(job.ok()) << job.status();
  // The job is the certificate's tenant's.
  absl::StatusOr<v1::JobStatus> status =
      Client::Connect(dagd->address(), Options(true))->Get(*job);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->tenant(), "alpha");
  EXPECT_THAT(dagd->Log(), ::testing::HasSubstr("by certificate ci"));
  // The same common name under another CA is not a certificate dagd
  // verifies: no identity, and no connection.
  ClientOptions rogue = ci;
  rogue.tls_cert_chain = pki_->Pem("rogue-ci");
  rogue.tls_private_key = ReadAll(pki_->Path("rogue-ci", "key"));
  EXPECT_FALSE(Client::Connect(dagd->address(), rogue)->ListJobs().ok());
  // A worker's certificate is not a client identity unless listed.
  ClientOptions worker = ci;
  worker.tls_cert_chain = pki_->Pem("worker");
  worker.tls_private_key = ReadAll(pki_->Path("worker", "key"));
  EXPECT_EQ(
      Client::Connect(dagd->address(), worker)->ListJobs().status().code(),
      absl::StatusCode::kUnauthenticated);
  // dagctl presents one with --tls_cert and --tls_key, instead of the
  // token in $DAGD_TOKEN (which, sent, would be what counts).
  testing::CommandResult listed =
      dagd->RunDagctl({"--tls_ca=" + pki_->Path("ca", "pem"),
                       "--tls_cert=" + pki_->Path("ci", "pem"),
                       "--tls_key=" + pki_->Path("ci", "key"), "jobs"},
                      "", absl::Seconds(60), {{"DAGD_TOKEN", "not-a-token"}});
  EXPECT_EQ(listed.exit_code, 0) << listed.ToString();
}

// A client's certificate (a cert: line names it), which the workers' CA
// signs too, neither registers as a worker (it would be given other
// tenants' tasks) nor reads what a worker holds (any key of any tenant):
// reads must present dagd's data-plane secret, which only the workers
// registered with dagd are told.
TEST_F(TlsTest, AClientCertificateNeitherRegistersNorReadsHeldResults) {
  std::unique_ptr<testing::DagdProcess> dagd = StartGuarded();
  ASSERT_NE(dagd, nullptr);
  absl::StatusOr<testing::Subprocess*> client_as_worker =
      dagd->StartWorker(WorkerFlags("ca", "ci"));
  ASSERT_TRUE(client_as_worker.ok());
  ASSERT_EQ(PollUntil(
                [&] {
                  return (*client_as_worker)->Stderr().find("is a client's") !=
                         std::string::npos;
                },
                absl::Seconds(20), "the client's certificate to be refused"),
            absl::OkStatus())
      << (*client_as_worker)->Stderr();
  std::vector<std::string> flags = WorkerFlags("ca", "worker");
  flags.insert(flags.end(), {"--allow_exec", "--data_listen=127.0.0.1:0"});
  ASSERT_TRUE(dagd->StartWorker(flags).ok());
  ASSERT_EQ(dagd->WaitForWorkers(1), absl::OkStatus());
  absl::StatusOr<v1::JobSpec> spec = ParseJobSpecJson(R"json({"tasks": [
    {"id": "big", "fn": "exec", "args": {"argv": [
      "/bin/sh", "-c", "head -c 300000 /dev/zero | tr '\\0' x"]}}]})json");
  ASSERT_TRUE(spec.ok()) << spec.status();
  absl::StatusOr<v1::SubmitJobResponse> done =
      dagd->client().SubmitAndWait(*spec);
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_EQ(done->final_status().state(), v1::JOB_SUCCEEDED);
  absl::StatusOr<v1::ListWorkersResponse> workers =
      dagd->client().ListWorkers();
  ASSERT_TRUE(workers.ok() && workers->workers_size() == 1);
  // What the output's holder serves, read with the client's certificate.
  v1::ObjectRef ref;
  ref.set_key(ResultObjectKey(done->job_id(), 0, 1));
  ref.mutable_holder()->set_name(workers->workers(0).name());
  ref.mutable_holder()->set_address(workers->workers(0).data_address());
  DataClientOptions options;
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      ChannelCredentials({pki_->Path("ci", "pem"), pki_->Path("ci", "key"),
                          pki_->Path("ca", "pem")});
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  options.credentials = *credentials;
  options.busy_deadline = absl::ZeroDuration();
  DataClient reader(std::move(options));
  absl::StatusOr<std::string> stolen = reader.FetchRange(ref, 0, 10);
  EXPECT_EQ(stolen.status().code(), absl::StatusCode::kPermissionDenied)
      << stolen.status();
  // dagd itself reads it (its own certificate, and the secret).
  absl::StatusOr<v1::GetResultResponse> result =
      dagd->client().Result(done->job_id(), "big");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->data().size(), 300000u);
}

TEST_F(TlsTest, DagdRefusesToListenUnguardedBeyondLoopback) {
  testing::DagdOptions options;
  options.binaries = testing::BuiltBinaries();
  options.flags = {"--listen=0.0.0.0:0"};
  options.start_timeout = absl::Seconds(10);
  absl::StatusOr<std::unique_ptr<testing::DagdProcess>> exposed =
      testing::DagdProcess::Start(options);
  ASSERT_FALSE(exposed.ok());
  EXPECT_THAT(exposed.status().message(),
              HasSubstr("--listen=0.0.0.0:0 can be reached from other hosts"));
  // The same for the HTTP port.
  options.flags = {"--metrics_listen=0.0.0.0:0"};
  exposed = testing::DagdProcess::Start(options);
  ASSERT_FALSE(exposed.ok());
  EXPECT_THAT(exposed.status().message(), HasSubstr("--metrics_listen"));
  // Guarded, or told to accept the risk, it starts.
  options.flags = {"--listen=0.0.0.0:0", "--insecure"};
  EXPECT_TRUE(testing::DagdProcess::Start(options).ok());
  EXPECT_NE(StartGuarded({"--listen=0.0.0.0:0"}), nullptr);
}

}  // namespace
}  // namespace dagd
