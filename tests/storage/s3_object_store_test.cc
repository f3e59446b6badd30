// S3ObjectStore against s3rver on 127.0.0.1 (tests/s3/s3rver-sigv4.js,
// which makes s3rver check SigV4 signatures and payload hashes). Without
// s3rver installed every test fails, saying how to install it.
#include "storage/s3_object_store.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/aws_http.h"
#include "storage/aws_sigv4.h"
#include "tests/testutil/process.h"

namespace dagd {
namespace {

using ::dagd::testing::PollUntil;
using ::dagd::testing::ReadFileOrEmpty;
using ::dagd::testing::Subprocess;
using ::dagd::testing::TempDir;
using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr char kBucket[] = "dagd-test";
constexpr char kRegion[] = "us-east-1";
constexpr char kPrefix[] = "run-1/";
const AwsCredentials kGoodCredentials{"S3RVER", "S3RVER", ""};

// One s3rver for the whole suite, with kBucket created.
class S3rver {
 public:
  static absl::StatusOr<std::unique_ptr<S3rver>> Start() {
    const std::string script =
        std::string(DAGD_S3_TEST_DIR) + "/s3rver-sigv4.js";
    const std::string installed =
        std::string(DAGD_S3_TEST_DIR) + "/node_modules/s3rver/package.json";
    if (std::string(DAGD_NODE).empty() || !std::filesystem::exists(installed)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "s3rver is not installed (no node, or no ", installed,
          "): run deploy/install-deps.sh, which installs nodejs and runs "
          "`npm ci` in tests/s3"));
    }
    absl::StatusOr<std::unique_ptr<TempDir>> dir = TempDir::Create("dagd-s3-");
    if (!dir.ok()) return dir.status();
    auto server = std::unique_ptr<S3rver>(new S3rver(*std::move(dir)));
    const std::string port_file = server->dir_->path() + "/port";
    absl::StatusOr<std::unique_ptr<Subprocess>> process = Subprocess::Start(
        {{DAGD_NODE, script, "--address", "127.0.0.1", "--port", "0",
          "--directory", server->data_dir(), "--port-file", port_file},
         {},
         "",
         server->dir_->path() + "/s3rver"});
    if (!process.ok()) return process.status();
    server->process_ = *std::move(process);
    Subprocess* p = server->process_.get();
    absl::Status up = PollUntil(
        [&] {
          return !p->Running() ||
                 absl::SimpleAtoi(ReadFileOrEmpty(port_file), &server->port_);
        },
        absl::Seconds(30), "s3rver to listen");
    if (!up.ok() || server->port_ == 0) {
      return absl::UnavailableError(absl::StrCat(
          "s3rver did not start: ", up.message(), "\n", p->Stderr()));
    }
    // Create the bucket with a signed PUT /bucket.
    HttpRequest create;
    create.method = "PUT";
    create.url = absl::StrCat(server->endpoint(), "/", kBucket);
    AwsSigning signing{kGoodCredentials, kRegion, "s3"};
    absl::StatusOr<HttpResponse> created = SendHttpRequest(create, &signing);
    if (!created.ok()) return created.status();
    if (created->status != 200) {
      return absl::InternalError(absl::StrCat(
          "creating the bucket: HTTP ", created->status, " ", created->body));
    }
    return server;
  }

  std::string endpoint() const {
    return absl::StrCat("http://127.0.0.1:", port_);
  }
  std::string data_dir() const { return dir_->path() + "/data"; }

 private:
  explicit S3rver(std::unique_ptr<TempDir> dir) : dir_(std::move(dir)) {}

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<Subprocess> process_;  // killed on destruction
  int port_ = 0;
};

class S3ObjectStoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<S3rver>> server = S3rver::Start();
    if (server.ok()) {
      server_ = server->release();
    } else {
      start_error_ = new absl::Status(server.status());
    }
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete start_error_;
    start_error_ = nullptr;
  }

  void SetUp() override {
    if (start_error_ != nullptr) GTEST_FAIL() << start_error_->ToString();
    store_ = MakeStore(kGoodCredentials);
    ASSERT_NE(store_, nullptr);
  }

  std::unique_ptr<ObjectStore> MakeStore(AwsCredentials credentials,
                                         std::string prefix = kPrefix,
                                         std::string bucket = kBucket) {
    providers_.push_back(MakeStaticCredentialsProvider(std::move(credentials)));
    S3Options options;
    options.bucket = std::move(bucket);
    options.prefix = std::move(prefix);
    options.endpoint = server_->endpoint();
    options.region = kRegion;
    options.credentials = providers_.back().get();
    absl::StatusOr<std::unique_ptr<ObjectStore>> store =
        MakeS3ObjectStore(std::move(options));
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  void ExpectRoundTrip(const std::string& key, const std::string& data,
                       const std::string& content_type) {
    absl::Status put = store_->Put(key, data, content_type);
    ASSERT_TRUE(put.ok()) << key << ": " << put;
    absl::StatusOr<StoredObject> got = store_->Get(key);
    ASSERT_TRUE(got.ok()) << key << ": " << got.status();
    EXPECT_EQ(got->data.size(), data.size()) << key;
    EXPECT_TRUE(got->data == data) << key;
    EXPECT_EQ(got->content_type, content_type) << key;
  }

  static S3rver* server_;
  static absl::Status* start_error_;
  std::vector<std::unique_ptr<AwsCredentialsProvider>> providers_;
  std::unique_ptr<ObjectStore> store_;
};

