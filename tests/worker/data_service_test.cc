// The worker's DataService on 127.0.0.1, read with the real DataClient:
// whole objects, ranges, spilled objects, what the reader checks, and the
// bound on concurrent sends.
#include "worker/data_service.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/crc32c.h"
#include "storage/data_client.h"
#include "storage/tls.h"
#include "tests/testutil/fake_clock.h"
#include "tests/testutil/pki.h"
#include "tests/worker/fake_spill_files.h"

namespace dagd {
namespace {

using ::testing::HasSubstr;

constexpr absl::Duration kWait = absl::Seconds(30);

std::string RandomBytes(size_t n, int seed) {
  std::mt19937 random(seed);
  std::string bytes(n, '\0');
  for (char& c : bytes) c = static_cast<char>(random());
  return bytes;
}

class DataServiceTest : public ::testing::Test {
 protected:
  void Start(uint64_t memory, int max_sends = 10,
             absl::Duration send_stall_timeout = absl::Minutes(2)) {
    auto files = std::make_unique<FakeSpillFiles>();
    files_ = files.get();
    holder_ = std::make_unique<ObjectHolder>(memory, std::move(files));
    DataServiceOptions options;
    options.max_concurrent_sends = max_sends;
    options.send_stall_timeout = send_stall_timeout;
    options.secret = &secret_;
    auto service = DataService::Start(options, holder_.get());
    ASSERT_TRUE(service.ok()) << service.status();
    service_ = *std::move(service);
  }

  void TearDown() override {
    if (files_ != nullptr) files_->OpenReads();
    service_.reset();
  }

  v1::ObjectRef Put(const std::string& key, const std::string& bytes) {
    absl::StatusOr<HeldObject> held =
        holder_->Put(key, bytes, "application/octet-stream");
    EXPECT_TRUE(held.ok()) << held.status();
    v1::ObjectRef ref;
    ref.set_key(key);
    ref.set_size(bytes.size());
    ref.set_crc32c(held.ok() ? held->crc32c : 0);
    ref.set_content_type("application/octet-stream");
    ref.mutable_holder()->set_instance("this-worker");
    ref.mutable_holder()->set_address(service_->address());
    return ref;
  }

