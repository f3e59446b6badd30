// A long-running worker's tasks and the object store dagd names at
// registration: inputs named in input_refs are read from it, outputs over
// its inline limit are written to it and reported by reference.

#include "worker/task_objects.h"

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/crc32c.h"
#include "tests/testutil/fake_object_store.h"
#include "tests/worker/fakes.h"
#include "tests/worker/test_runtimes.h"
#include "worker/builtins.h"
#include "worker/json_util.h"
#include "worker/task_runner.h"

namespace dagd {
namespace {

using ::testing::HasSubstr;

v1::ObjectStoreConfig Config(uint64_t inline_max_bytes = 16) {
  v1::ObjectStoreConfig config;
  config.set_bucket("bucket");
  config.set_prefix("dagd/");
  config.set_inline_max_bytes(inline_max_bytes);
  return config;
}

class TaskObjectsTest : public testing::Test {
 protected:
  TaskObjectsTest()
      : objects_([this](const v1::ObjectStoreConfig& config) {
          made_.push_back(config.bucket());
          return absl::StatusOr<std::unique_ptr<ObjectStore>>(
              std::make_unique<SharedStore>(&store_));
        }),
        runner_(&runtimes_, &clock_, &timers_, &reporter_, nullptr, &objects_) {
    EXPECT_TRUE(RegisterBuiltins(&registry_).ok());
  }

  // Hands the test's FakeObjectStore to the worker without giving it away.
  class SharedStore : public ObjectStore {
   public:
    explicit SharedStore(FakeObjectStore* store) : store_(store) {}
    absl::Status Put(absl::string_view key, absl::string_view data,
                     absl::string_view type) override {
      return store_->Put(key, data, type);
    }
    absl::StatusOr<StoredObject> Get(absl::string_view key) override {
      return store_->Get(key);
    }
    absl::Status Delete(absl::string_view key) override {
      return store_->Delete(key);
    }
    std::string Describe() const override { return store_->Describe(); }

   private:
    FakeObjectStore* store_;
  };

  static v1::Assignment Assign(const std::string& fn, const std::string& args) {
    v1::Assignment a;
    a.mutable_task()->set_job_id("j7");
    a.mutable_task()->set_task_index(3);
    a.mutable_task()->set_attempt(2);
    a.set_task_id("t3");
    a.set_fn(fn);
    *a.mutable_args() = *ParseJson(args);
    return a;
  }

  // Puts `data` in the store and names it as input `position` of `a`.
  void InputByRef(v1::Assignment& a, uint32_t position, const std::string& key,
                  const std::string& data) {
    ASSERT_TRUE(store_.Put(key, data, "application/json").ok());
    while (a.inputs_size() <= static_cast<int>(position)) a.add_inputs();
    v1::ObjectRef& ref = (*a.mutable_input_refs())[position];
    ref.set_bucket("bucket");
    ref.set_key(key);
    ref.set_size(data.size());
    ref.set_crc32c(crc32c::Value(data));
    ref.set_content_type("application/json");
  }

  v1::TaskResult Reported() {
    auto results = reporter_.results();
    EXPECT_EQ(results.size(), 1u);
    return results.empty() ? v1::TaskResult() : results.back();
  }

