// A worker's tasks and the data plane, with real DataServices on
// 127.0.0.1 (this worker's and another's): outputs over dagd's inline limit
// held here and reported by reference, inputs held here read in place and
// those held elsewhere fetched, dagd's --max_result_bytes, and what a
// failed fetch says.
#include "worker/data_plane.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/crc32c.h"
#include "tests/testutil/fake_object_store.h"
#include "tests/worker/fake_spill_files.h"
#include "tests/worker/fakes.h"
#include "tests/worker/test_runtimes.h"
#include "worker/builtins.h"
#include "worker/function_runtime.h"
#include "worker/json_util.h"
#include "worker/task_runner.h"

namespace dagd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A worker's object holder and its DataService.
struct Peer {
  explicit Peer(uint64_t memory = 64 << 20) {
    auto spill = std::make_unique<FakeSpillFiles>();
    files = spill.get();
    holder = std::make_unique<ObjectHolder>(memory, std::move(spill));
    auto started = DataService::Start({}, holder.get());
    EXPECT_TRUE(started.ok()) << started.status();
    service = *std::move(started);
  }
  ~Peer() {
    files->OpenReads();
    service.reset();
  }

  // Holds `data` under `key` and returns its reference, as held by
  // `instance`.
  v1::ObjectRef Hold(const std::string& instance, const std::string& key,
                     const std::string& data) {
    auto held = holder->Put(key, data, "application/json");
    EXPECT_TRUE(held.ok()) << held.status();
    v1::ObjectRef ref;
    ref.set_key(key);
    ref.set_size(data.size());
    ref.set_crc32c(crc32c::Value(data));
    ref.set_content_type("application/json");
    ref.mutable_holder()->set_instance(instance);
    ref.mutable_holder()->set_address(service->address());
    return ref;
  }

  FakeSpillFiles* files;
  std::unique_ptr<ObjectHolder> holder;
  std::unique_ptr<DataService> service;
};