  DataSecret secret_;  // none until a test sets one
  FakeSpillFiles* files_ = nullptr;
  std::unique_ptr<ObjectHolder> holder_;
  std::unique_ptr<DataService> service_;
  DataClient client_;
};

// The reader sees the bytes in the pieces gRPC received them in, within
// chunks of at most 1 MiB.
TEST_F(DataServiceTest, ServesAWholeObjectInChunksOfOneMiB) {
  Start(64 << 20);
  const std::string bytes = RandomBytes((3 << 20) + 12345, 1);
  v1::ObjectRef ref = Put("results/j1/0/1", bytes);
  EXPECT_EQ(service_->address(), absl::StrCat("127.0.0.1:", service_->port()));
  int chunks = 0;
  std::string got;
  absl::Status read = client_.Read(ref, 0, 0, [&](absl::string_view data) {
    ++chunks;
    EXPECT_LE(data.size(), 1u << 20);
    got.append(data.data(), data.size());
    return absl::OkStatus();
  });
  ASSERT_TRUE(read.ok()) << read;
  EXPECT_GE(chunks, 4);
  EXPECT_TRUE(got == bytes);
  EXPECT_EQ(service_->sent_bytes(), bytes.size());
}

TEST_F(DataServiceTest, ServesRanges) {
  Start(64 << 20);
  const std::string bytes = RandomBytes((2 << 20) + 10, 2);
  v1::ObjectRef ref = Put("k", bytes);
  auto range = client_.FetchRange(ref, (1 << 20) - 5, 20);
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_EQ(*range, bytes.substr((1 << 20) - 5, 20));
  range = client_.FetchRange(ref, (2 << 20), 0);  // to the end
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_EQ(*range, bytes.substr(2 << 20));
  range = client_.FetchRange(ref, bytes.size() - 3, 100);  // fewer at the end
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_EQ(*range, bytes.substr(bytes.size() - 3));
  range = client_.FetchRange(ref, bytes.size() + 1, 1);
  EXPECT_EQ(range.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(range.status().message(), HasSubstr("past the end of 'k'"));
}

TEST_F(DataServiceTest, ServesAnEmptyObject) {
  Start(64 << 20);
  v1::ObjectRef ref = Put("empty", "");
  auto object = client_.Fetch(ref);
  ASSERT_TRUE(object.ok()) << object.status();
  EXPECT_EQ(object->data, "");
}

TEST_F(DataServiceTest, ServesASpilledObject) {
  Start(/*memory=*/1 << 20);
  const std::string first = RandomBytes(800 << 10, 3);
  const std::string second = RandomBytes(800 << 10, 4);
  v1::ObjectRef first_ref = Put("first", first);
  v1::ObjectRef second_ref = Put("second", second);  // spills `first`
  ASSERT_EQ(holder_->stats().spilled_bytes, first.size());
  auto object = client_.Fetch(first_ref);
  ASSERT_TRUE(object.ok()) << object.status();
  EXPECT_TRUE(object->data == first);
  object = client_.Fetch(second_ref);
  ASSERT_TRUE(object.ok()) << object.status();
  EXPECT_TRUE(object->data == second);
  // Sent from its file, a chunk at a time: not brought back into memory.
  EXPECT_FALSE(holder_->GetIfInMemory("first").has_value());
  EXPECT_EQ(holder_->stats().restores, 0u);
  EXPECT_EQ(files_->ranges_read(), 1);
}

TEST_F(DataServiceTest, ServesAnObjectLargerThanItsMemoryChunkByChunk) {
  Start(/*memory=*/1 << 20);
  const std::string bytes = RandomBytes((3 << 20) + 500, 6);
  v1::ObjectRef ref = Put("big", bytes);
  auto object = client_.Fetch(ref);
  ASSERT_TRUE(object.ok()) << object.status();
  EXPECT_TRUE(object->data == bytes);
  EXPECT_EQ(files_->ranges_read(), 4);
  EXPECT_EQ(holder_->stats().memory_bytes, 0u);
  auto range = client_.FetchRange(ref, (2 << 20) - 10, 20);
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_EQ(*range, bytes.substr((2 << 20) - 10, 20));
}

TEST_F(DataServiceTest, TheReaderCatchesBytesThatChangedAtTheHolder) {
  Start(64 << 20);
  std::string bytes = RandomBytes(3 << 20, 5);
  v1::ObjectRef ref = Put("k", bytes);
  bytes[2 << 20] ^= 0x40;  // the held copy goes bad, its size unchanged
  holder_->Put("k", bytes, "application/octet-stream").IgnoreError();
  auto object = client_.Fetch(ref);
  EXPECT_EQ(object.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(object.status().message(), HasSubstr("CRC-32C"));
  EXPECT_THAT(object.status().message(), HasSubstr(service_->address()));
}

TEST_F(DataServiceTest, AKeyNotHeldIsNotFound) {
  Start(64 << 20);
  v1::ObjectRef ref = Put("k", "x");
  holder_->Release("k");
  auto object = client_.Fetch(ref);
  EXPECT_EQ(object.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(object.status().message(), HasSubstr("'k'"));
  EXPECT_THAT(object.status().message(), HasSubstr(service_->address()));
}

// Once the worker is told dagd's data-plane secret, a read that does not
// present it is refused, whatever certificate it came with; dagd's and the
// workers' reads present it.
TEST_F(DataServiceTest, OnceASecretIsSetOnlyReadsPresentingItAreServed) {
  Start(64 << 20);
  v1::ObjectRef ref = Put("k", "held bytes");
  ASSERT_TRUE(client_.Fetch(ref).ok()) << "no secret yet: served";
  secret_.Set("s3cret-of-this-dagd");
  auto refused = client_.Fetch(ref);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied)
      << refused.status();
  DataSecret wrong;
  wrong.Set("s3cret-of-another!!");
  DataClientOptions guessing;
  guessing.secret = &wrong;
  EXPECT_EQ(DataClient(guessing).Fetch(ref).status().code(),
            absl::StatusCode::kPermissionDenied);
  DataSecret right;
  right.Set("s3cret-of-this-dagd");
  DataClientOptions knowing;
  knowing.secret = &right;
  auto object = DataClient(knowing).Fetch(ref);
  ASSERT_TRUE(object.ok()) << object.status();
  EXPECT_EQ(object->data, "held bytes");
}

TEST(DataSecretTest, IsStablePerStoreAndNotTheAttemptKey) {
  const std::string key(16, '\x07');
  const std::string secret = DataSecretFromAttemptKey(key);
  EXPECT_EQ(secret.size(), 32u);
  EXPECT_EQ(secret, DataSecretFromAttemptKey(key));
  EXPECT_NE(secret, DataSecretFromAttemptKey(std::string(16, '\x08')));
  EXPECT_EQ(secret.find(key), std::string::npos);
}

// One send slot, taken by a read of a spilled object whose file read the
// test holds: a second reader is refused until the first one is done.
TEST_F(DataServiceTest, ReadsBeyondTheBoundAreRefusedUntilASlotFrees) {
  Start(/*memory=*/4, /*max_sends=*/1);
  v1::ObjectRef spilled = Put("spilled", "0123456789");
  v1::ObjectRef other = Put("other", "abc");
  files_->HoldReads();
  absl::StatusOr<StoredObject> first;
  std::thread first_reader([&] { first = client_.Fetch(spilled); });
  ASSERT_TRUE(files_->WaitForHeldReads(1, kWait));

  // A reader that gives up at once (its waits move a fake clock).
  FakeClock clock;
  DataClientOptions impatient;
  impatient.busy_deadline = absl::Seconds(1);
  impatient.clock = &clock;
  impatient.sleep = [&clock](absl::Duration d) { clock.Advance(d); };
  DataClient impatient_client(impatient);
  auto refused = impatient_client.Fetch(other);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.status().message(), HasSubstr("--max_concurrent_sends"));
  EXPECT_GE(service_->refused_busy(), 2u);

  // A patient one: its first wait lets the first read finish, and it gets
  // the slot once that read's stream is done.
  DataClientOptions patient;
  patient.busy_backoff = {absl::Milliseconds(1), absl::Milliseconds(20), 2.0};
  patient.sleep = [this](absl::Duration d) {
    files_->OpenReads();
    absl::SleepFor(d);
  };
  DataClient patient_client(patient);
  auto served = patient_client.Fetch(other);
  ASSERT_TRUE(served.ok()) << served.status();
  EXPECT_EQ(served->data, "abc");
  first_reader.join();
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->data, "0123456789");
}

// A reader that asks for an object and then reads nothing (a stopped
// process, a host gone without a word) loses its stream once a chunk waited
// for it send_stall_timeout: its slot is free for the next reader.
TEST_F(DataServiceTest, AReaderThatTakesNothingLosesItsStreamAndSlot) {
  Start(/*memory=*/64 << 20, /*max_sends=*/1,
        /*send_stall_timeout=*/absl::Milliseconds(200));
  Put("big", RandomBytes(16 << 20, 3));
  v1::ObjectRef small = Put("small", "abc");
  // No window growth (BDP probes): the reader's gRPC takes a few chunks
  // for it at most.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  auto stub = v1::DataService::NewStub(grpc::CreateCustomChannel(
      service_->address(), grpc::InsecureChannelCredentials(), args));
  v1::FetchRequest request;
  request.set_key("big");
  grpc::ClientContext frozen;
  std::unique_ptr<grpc::ClientReader<v1::FetchChunk>> never_read =
      stub->Fetch(&frozen, request);
  const absl::Time give_up = absl::Now() + kWait;
  while ((service_->stalled_sends() == 0 || service_->active_sends() > 0) &&
         absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(service_->stalled_sends(), 1u);
  EXPECT_EQ(service_->active_sends(), 0);
  absl::StatusOr<StoredObject> next = client_.Fetch(small);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->data, "abc");
  EXPECT_EQ(service_->stalled_sends(), 1u) << "a reader that reads is kept";
  frozen.TryCancel();
}