  FakeObjectStore store_;
  std::vector<std::string> made_;
  TaskObjectStore objects_;
  FunctionRegistry registry_;
  TaskRuntimes runtimes_ = BuiltinRuntimes(&registry_);
  FakeClock clock_;
  TimerQueue timers_;
  RecordingReporter reporter_;
  TaskRunner runner_;
};

TEST_F(TaskObjectsTest, InputsNamedByReferenceAreReadFromTheStore) {
  ASSERT_TRUE(objects_.Configure(Config(1 << 20)).ok());
  v1::Assignment a = Assign("add", "{}");
  a.add_inputs()->set_data("1");
  InputByRef(a, 1, "results/j7/1/1", "40");
  a.add_inputs()->set_data("1");
  runner_.Run(a, std::make_shared<CancellationToken>());
  v1::TaskResult result = Reported();
  ASSERT_TRUE(result.ok()) << result.error();
  EXPECT_EQ(result.output().data(), "42");
}

TEST_F(TaskObjectsTest, CorruptInputFailsTheAttemptRetryably) {
  ASSERT_TRUE(objects_.Configure(Config()).ok());
  v1::Assignment a = Assign("identity", "{}");
  InputByRef(a, 0, "results/j7/1/1", "\"abc\"");
  ASSERT_TRUE(store_.Put("results/j7/1/1", "\"abd\"", "text/x").ok());
  runner_.Run(a, std::make_shared<CancellationToken>());
  v1::TaskResult result = Reported();
  EXPECT_FALSE(result.ok());
  EXPECT_FALSE(result.permanent());
  EXPECT_THAT(result.error(), HasSubstr("CRC-32C"));
}

TEST_F(TaskObjectsTest, MissingInputFailsForGood) {
  ASSERT_TRUE(objects_.Configure(Config()).ok());
  v1::Assignment a = Assign("identity", "{}");
  InputByRef(a, 0, "results/j7/1/1", "1");
  ASSERT_TRUE(store_.Delete("results/j7/1/1").ok());
  runner_.Run(a, std::make_shared<CancellationToken>());
  v1::TaskResult result = Reported();
  EXPECT_FALSE(result.ok());
  EXPECT_TRUE(result.permanent());
  EXPECT_THAT(result.error(), HasSubstr("cannot read input #0"));
}

TEST_F(TaskObjectsTest, InputByReferenceWithoutAStoreFails) {
  v1::Assignment a = Assign("identity", "{}");
  InputByRef(a, 0, "results/j7/1/1", "1");
  runner_.Run(a, std::make_shared<CancellationToken>());
  v1::TaskResult result = Reported();
  EXPECT_FALSE(result.ok());
  EXPECT_THAT(result.error(), HasSubstr("not given one at registration"));
}

TEST_F(TaskObjectsTest, LargeOutputIsWrittenAndReportedByReference) {
  ASSERT_TRUE(objects_.Configure(Config(16)).ok());
  const std::string big = "\"" + std::string(100, 'x') + "\"";
  v1::TaskResult returned =
      runner_.Run(Assign("const", "{\"value\": " + big + "}"),
                  std::make_shared<CancellationToken>());
  v1::TaskResult reported = Reported();
  ASSERT_TRUE(reported.ok()) << reported.error();
  EXPECT_FALSE(reported.has_output());
  const v1::ObjectRef& ref = reported.output_ref();
  EXPECT_EQ(ref.bucket(), "bucket");
  EXPECT_EQ(ref.key(), "results/j7/3/2");
  EXPECT_EQ(ref.size(), big.size());
  EXPECT_EQ(ref.crc32c(), crc32c::Value(big));
  EXPECT_EQ(ref.content_type(), "application/json");
  ASSERT_TRUE(store_.Find("results/j7/3/2").has_value());
  EXPECT_EQ(store_.Find("results/j7/3/2")->data, big);
  // A grant-ahead follower on this worker takes the output as it is.
  EXPECT_EQ(returned.output().data(), big);
}

TEST_F(TaskObjectsTest, SmallOutputStaysInline) {
  ASSERT_TRUE(objects_.Configure(Config(16)).ok());
  runner_.Run(Assign("const", "{\"value\": 5}"),
              std::make_shared<CancellationToken>());
  v1::TaskResult reported = Reported();
  EXPECT_EQ(reported.output().data(), "5");
  EXPECT_FALSE(reported.has_output_ref());
}

TEST_F(TaskObjectsTest, FailedWriteFailsTheAttempt) {
  ASSERT_TRUE(objects_.Configure(Config(4)).ok());
  store_.FailNext(absl::UnavailableError("slow down"));
  v1::TaskResult returned =
      runner_.Run(Assign("const", "{\"value\": \"long enough\"}"),
                  std::make_shared<CancellationToken>());
  v1::TaskResult reported = Reported();
  EXPECT_FALSE(reported.ok());
  EXPECT_FALSE(reported.permanent());
  EXPECT_THAT(reported.error(), HasSubstr("cannot write the output"));
  EXPECT_THAT(reported.error(), HasSubstr("slow down"));
  EXPECT_FALSE(returned.ok());  // no follower runs on it
}

TEST_F(TaskObjectsTest, ConfigureMakesAClientOnlyWhenTheStoreChanges) {
  ASSERT_TRUE(objects_.Configure(Config()).ok());
  ASSERT_TRUE(objects_.Configure(Config()).ok());
  EXPECT_EQ(made_.size(), 1u);
  v1::ObjectStoreConfig other = Config();
  other.set_bucket("other");
  ASSERT_TRUE(objects_.Configure(other).ok());
  EXPECT_EQ(made_, (std::vector<std::string>{"bucket", "other"}));
  ASSERT_TRUE(objects_.Configure(v1::ObjectStoreConfig()).ok());
  EXPECT_EQ(objects_.Get()->store, nullptr);
}

TEST(TaskObjectStoreTest, StoreThatCannotBeMadeFailsItsTasksWithTheReason) {
  TaskObjectStore objects([](const v1::ObjectStoreConfig&) {
    return absl::StatusOr<std::unique_ptr<ObjectStore>>(
        absl::InvalidArgumentError("bad endpoint"));
  });
  absl::Status s = objects.Configure(Config());
  EXPECT_THAT(s.message(), HasSubstr("bucket 'bucket'"));
  EXPECT_THAT(s.message(), HasSubstr("bad endpoint"));
  EXPECT_EQ(objects.Get()->error, s);
}

}  // namespace
}  // namespace dagd