class DataPlaneTest : public testing::Test {
 protected:
  DataPlaneTest()
      : objects_([this](const v1::ObjectStoreConfig&) {
          return absl::StatusOr<std::unique_ptr<ObjectStore>>(
              std::make_unique<SharedStore>(&store_));
        }),
        plane_("self", self_.holder.get(), self_.service.get(), &client_,
               &clock_),
        runner_(&runtimes_, &clock_, &timers_, &reporter_, nullptr, &objects_,
                &plane_) {
    EXPECT_TRUE(RegisterBuiltins(&registry_).ok());
    // Outputs args.n bytes of 'x', as JSON would not.
    EXPECT_TRUE(
        registry_
            .Register("xs",
                      [](TaskContext& context) -> absl::StatusOr<Payload> {
                        const int64_t n =
                            static_cast<int64_t>(context.args()
                                                     .struct_value()
                                                     .fields()
                                                     .at("n")
                                                     .number_value());
                        return Payload{std::string(n, 'x'),
                                       "application/octet-stream"};
                      })
            .ok());
    // Joins its inputs with '|'.
    EXPECT_TRUE(
        registry_
            .Register("join",
                      [](TaskContext& context) -> absl::StatusOr<Payload> {
                        std::string out;
                        for (const Payload& input : context.inputs()) {
                          if (!out.empty()) out += "|";
                          absl::StrAppend(&out, input.bytes());
                        }
                        return Payload{out, "text/plain"};
                      })
            .ok());
    plane_.SetLimits({/*inline_max_bytes=*/16, /*max_result_bytes=*/0});
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

  static v1::Assignment Assign(const std::string& fn, const std::string& args,
                               int inputs = 0) {
    v1::Assignment a;
    a.mutable_task()->set_job_id("j7");
    a.mutable_task()->set_task_index(3);
    a.mutable_task()->set_attempt(2);
    a.set_task_id("t3");
    a.set_fn(fn);
    *a.mutable_args() = *ParseJson(args);
    for (int i = 0; i < inputs; ++i) a.add_inputs();
    return a;
  }

  v1::TaskResult Run(const v1::Assignment& a,
                     std::shared_ptr<CancellationToken> token = nullptr) {
    if (token == nullptr) token = std::make_shared<CancellationToken>();
    returned_ = runner_.Run(a, token);
    auto results = reporter_.results();
    EXPECT_FALSE(results.empty());
    return results.empty() ? v1::TaskResult() : results.back();
  }

  Peer self_;
  Peer other_;
  DataClient client_;
  FakeObjectStore store_;
  TaskObjectStore objects_;
  FakeClock clock_;
  DataPlane plane_;
  FunctionRegistry registry_;
  TaskRuntimes runtimes_ = BuiltinRuntimes(&registry_);
  TimerQueue timers_;
  RecordingReporter reporter_;
  TaskRunner runner_;
  v1::TaskResult returned_;
};

TEST_F(DataPlaneTest, AnOutputOverTheInlineLimitIsHeldAndReportedByReference) {
  v1::TaskResult result = Run(Assign("xs", R"({"n": 17})"));
  ASSERT_TRUE(result.ok()) << result.error();
  EXPECT_FALSE(result.has_output());
  const v1::ObjectRef& ref = result.output_ref();
  EXPECT_EQ(ref.key(), "results/j7/3/2");
  EXPECT_EQ(ref.bucket(), "");
  EXPECT_EQ(ref.size(), 17u);
  EXPECT_EQ(ref.crc32c(), crc32c::Value(std::string(17, 'x')));
  EXPECT_EQ(ref.content_type(), "application/octet-stream");
  EXPECT_EQ(ref.holder().instance(), "self");
  EXPECT_EQ(ref.holder().address(), self_.service->address());
  auto held = self_.holder->Get("results/j7/3/2");
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_EQ(*held->data, std::string(17, 'x'));
  // What Run returns names it too (a follower granted ahead reads it from
  // the holder): the output moved there, not copied.
  EXPECT_FALSE(returned_.has_output());
  EXPECT_EQ(returned_.output_ref().key(), "results/j7/3/2");
  // A peer reads it with the reference alone.
  auto fetched = client_.Fetch(ref);
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  EXPECT_EQ(fetched->data, std::string(17, 'x'));
}

TEST_F(DataPlaneTest, AnOutputWithinTheInlineLimitTravelsInline) {
  v1::TaskResult result = Run(Assign("xs", R"({"n": 16})"));
  ASSERT_TRUE(result.ok()) << result.error();
  EXPECT_EQ(result.output().data(), std::string(16, 'x'));
  EXPECT_FALSE(result.has_output_ref());
  EXPECT_TRUE(self_.holder->Keys().empty());
}

TEST_F(DataPlaneTest, AnOlderDagdWithoutALimitGetsEveryOutputInline) {
  plane_.SetLimits({0, 0});
  v1::TaskResult result = Run(Assign("xs", R"({"n": 100000})"));
  EXPECT_EQ(result.output().data().size(), 100000u);
  EXPECT_TRUE(self_.holder->Keys().empty());
}

TEST_F(DataPlaneTest, WithAnObjectStoreTheOutputGoesThereNotToTheHolder) {
  v1::ObjectStoreConfig config;
  config.set_bucket("bucket");
  config.set_inline_max_bytes(16);
  ASSERT_TRUE(objects_.Configure(config).ok());
  v1::TaskResult result = Run(Assign("xs", R"({"n": 17})"));
  ASSERT_TRUE(result.ok()) << result.error();
  EXPECT_EQ(result.output_ref().bucket(), "bucket");
  EXPECT_FALSE(result.output_ref().has_holder());
  // Under the attempt's key and this process's instance: a second run of
  // the attempt elsewhere (dagd restarted and numbered it again) writes
  // apart from it.
  EXPECT_EQ(result.output_ref().key(), "results/j7/3/2/self");
  EXPECT_TRUE(store_.Get("results/j7/3/2/self").ok());
  EXPECT_FALSE(store_.Get("results/j7/3/2").ok());
  EXPECT_TRUE(self_.holder->Keys().empty());
}

TEST_F(DataPlaneTest, AWorkerWithoutADataServiceSendsLargeOutputsInline) {
  DataPlane fetch_only("self", nullptr, nullptr, &client_, &clock_);
  fetch_only.SetLimits({16, 0});
  TaskRunner runner(&runtimes_, &clock_, &timers_, &reporter_, nullptr,
                    &objects_, &fetch_only);
  runner.Run(Assign("xs", R"({"n": 17})"),
             std::make_shared<CancellationToken>());
  v1::TaskResult result = reporter_.results().back();
  EXPECT_EQ(result.output().data(), std::string(17, 'x'));
  EXPECT_EQ(fetch_only.address(), "");
}

TEST_F(DataPlaneTest, AnOutputOverMaxResultBytesFailsForGoodAndIsDropped) {
  plane_.SetLimits({16, 1000});
  v1::TaskResult result = Run(Assign("xs", R"({"n": 1001})"));
  EXPECT_FALSE(result.ok());
  EXPECT_TRUE(result.permanent());
  EXPECT_THAT(result.error(), HasSubstr("1001 bytes"));
  EXPECT_THAT(result.error(), HasSubstr("1000 bytes"));
  EXPECT_THAT(result.error(), HasSubstr("--max_result_bytes"));
  EXPECT_FALSE(result.has_output());
  EXPECT_FALSE(returned_.has_output());  // dropped, not kept for a follower
  EXPECT_TRUE(self_.holder->Keys().empty());
  // At the limit it is fine.
  EXPECT_TRUE(Run(Assign("xs", R"({"n": 1000})")).ok());
}

TEST_F(DataPlaneTest, AHolderThatCannotKeepTheOutputFailsTheAttemptRetryably) {
  Peer small(/*memory=*/4);
  DataPlane plane("small", small.holder.get(), small.service.get(), &client_,
                  &clock_);
  plane.SetLimits({16, 0});
  small.files->FailWrites(
      absl::ResourceExhaustedError("No space left on device"));
  TaskRunner runner(&runtimes_, &clock_, &timers_, &reporter_, nullptr,
                    &objects_, &plane);
  runner.Run(Assign("xs", R"({"n": 17})"),
             std::make_shared<CancellationToken>());
  v1::TaskResult result = reporter_.results().back();
  EXPECT_FALSE(result.ok());
  EXPECT_FALSE(result.permanent());
  EXPECT_THAT(result.error(), HasSubstr("cannot keep the output (17 bytes)"));
  EXPECT_THAT(result.error(), HasSubstr("No space left on device"));
}

TEST_F(DataPlaneTest, InputsHeldHereAreReadInPlace) {
  v1::Assignment a = Assign("join", "{}", 2);
  a.mutable_inputs(0)->set_data("inline");
  (*a.mutable_input_refs())[1] =
      self_.Hold("self", "results/j7/1/1", "held here");
  v1::TaskResult result = Run(a);
  ASSERT_TRUE(result.ok()) << result.error();
  EXPECT_EQ(result.output().data(), "inline|held here");
  EXPECT_EQ(self_.service->sent_bytes(), 0u);  // no network
  v1::Heartbeat heartbeat;
  plane_.FillHeartbeat(&heartbeat);
  EXPECT_EQ(heartbeat.fetched_bytes(), 0u);
}

TEST_F(DataPlaneTest, ARuntimeThatReadsInPlaceSharesTheHeldBytesNotACopy) {
  auto in_place = std::make_unique<RecordingRuntime>("inplace", "inplace",
                                                     /*in_place=*/true);
  RecordingRuntime* runtime = in_place.get();
  ASSERT_TRUE(runtimes_.Add(std::move(in_place)).ok());
  v1::Assignment a = Assign("inplace", "{}", 3);
  a.mutable_inputs(0)->set_data("inline");
  (*a.mutable_input_refs())[1] =
      self_.Hold("self", "results/j7/1/1", std::string(5 << 20, 'h'));
  (*a.mutable_input_refs())[2] = other_.Hold("other", "results/j7/2/1", "far");
  v1::TaskResult result = Run(a);
  ASSERT_TRUE(result.ok()) << result.error();
  auto held = self_.holder->Get("results/j7/1/1");
  ASSERT_TRUE(held.ok()) << held.status();
  const std::vector<RecordingRuntime::Seen> seen = runtime->seen();
  ASSERT_EQ(seen.size(), 1u);
  const std::vector<Payload>& inputs = seen[0].inputs;
  ASSERT_EQ(inputs.size(), 3u);
  // Held here: the holder's own bytes, not a copy of them.
  EXPECT_EQ(inputs[1].held, held->data);
  EXPECT_TRUE(inputs[1].data.empty());
  EXPECT_EQ(inputs[1].bytes().size(), 5u << 20);
  EXPECT_EQ(inputs[1].content_type, "application/json");
  // Inline inputs are strings of the task's own, as before; a fetched one
  // is the bytes as they came, which other tasks may share.
  EXPECT_EQ(inputs[0].held, nullptr);
  EXPECT_EQ(inputs[0].bytes(), "inline");
  EXPECT_NE(inputs[2].held, nullptr);
  EXPECT_TRUE(inputs[2].data.empty());
  EXPECT_EQ(inputs[2].bytes(), "far");
}

TEST_F(DataPlaneTest, AnExecTaskGetsAHeldInputInItsFileWithoutACopyFirst) {
  v1::Assignment a = Assign(
      "exec",
      R"({"argv": ["/bin/sh", "-c", "cat \"$DAGD_INPUT_0\" > \"$DAGD_OUTPUT\""]})",
      1);
  (*a.mutable_input_refs())[0] =
      self_.Hold("self", "results/j7/0/1", "held for exec");
  v1::TaskResult result = Run(a);
  ASSERT_TRUE(result.ok()) << result.error();
  EXPECT_EQ(result.output().data(), "held for exec");
}