TEST(DataServiceStartTest, AnAddressItCannotListenOnIsUnavailable) {
  ObjectHolder holder(1 << 20, std::make_unique<FakeSpillFiles>());
  DataServiceOptions options;
  options.listen = "not an address";
  auto service = DataService::Start(options, &holder);
  EXPECT_EQ(service.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(service.status().message(), HasSubstr("not an address"));
}

TEST(DataServiceStartTest, AdvertisesWhatItIsTold) {
  ObjectHolder holder(1 << 20, std::make_unique<FakeSpillFiles>());
  DataServiceOptions options;
  options.advertise = "10.1.2.3:7702";
  auto service = DataService::Start(options, &holder);
  ASSERT_TRUE(service.ok()) << service.status();
  EXPECT_EQ((*service)->address(), "10.1.2.3:7702");
}

// A worker with a certificate serves its results over TLS to readers the
// deployment's CA signed, and readers accept it only with the certificate
// of the worker dagd says holds the object.
class DataServiceTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char dir[] = "/tmp/dagd-data-tls-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = new std::string(dir);
    pki_ = new testing::Pki(dir);
    for (absl::Status s : {pki_->MakeCa("ca"), pki_->MakeCa("rogue-ca"),
                           pki_->MakeCert("ca", "holder", "worker-1"),
                           pki_->MakeCert("ca", "reader", "worker-2"),
                           pki_->MakeCert("rogue-ca", "rogue", "worker-2")}) {
      ASSERT_EQ(s, absl::OkStatus());
    }
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete pki_;
    delete dir_;
  }

  void SetUp() override {
    holder_ = std::make_unique<ObjectHolder>(
        64 << 20, std::make_unique<FakeSpillFiles>());
    auto credentials = DataServerCredentials(Files("holder", "ca"));
    ASSERT_TRUE(credentials.ok()) << credentials.status();
    DataServiceOptions options;
    options.credentials = *credentials;
    auto service = DataService::Start(options, holder_.get());
    ASSERT_TRUE(service.ok()) << service.status();
    service_ = *std::move(service);
    ASSERT_TRUE(holder_->Put("k", "held bytes", "text/plain").ok());
  }

  static TlsFiles Files(const std::string& cert, const std::string& ca) {
    TlsFiles files;
    if (!cert.empty()) {
      files.cert = pki_->Path(cert, "pem");
      files.key = pki_->Path(cert, "key");
    }
    files.ca = pki_->Path(ca, "pem");
    return files;
  }

  // A reader presenting `cert` ("" for none) and trusting `ca`.
  static std::unique_ptr<DataClient> Reader(const std::string& cert,
                                            const std::string& ca) {
    auto credentials = ChannelCredentials(Files(cert, ca));
    EXPECT_TRUE(credentials.ok()) << credentials.status();
    DataClientOptions options;
    options.credentials = credentials.ok() ? *credentials : nullptr;
    options.busy_deadline = absl::Seconds(1);
    return std::make_unique<DataClient>(options);
  }

  v1::ObjectRef Ref(const std::string& holder_name) {
    v1::ObjectRef ref;
    ref.set_key("k");
    ref.set_size(10);
    ref.set_crc32c(crc32c::Value("held bytes"));
    ref.mutable_holder()->set_instance("this-worker");
    ref.mutable_holder()->set_address(service_->address());
    ref.mutable_holder()->set_name(holder_name);
    return ref;
  }

  static std::string* dir_;
  static testing::Pki* pki_;
  std::unique_ptr<ObjectHolder> holder_;
  std::unique_ptr<DataService> service_;
};

