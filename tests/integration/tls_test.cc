// TLS on dagd's gRPC port, workers proving who they are with certificates,
// and dagd refusing to be exposed unguarded. The certificates are made
// with openssl for each run.
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "server/auth/token_table.h"
#include "tests/integration/integration_env.h"

namespace dagd {
namespace {

using ::testing::HasSubstr;
using testing::PollUntil;

// Runs a shell command; an error naming it when it fails.
absl::Status Shell(const std::string& command) {
  const std::string full = command + " >/dev/null 2>&1";
  if (std::system(full.c_str()) != 0) {
    return absl::InternalError("failed: " + command);
  }
  return absl::OkStatus();
}

// A CA in `dir`/NAME.{key,pem}, and certificates it signs.
class Pki {
 public:
  explicit Pki(std::string dir) : dir_(std::move(dir)) {}

  absl::Status MakeCa(const std::string& name) {
    return Shell(absl::StrCat(
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=", name,
        " -keyout ", Path(name, "key"), " -out ", Path(name, "pem")));
  }

  // A certificate for common name `cn` signed by `ca`, valid for 127.0.0.1
  // and localhost (a server's) and for client authentication (a worker's).
  absl::Status MakeCert(const std::string& ca, const std::string& name,
                        const std::string& cn) {
    const std::string ext = Path(name, "ext");
    {
      std::ofstream out(ext);
      out << "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
             "extendedKeyUsage=serverAuth,clientAuth\n";
    }
    if (absl::Status s = Shell(absl::StrCat(
            "openssl req -newkey rsa:2048 -nodes -subj /CN=", cn, " -keyout ",
            Path(name, "key"), " -out ", Path(name, "csr")));
        !s.ok()) {
      return s;
    }
    return Shell(absl::StrCat(
        "openssl x509 -req -days 2 -in ", Path(name, "csr"), " -CA ",
        Path(ca, "pem"), " -CAkey ", Path(ca, "key"),
        " -CAcreateserial -extfile ", ext, " -out ", Path(name, "pem")));
  }

  std::string Path(const std::string& name, const std::string& ext) const {
    return absl::StrCat(dir_, "/", name, ".", ext);
  }
  std::string Pem(const std::string& name) const {
    std::ifstream in(Path(name, "pem"));
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }

 private:
  const std::string dir_;
};

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
  // dagctl presents one with --tls_cert and --tls_key.
  testing::CommandResult listed =
      dagd->RunDagctl({"--tls_ca=" + pki_->Path("ca", "pem"),
                       "--tls_cert=" + pki_->Path("ci", "pem"),
                       "--tls_key=" + pki_->Path("ci", "key"), "jobs"});
  EXPECT_EQ(listed.exit_code, 0) << listed.ToString();
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