TEST_F(DataPlaneTest, BuiltinsReadHeldInputsInPlace) {
  const std::string held(3 << 20, 'k');
  v1::Assignment sum = Assign("checksum", "{}", 2);
  (*sum.mutable_input_refs())[0] = self_.Hold("self", "results/j7/0/1", held);
  sum.mutable_inputs(1)->set_data("inline");
  v1::TaskResult result = Run(sum);
  ASSERT_TRUE(result.ok()) << result.error();
  // Over the fixture's inline limit of 16 bytes, the output is held here.
  auto answer = self_.holder->Get(returned_.output_ref().key());
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(
      *answer->data,
      absl::StrCat(R"({"bytes":[)", held.size(), R"(,6],"crc32c":[)",
                   crc32c::Value(held), ",", crc32c::Value("inline"), "]}"));
  // identity's output is a string of its own, not the held bytes.
  v1::Assignment same = Assign("identity", "{}", 1);
  (*same.mutable_input_refs())[0] = self_.Hold("self", "results/j7/1/1", "12");
  result = Run(same);
  ASSERT_TRUE(result.ok()) << result.error();
  EXPECT_EQ(result.output().data(), "12");
  v1::Assignment add = Assign("add", R"({"value": 1})", 1);
  (*add.mutable_input_refs())[0] = self_.Hold("self", "results/j7/2/1", "41");
  result = Run(add);
  ASSERT_TRUE(result.ok()) << result.error();
  EXPECT_EQ(result.output().data(), "42");
}