std::string* DataServiceTlsTest::dir_ = nullptr;
testing::Pki* DataServiceTlsTest::pki_ = nullptr;

TEST_F(DataServiceTlsTest, AReaderTheCaSignedReadsFromTheNamedHolder) {
  auto object = Reader("reader", "ca")->Fetch(Ref("worker-1"));
  ASSERT_TRUE(object.ok()) << object.status();
  EXPECT_EQ(object->data, "held bytes");
}

TEST_F(DataServiceTlsTest, AHolderWhoseCertificateNamesAnotherWorkerIsRefused) {
  auto object = Reader("reader", "ca")->Fetch(Ref("worker-7"));
  EXPECT_EQ(object.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(object.status().message(), HasSubstr("'k'"));
}

TEST_F(DataServiceTlsTest, AHolderWithNoRecordedNameIsNotTrusted) {
  auto object = Reader("reader", "ca")->Fetch(Ref(""));
  EXPECT_EQ(object.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(object.status().message(), HasSubstr("no holder name"));
}

TEST_F(DataServiceTlsTest, ReadersWithoutACertificateOfTheCaGetNothing) {
  EXPECT_FALSE(Reader("", "ca")->Fetch(Ref("worker-1")).ok());
  EXPECT_FALSE(Reader("rogue", "ca")->Fetch(Ref("worker-1")).ok());
  DataClientOptions plain;
  plain.busy_deadline = absl::Seconds(1);
  EXPECT_FALSE(DataClient(plain).Fetch(Ref("worker-1")).ok());
  EXPECT_EQ(service_->sent_bytes(), 0u);
}

TEST_F(DataServiceTlsTest, AReaderRefusesAHolderItsCaDidNotSign) {
  auto object = Reader("reader", "rogue-ca")->Fetch(Ref("worker-1"));
  EXPECT_EQ(object.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(service_->sent_bytes(), 0u);
}

TEST(DataServerCredentialsTest, ACertificateNeedsItsKeyAndACa) {
  auto credentials = DataServerCredentials({"/x/cert.pem", "", ""});
  EXPECT_EQ(credentials.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(credentials.status().message(), HasSubstr("--tls_ca"));
  credentials = DataServerCredentials({"/x/cert.pem", "/x/key.pem", ""});
  EXPECT_EQ(credentials.status().code(), absl::StatusCode::kInvalidArgument);
  credentials = DataServerCredentials({"/x/cert.pem", "/x/key.pem", "/x/ca"});
  EXPECT_EQ(credentials.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(credentials.status().message(), HasSubstr("/x/cert.pem"));
  EXPECT_TRUE(DataServerCredentials({}).ok());
}

TEST(AdvertisedAddressTest, AWildcardHostBecomesThisHostsName) {
  char name[256] = {};
  ASSERT_EQ(gethostname(name, sizeof(name) - 1), 0);
  EXPECT_EQ(AdvertisedAddress("0.0.0.0:0", 7702), absl::StrCat(name, ":7702"));
  EXPECT_EQ(AdvertisedAddress("[::]:7702", 7702), absl::StrCat(name, ":7702"));
  EXPECT_EQ(AdvertisedAddress(":7702", 7702), absl::StrCat(name, ":7702"));
  EXPECT_EQ(AdvertisedAddress("127.0.0.1:0", 41000), "127.0.0.1:41000");
  EXPECT_EQ(AdvertisedAddress("[::1]:0", 41000), "[::1]:41000");
  EXPECT_EQ(AdvertisedAddress("worker-3.pods:0", 5), "worker-3.pods:5");
}

}  // namespace
}  // namespace dagd