S3rver* S3ObjectStoreTest::server_ = nullptr;
absl::Status* S3ObjectStoreTest::start_error_ = nullptr;

TEST_F(S3ObjectStoreTest, PutGetDeleteRoundTrip) {
  ExpectRoundTrip("job-1/sum", "{\"value\": 3}", "application/json");
  ASSERT_TRUE(store_->Delete("job-1/sum").ok());
  EXPECT_EQ(store_->Get("job-1/sum").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(store_->Delete("job-1/sum").ok());  // already gone: fine
}

TEST_F(S3ObjectStoreTest, ReadsARangeOfAnObject) {
  ASSERT_TRUE(store_->Put("ranged", "0123456789", "text/plain").ok());
  EXPECT_EQ(store_->GetRange("ranged", 2, 3).value_or("?"), "234");
  EXPECT_EQ(store_->GetRange("ranged", 8, 100).value_or("?"), "89");
  EXPECT_EQ(store_->GetRange("ranged", 0, 0).value_or("?"), "");
  EXPECT_EQ(store_->GetRange("ranged", 10, 5).status().code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(store_->GetRange("missing", 0, 5).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(S3ObjectStoreTest, OverwriteReplaces) {
  ExpectRoundTrip("k", "first", "text/plain");
  ExpectRoundTrip("k", "second, longer", "application/json");
}

TEST_F(S3ObjectStoreTest, EmptyObjectAndDefaultContentType) {
  ASSERT_TRUE(store_->Put("empty", "", "").ok());
  absl::StatusOr<StoredObject> got = store_->Get("empty");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->data, "");
  EXPECT_EQ(got->content_type, "application/octet-stream");
}

TEST_F(S3ObjectStoreTest, TenMegabyteObject) {
  std::string data(10 << 20, '\0');
  std::mt19937_64 random(7);
  for (size_t i = 0; i + 8 <= data.size(); i += 8) {
    uint64_t v = random();
    std::memcpy(&data[i], &v, sizeof(v));
  }
  ExpectRoundTrip("big/ten-mb.bin", data, "application/octet-stream");
}

TEST_F(S3ObjectStoreTest, KeysWithSpacesUnicodeAndPunctuation) {
  for (const std::string key :
       {"with space/and more spaces.json", "ünïcödé/名前/😀.txt",
        "punct+=&@!$,;:'()*~_-.txt", "percent%20literal"}) {
    ExpectRoundTrip(key, "value of " + key, "text/plain; charset=utf-8");
  }
  // The prefix is part of the key in the bucket.
  std::unique_ptr<ObjectStore> unprefixed = MakeStore(kGoodCredentials, "");
  absl::StatusOr<StoredObject> got =
      unprefixed->Get(absl::StrCat(kPrefix, "ünïcödé/名前/😀.txt"));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->data, "value of ünïcödé/名前/😀.txt");
}

TEST_F(S3ObjectStoreTest, MissingKeyIsNotFound) {
  absl::StatusOr<StoredObject> got = store_->Get("never-written");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(got.status().message(),
              AllOf(HasSubstr("NoSuchKey"),
                    HasSubstr("s3://dagd-test/run-1/never-written")));
}

TEST_F(S3ObjectStoreTest, WrongSecretIsUnauthenticated) {
  std::unique_ptr<ObjectStore> store =
      MakeStore({"S3RVER", "not-the-secret", ""});
  absl::Status put = store->Put("k", "v", "text/plain");
  EXPECT_EQ(put.code(), absl::StatusCode::kUnauthenticated) << put;
  EXPECT_THAT(put.message(), HasSubstr("SignatureDoesNotMatch"));
  EXPECT_EQ(store->Get("k").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(store->Delete("k").code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(S3ObjectStoreTest, UnknownAccessKeyIsUnauthenticated) {
  std::unique_ptr<ObjectStore> store = MakeStore({"NOBODY", "S3RVER", ""});
  absl::Status put = store->Put("k", "v", "text/plain");
  EXPECT_EQ(put.code(), absl::StatusCode::kUnauthenticated) << put;
  EXPECT_THAT(put.message(), HasSubstr("InvalidAccessKeyId"));
}

TEST_F(S3ObjectStoreTest, SessionTokenIsSigned) {
  std::unique_ptr<ObjectStore> store =
      MakeStore({"S3RVER", "S3RVER", "session/token+="});
  ASSERT_TRUE(store->Put("token", "v", "text/plain").ok());
  EXPECT_EQ(store->Get("token")->data, "v");
}

TEST_F(S3ObjectStoreTest, MissingBucketIsFailedPrecondition) {
  std::unique_ptr<ObjectStore> store =
      MakeStore(kGoodCredentials, "", "no-such-bucket");
  absl::Status put = store->Put("k", "v", "text/plain");
  EXPECT_EQ(put.code(), absl::StatusCode::kFailedPrecondition) << put;
  EXPECT_THAT(put.message(), HasSubstr("NoSuchBucket"));
}

TEST_F(S3ObjectStoreTest, CorruptedObjectIsDataLoss) {
  ASSERT_TRUE(store_->Put("corrupt.bin", "0123456789", "").ok());
  // s3rver keeps the body in a file beside its metadata.
  std::string path = absl::StrCat(server_->data_dir(), "/", kBucket, "/",
                                  kPrefix, "corrupt.bin._S3rver_object");
  ASSERT_TRUE(std::filesystem::exists(path)) << path;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << "0123456780";
  absl::StatusOr<StoredObject> got = store_->Get("corrupt.bin");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss) << got.status();
  EXPECT_THAT(got.status().message(), HasSubstr("crc32c"));
}

TEST_F(S3ObjectStoreTest, UnreachableEndpointIsUnavailable) {
  providers_.push_back(MakeStaticCredentialsProvider(kGoodCredentials));
  S3Options options;
  options.bucket = kBucket;
  options.endpoint = "http://127.0.0.1:1";
  options.credentials = providers_.back().get();
  auto store = MakeS3ObjectStore(options);
  ASSERT_TRUE(store.ok());
  absl::Status put = (*store)->Put("k", "v", "");
  EXPECT_EQ(put.code(), absl::StatusCode::kUnavailable) << put;
  EXPECT_THAT(put.message(), HasSubstr("s3://dagd-test/k"));
}

TEST_F(S3ObjectStoreTest, ConcurrentCallers) {
  std::vector<std::thread> threads;
  std::vector<absl::Status> results(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5 && results[t].ok(); ++i) {
        std::string key = absl::StrCat("concurrent/", t, "/", i);
        std::string data = absl::StrCat("data ", t, " ", i);
        results[t] = store_->Put(key, data, "text/plain");
        if (!results[t].ok()) break;
        absl::StatusOr<StoredObject> got = store_->Get(key);
        results[t] =
            got.ok() ? (got->data == data ? absl::OkStatus()
                                          : absl::InternalError("wrong data"))
                     : got.status();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (const absl::Status& s : results) EXPECT_TRUE(s.ok()) << s;
}

TEST_F(S3ObjectStoreTest, Describe) {
  EXPECT_EQ(store_->Describe(), "s3://dagd-test/run-1/");
  EXPECT_EQ(MakeStore(kGoodCredentials, "")->Describe(), "s3://dagd-test");
}

TEST_F(S3ObjectStoreTest, EmptyKeyIsInvalid) {
  EXPECT_EQ(store_->Put("", "v", "").code(),
            absl::StatusCode::kInvalidArgument);
}

// No server needed below.

TEST(S3OptionsTest, BadOptionsAreInvalidArgument) {
  auto provider = MakeStaticCredentialsProvider(kGoodCredentials);
  S3Options good;
  good.bucket = "my-bucket";
  good.credentials = provider.get();
  EXPECT_TRUE(MakeS3ObjectStore(good).ok());

  S3Options bad = good;
  bad.bucket = "My_Bucket";
  EXPECT_EQ(MakeS3ObjectStore(bad).status().code(),
            absl::StatusCode::kInvalidArgument);
  bad = good;
  bad.credentials = nullptr;
  EXPECT_EQ(MakeS3ObjectStore(bad).status().code(),
            absl::StatusCode::kInvalidArgument);
  bad = good;
  bad.endpoint = "ftp://example";
  EXPECT_EQ(MakeS3ObjectStore(bad).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(S3OptionsTest, DefaultEndpoint) {
  EXPECT_EQ(DefaultS3Endpoint("eu-west-1"),
            "https://s3.eu-west-1.amazonaws.com");
}

}  // namespace
}  // namespace dagd