// Reads inputs in place and returns its first input as it got it.
class EchoRuntime : public TaskRuntime {
 public:
  absl::string_view name() const override { return "echo"; }
  std::vector<std::string> Functions() const override { return {"echo"}; }
  bool Runs(const v1::Assignment& assignment) const override {
    return assignment.fn() == "echo";
  }
  absl::StatusOr<Payload> Run(const RuntimeAttempt& attempt) override {
    return attempt.context.inputs().front();
  }
  bool ReadsHeldInputsInPlace() const override { return true; }
};

TEST_F(DataPlaneTest, AnInputReturnedAsTheOutputIsCopiedNotLost) {
  ASSERT_TRUE(runtimes_.Add(std::make_unique<EchoRuntime>()).ok());
  v1::Assignment a = Assign("echo", "{}", 1);
  (*a.mutable_input_refs())[0] = self_.Hold("self", "results/j7/0/1", "7");
  v1::TaskResult result = Run(a);
  ASSERT_TRUE(result.ok()) << result.error();
  EXPECT_EQ(result.output().data(), "7");
}

TEST_F(DataPlaneTest, PluginFunctionsGetHeldInputsAsStringsOfTheirOwn) {
  // A plugin reads Payload::data: its runtime does not read in place.
  FunctionRegistry plugins;
  bool copied = false;
  ASSERT_TRUE(
      plugins
          .Register("mine",
                    [&copied](TaskContext& context) -> absl::StatusOr<Payload> {
                      const Payload& input = context.inputs().front();
                      copied = input.held == nullptr;
                      return Payload{input.data, input.content_type};
                    })
          .ok());
  ASSERT_TRUE(
      runtimes_.Add(std::make_unique<FunctionRuntime>(kPluginRuntime, &plugins))
          .ok());
  v1::Assignment a = Assign("mine", "{}", 1);
  (*a.mutable_input_refs())[0] = self_.Hold("self", "results/j7/0/1", "7");
  v1::TaskResult result = Run(a);
  ASSERT_TRUE(result.ok()) << result.error();
  EXPECT_TRUE(copied);
  EXPECT_EQ(result.output().data(), "7");
}

TEST_F(DataPlaneTest, FetchInputsSharesLocalInputsOnlyWhenAsked) {
  v1::Assignment a = Assign("join", "{}", 1);
  (*a.mutable_input_refs())[0] =
      self_.Hold("self", "results/j7/0/1", "held here");
  std::vector<Payload> inputs(1);
  ASSERT_TRUE(plane_.FetchInputs(a, inputs, nullptr).ok());
  EXPECT_EQ(inputs[0].held, nullptr);
  EXPECT_EQ(inputs[0].data, "held here");
  ASSERT_TRUE(
      plane_.FetchInputs(a, inputs, nullptr, /*share_local=*/true).ok());
  EXPECT_NE(inputs[0].held, nullptr);
  EXPECT_EQ(inputs[0].bytes(), "held here");
}

TEST_F(DataPlaneTest, InputsHeldElsewhereAreFetchedFromTheirHolders) {
  Peer third;
  v1::Assignment a = Assign("join", "{}", 4);
  (*a.mutable_input_refs())[0] = other_.Hold("other", "results/j7/0/1", "a");
  a.mutable_inputs(1)->set_data("b");
  (*a.mutable_input_refs())[2] =
      third.Hold("third", "results/j7/2/1", std::string(3 << 20, 'c'));
  (*a.mutable_input_refs())[3] = self_.Hold("self", "results/j7/4/1", "d");
  v1::TaskResult result = Run(a);
  ASSERT_TRUE(result.ok()) << result.error();
  // Over the inline limit, the output is held here.
  auto held = self_.holder->Get(returned_.output_ref().key());
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_TRUE(*held->data ==
              absl::StrCat("a|b|", std::string(3 << 20, 'c'), "|d"));
  v1::Heartbeat heartbeat;
  plane_.FillHeartbeat(&heartbeat);
  EXPECT_EQ(heartbeat.fetched_bytes(), 1u + (3 << 20));
  EXPECT_EQ(other_.service->sent_bytes(), 1u);
  EXPECT_EQ(third.service->sent_bytes(), 3u << 20);
}

TEST_F(DataPlaneTest, AFailedFetchFailsTheAttemptRetryablyNamingTheInput) {
  v1::Assignment a = Assign("join", "{}", 3);
  (*a.mutable_input_refs())[0] = other_.Hold("other", "results/j7/0/1", "a");
  (*a.mutable_input_refs())[2] = other_.Hold("other", "results/j7/2/1", "c");
  other_.holder->Release("results/j7/2/1");
  v1::TaskResult result = Run(a);
  EXPECT_FALSE(result.ok());
  EXPECT_FALSE(result.permanent());
  EXPECT_THAT(result.error(), HasSubstr("input #2"));
  EXPECT_THAT(result.error(), HasSubstr("'results/j7/2/1'"));
  EXPECT_THAT(result.error(), HasSubstr(other_.service->address()));
  // Its holder no longer has it: dagd is told which input to make again.
  EXPECT_THAT(result.lost_inputs(), ElementsAre(2));
}

// Bytes that do not match their CRC-32C would come again on every retry
// (a spill file gone bad): dagd is told to make the input again.
TEST_F(DataPlaneTest, AnInputThatFailsItsChecksumIsMadeAgain) {
  v1::Assignment a = Assign("join", "{}", 1);
  (*a.mutable_input_refs())[0] = other_.Hold("other", "results/j7/0/1", "a");
  ASSERT_TRUE(other_.holder->Put("results/j7/0/1", "b", "").ok());
  v1::TaskResult result = Run(a);
  EXPECT_FALSE(result.ok());
  EXPECT_FALSE(result.permanent());
  EXPECT_THAT(result.error(), HasSubstr("CRC-32C"));
  EXPECT_THAT(result.lost_inputs(), ElementsAre(0));
}

TEST_F(DataPlaneTest, AnInputHeldHereThatIsGoneFailsTheAttemptRetryably) {
  v1::Assignment a = Assign("join", "{}", 1);
  (*a.mutable_input_refs())[0] = self_.Hold("self", "results/j7/0/1", "a");
  self_.holder->Release("results/j7/0/1");
  v1::TaskResult result = Run(a);
  EXPECT_FALSE(result.ok());
  EXPECT_FALSE(result.permanent());
  EXPECT_THAT(result.error(), HasSubstr("input #0"));
  EXPECT_THAT(result.error(), HasSubstr("held by this worker"));
  EXPECT_THAT(result.lost_inputs(), ElementsAre(0));
}

TEST_F(DataPlaneTest, ARefPastTheInputsFailsForGood) {
  v1::Assignment a = Assign("join", "{}", 1);
  (*a.mutable_input_refs())[5] = other_.Hold("other", "k", "a");
  v1::TaskResult result = Run(a);
  EXPECT_FALSE(result.ok());
  EXPECT_TRUE(result.permanent());
  EXPECT_THAT(result.error(), HasSubstr("input #5 of 1"));
}

// The other holder's spill file read never ends: the task's timeout
// cancels the fetch, and the attempt reports the timeout.
TEST_F(DataPlaneTest, TheTimeoutEndsAFetchInFlight) {
  Peer slow(/*memory=*/4);
  v1::Assignment a = Assign("join", "{}", 1);
  (*a.mutable_input_refs())[0] = slow.Hold("slow", "results/j7/0/1", "12345");
  slow.files->HoldReads();
  a.set_timeout_ms(50);
  v1::TaskResult result = Run(a);
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.error(), "timed out after 50 ms");
}

// Tasks of this worker that need one object held elsewhere at the same
// time (a fan-out): `first` starts reading it (its holder's spill file
// waits), `second` joins that read. Both wait for the holder.
class SharedFetchTest : public DataPlaneTest {
 protected:
  SharedFetchTest() {
    (*a_.mutable_input_refs())[0] =
        slow_.Hold("slow", "results/j7/0/1", kBytes);
    slow_.files->HoldReads();
  }
  ~SharedFetchTest() override {
    slow_.files->OpenReads();
    for (std::thread* task : {&first_, &second_}) {
      if (task->joinable()) task->join();
    }
  }

  void StartBoth(bool share, CancellationToken* first_token = nullptr) {
    first_ = std::thread([this, share, first_token] {
      first_status_ = plane_.FetchInputs(a_, first_input_, first_token, share);
    });
    ASSERT_TRUE(slow_.files->WaitForHeldReads(1, absl::Seconds(30)));
    second_ = std::thread([this, share] {
      second_status_ = plane_.FetchInputs(a_, second_input_, nullptr, share);
    });
    const absl::Time give_up = absl::Now() + absl::Seconds(30);
    while (plane_.shared_fetches() == 0 && absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    ASSERT_EQ(plane_.shared_fetches(), 1u) << "the second task read anew";
  }

  // Lets the holder answer; both tasks' fetches succeed.
  void FinishBoth() {
    slow_.files->OpenReads();
    first_.join();
    second_.join();
    ASSERT_TRUE(first_status_.ok()) << first_status_;
    ASSERT_TRUE(second_status_.ok()) << second_status_;
  }

  static constexpr char kBytes[] = "0123456789";
  Peer slow_{/*memory=*/4};
  v1::Assignment a_ = Assign("join", "{}", 1);
  std::vector<Payload> first_input_ = std::vector<Payload>(1);
  std::vector<Payload> second_input_ = std::vector<Payload>(1);
  absl::Status first_status_;
  absl::Status second_status_;
  std::thread first_;
  std::thread second_;
};

TEST_F(SharedFetchTest, ReadItFromItsHolderOnceAndShareItsBytes) {
  StartBoth(/*share=*/true);
  ASSERT_NO_FATAL_FAILURE(FinishBoth());
  EXPECT_EQ(first_input_[0].bytes(), kBytes);
  EXPECT_EQ(second_input_[0].bytes(), kBytes);
  EXPECT_NE(first_input_[0].held, nullptr);
  EXPECT_EQ(first_input_[0].held, second_input_[0].held) << "one copy";
  EXPECT_EQ(slow_.service->sent_bytes(), sizeof(kBytes) - 1);
  // Each task counts what it got (the rate dagd reads is a task's).
  v1::Heartbeat heartbeat;
  plane_.FillHeartbeat(&heartbeat);
  EXPECT_EQ(heartbeat.fetched_bytes(), 2 * (sizeof(kBytes) - 1));
}

TEST_F(SharedFetchTest, ReadItOnceButGetCopiesOfTheirOwnUnlessTheyShare) {
  StartBoth(/*share=*/false);
  ASSERT_NO_FATAL_FAILURE(FinishBoth());
  EXPECT_EQ(first_input_[0].held, nullptr);
  EXPECT_EQ(second_input_[0].held, nullptr);
  EXPECT_EQ(first_input_[0].data, kBytes);
  EXPECT_EQ(second_input_[0].data, kBytes);
  EXPECT_EQ(slow_.service->sent_bytes(), sizeof(kBytes) - 1);
}

// The task whose read the other joined times out: its read ends, and the
// other task reads the object itself rather than fail with it.
TEST_F(SharedFetchTest, TheReadersTimeoutDoesNotFailTheTaskThatJoinedIt) {
  CancellationToken first_token;
  StartBoth(/*share=*/false, &first_token);
  first_token.Cancel(CancelReason::kTimeout);
  first_.join();
  EXPECT_TRUE(absl::IsCancelled(first_status_)) << first_status_;
  // The first read is still held at the holder; the second is the
  // second task's own.
  ASSERT_TRUE(slow_.files->WaitForHeldReads(2, absl::Seconds(30)));
  slow_.files->OpenReads();
  second_.join();
  ASSERT_TRUE(second_status_.ok()) << second_status_;
  EXPECT_EQ(second_input_[0].data, kBytes);
}

// A task that joined another's read and times out stops waiting at once.
TEST_F(SharedFetchTest, ATaskThatJoinedAReadStopsWaitingWhenCancelled) {
  StartBoth(/*share=*/true);
  CancellationToken token;
  token.Cancel(CancelReason::kTimeout);
  std::vector<Payload> third(1);
  const absl::Status status = plane_.FetchInputs(a_, third, &token, true);
  EXPECT_TRUE(absl::IsCancelled(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("another task of this worker"));
}

// With a fetch budget, a task's fetched inputs are held against it until
// the task is done with them; another task that does not fit waits, and
// its timeout ends the wait.
TEST_F(DataPlaneTest, FetchedInputsAreHeldAgainstTheFetchBudget) {
  FetchBudget budget(8);
  DataPlane plane("self", self_.holder.get(), self_.service.get(), &client_,
                  &clock_, nullptr, &budget);
  v1::Assignment a = Assign("join", "{}", 1);
  (*a.mutable_input_refs())[0] = other_.Hold("other", "results/j7/0/1",
                                             "0123456789");  // 10 bytes
  std::vector<Payload> first(1);
  FetchBudget::Lease first_lease;
  // Over the whole budget, but alone: it runs.
  ASSERT_TRUE(plane.FetchInputs(a, first, nullptr, false, &first_lease).ok());
  EXPECT_EQ(first[0].data, "0123456789");
  EXPECT_EQ(budget.taken(), 10u);
  CancellationToken timed_out;
  timed_out.Cancel(CancelReason::kTimeout);
  std::vector<Payload> second(1);
  FetchBudget::Lease second_lease;
  absl::Status waited =
      plane.FetchInputs(a, second, &timed_out, false, &second_lease);
  EXPECT_TRUE(absl::IsCancelled(waited)) << waited;
  EXPECT_THAT(waited.message(), HasSubstr("--fetch_memory=8"));
  EXPECT_EQ(budget.taken(), 10u);
  first_lease = FetchBudget::Lease();
  EXPECT_EQ(budget.taken(), 0u);
}

// Tasks reading in place share the bytes of one object fetched here: the
// budget counts them once, until the last of those tasks is done; a task
// with a copy of its own counts its copy.
TEST_F(DataPlaneTest, SharedFetchedBytesAreCountedOnceInTheBudget) {
  FetchBudget budget(15);
  DataPlane plane("self", self_.holder.get(), self_.service.get(), &client_,
                  &clock_, nullptr, &budget);
  v1::Assignment a = Assign("join", "{}", 1);
  (*a.mutable_input_refs())[0] =
      other_.Hold("other", "results/j7/0/1", "0123456789");
  std::vector<Payload> first(1), second(1), third(1);
  FetchBudget::Lease first_lease, second_lease, third_lease;
  ASSERT_TRUE(plane.FetchInputs(a, first, nullptr, true, &first_lease).ok());
  // Shared: no room needed (with its own copy it would need 10 more).
  ASSERT_TRUE(plane.FetchInputs(a, second, nullptr, true, &second_lease).ok());
  EXPECT_EQ(second[0].bytes(), "0123456789");
  EXPECT_EQ(budget.taken(), 10u);
  EXPECT_EQ(budget.waits(), 0u);
  CancellationToken would_wait;
  would_wait.Cancel(CancelReason::kTimeout);
  absl::Status own_copy =
      plane.FetchInputs(a, third, &would_wait, false, &third_lease);
  EXPECT_THAT(own_copy.message(), HasSubstr("waiting for room")) << own_copy;
  first_lease = FetchBudget::Lease();
  EXPECT_EQ(budget.taken(), 10u) << "the second task still holds them";
  second_lease = FetchBudget::Lease();
  EXPECT_EQ(budget.taken(), 0u);
}

TEST_F(DataPlaneTest, HeartbeatsCarryTheHoldersFigures) {
  Run(Assign("xs", R"({"n": 100})"));
  v1::Heartbeat heartbeat;
  plane_.FillHeartbeat(&heartbeat);
  EXPECT_EQ(heartbeat.held_bytes(), 100u);
  EXPECT_EQ(heartbeat.spilled_bytes(), 0u);
  google::protobuf::RepeatedPtrField<std::string> release;
  release.Add("results/j7/3/2");
  plane_.Release(release);
  heartbeat.Clear();
  plane_.FillHeartbeat(&heartbeat);
  EXPECT_EQ(heartbeat.held_bytes(), 0u);
  EXPECT_TRUE(plane_.HeldKeys().empty());
}

TEST(NewInstanceIdTest, IsRandomHex) {
  const std::string a = NewInstanceId();
  EXPECT_EQ(a.size(), 16u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(a, NewInstanceId());
}

}  // namespace
}  // namespace dagd
