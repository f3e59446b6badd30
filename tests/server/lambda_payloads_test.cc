// What a Lambda invocation carries when results live in the object store,
// and how an invocation over Lambda's payload limit is made to fit.

#include "server/lambda_payloads.h"

#include <string>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "server/assignment_args.h"
#include "storage/crc32c.h"
#include "tests/testutil/fake_object_store.h"

namespace dagd {
namespace {

using ::testing::HasSubstr;

v1::ObjectStoreConfig Store(uint64_t inline_max_bytes) {
  v1::ObjectStoreConfig config;
  config.set_bucket("bucket");
  config.set_inline_max_bytes(inline_max_bytes);
  return config;
}

v1::Assignment Task() {
  v1::Assignment a;
  a.mutable_task()->set_job_id("j4");
  a.mutable_task()->set_task_index(2);
  a.mutable_task()->set_attempt(3);
  a.set_fn("identity");
  return a;
}

TEST(MakeInvocationTest, InputRefsMoveOutOfTheAssignment) {
  v1::Assignment a = Task();
  a.add_inputs();
  (*a.mutable_input_refs())[0].set_key("results/j4/1/1");
  v1::LambdaInvocation inv = MakeInvocation(a, Store(64 << 10));
  EXPECT_TRUE(inv.assignment().input_refs().empty());
  ASSERT_EQ(inv.input_refs().count(0), 1u);
  EXPECT_EQ(inv.input_refs().at(0).key(), "results/j4/1/1");
  EXPECT_EQ(inv.output_ref().bucket(), "bucket");
  EXPECT_EQ(inv.output_ref().key(), "results/j4/2/3");
  EXPECT_EQ(inv.inline_max_bytes(), 64u << 10);
}

// The output goes under the attempt's key and the dispatcher's name of its
// run: an invocation a crash of dagd lost, which still runs, writes apart
// from the one the restarted dagd makes for the same attempt number.
TEST(MakeInvocationTest, TheOutputKeyNamesItsWriter) {
  EXPECT_EQ(MakeInvocation(Task(), Store(64 << 10), "5f0c2a9e41d7b388")
                .output_ref()
                .key(),
            "results/j4/2/3/5f0c2a9e41d7b388");
  EXPECT_EQ(WrittenResultObjectKey("j4", 2, 3, ""), "results/j4/2/3");
  // Where dagd accepts the attempt's output: its key, or one under it.
  EXPECT_TRUE(IsKeyWithin("results/j4/2/3", "results/j4/2/3"));
  EXPECT_TRUE(IsKeyWithin("results/j4/2/3/w/try1", "results/j4/2/3"));
  EXPECT_FALSE(IsKeyWithin("results/j4/2/30", "results/j4/2/3"));
  EXPECT_FALSE(IsKeyWithin("results/j4/2/3/", "results/j4/2/3"));
  EXPECT_FALSE(IsKeyWithin("results/j4/2", "results/j4/2/3"));
}

TEST(MakeInvocationTest, OutputLimitStaysUnderLambdasResponseLimit) {
  // Bytes travel base64-encoded in the JSON answer.
  EXPECT_EQ(MakeInvocation(Task(), Store(8 << 20)).inline_max_bytes(),
            kLambdaInlineOutputMax);
  EXPECT_EQ(MakeInvocation(Task(), Store(0)).inline_max_bytes(),
            kLambdaInlineOutputMax);
  EXPECT_LT(kLambdaInlineOutputMax * 4 / 3 + 1024, kLambdaPayloadLimit);
}

TEST(MakeInvocationTest, WithoutAStoreNothingGoesByReference) {
  v1::LambdaInvocation inv = MakeInvocation(Task(), v1::ObjectStoreConfig());
  EXPECT_FALSE(inv.has_output_ref());
  EXPECT_EQ(inv.inline_max_bytes(), 0u);
}

absl::StatusOr<LambdaPayloads::Shrunk> ShrinkNow(LambdaPayloads& payloads,
                                                 v1::LambdaInvocation inv) {
  absl::StatusOr<LambdaPayloads::Shrunk> out;
  absl::Notification done;
  payloads.Shrink(std::move(inv),
                  [&](absl::StatusOr<LambdaPayloads::Shrunk> shrunk) {
                    out = std::move(shrunk);
                    done.Notify();
                  });
  done.WaitForNotification();
  return out;
}

// Found by tests/fuzz/lambda_responses_fuzzer.cc: protobuf's JSON leaves
// out an args value of no kind (a protobuf client may send one), so the
// function saw the list items after it moved, and an object member gone.
TEST(MakeInvocationTest, ArgsReadBackFromTheBodyAsTheyWere) {
  v1::Assignment a = Task();
  google::protobuf::ListValue* list = a.mutable_args()->mutable_list_value();
  list->add_values();  // no kind
  list->add_values()->set_number_value(7);
  (*list->add_values()->mutable_struct_value()->mutable_fields())["k"];
  const v1::LambdaInvocation inv = MakeInvocation(a, Store(64 << 10));
  v1::LambdaInvocation back;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(InvocationBody(inv), &back)
          .ok());
  const google::protobuf::ListValue& args =
      back.assignment().args().list_value();
  ASSERT_EQ(args.values_size(), 3);
  EXPECT_TRUE(args.values(0).has_null_value());
  EXPECT_EQ(args.values(1).number_value(), 7);
  EXPECT_TRUE(args.values(2).struct_value().fields().at("k").has_null_value());
}

// The scheduler passes args on encoded (server/assignment_args.h); the
// Lambda path reads them into the args field first, so that a value of no
// kind in them still reads back as null (see the test above).
TEST(MakeInvocationTest, EncodedArgsReachTheBody) {
  v1::Assignment a = Task();
  google::protobuf::Value args;
  (*args.mutable_struct_value()->mutable_fields())["value"].set_number_value(7);
  (*args.mutable_struct_value()->mutable_fields())["none"];  // no kind
  SetEncodedArgs(a, args.SerializeAsString());
  EXPECT_FALSE(a.has_args());
  const v1::LambdaInvocation inv = MakeInvocation(a, Store(64 << 10));
  v1::LambdaInvocation back;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(InvocationBody(inv), &back)
          .ok());
  const auto& fields = back.assignment().args().struct_value().fields();
  ASSERT_EQ(fields.count("value"), 1u);
  EXPECT_EQ(fields.at("value").number_value(), 7);
  ASSERT_EQ(fields.count("none"), 1u);
  EXPECT_TRUE(fields.at("none").has_null_value());
}

TEST(MakeInvocationTest, EncodedArgsThatAreNotAValueAreLeftOut) {
  v1::Assignment a = Task();
  SetEncodedArgs(a, "\xff\xff");
  EXPECT_FALSE(ParseEncodedArgs(a));
  EXPECT_FALSE(a.has_args());
  EXPECT_EQ(a.ByteSizeLong(), Task().ByteSizeLong());
}

TEST(LambdaPayloadsTest, LargestInputsGoToTheStoreUntilTheCallFits) {
  FakeObjectStore store;
  LambdaPayloads payloads(Store(64 << 10), &store);
  v1::Assignment a = Task();
  // Each is over 3 MB in base64: two must go, the smallest may stay.
  const std::string kib(1024, 'x');
  std::string inputs[3];
  for (int i = 0; i < 3; ++i) {
    for (int k = 0; k < 2400 + 100 * i; ++k) inputs[i] += kib;
    a.add_inputs()->set_data(inputs[i]);
  }
  v1::LambdaInvocation inv = MakeInvocation(a, Store(64 << 10));
  ASSERT_GT(InvocationBody(inv).size(), kLambdaPayloadLimit);

  absl::StatusOr<LambdaPayloads::Shrunk> shrunk = ShrinkNow(payloads, inv);
  ASSERT_TRUE(shrunk.ok()) << shrunk.status();
  EXPECT_LE(shrunk->body.size(), kLambdaPayloadLimit);
  EXPECT_THAT(shrunk->temp_keys,
              ::testing::ElementsAre("inputs/j4/2/3/2", "inputs/j4/2/3/1"));
  ASSERT_TRUE(store.Find("inputs/j4/2/3/2").has_value());
  EXPECT_TRUE(store.Find("inputs/j4/2/3/2")->data == inputs[2]);
  EXPECT_FALSE(store.Find("inputs/j4/2/3/0").has_value());
  // The body names them, with the checksum of what was written.
  v1::LambdaInvocation sent;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(shrunk->body, &sent).ok());
  ASSERT_EQ(sent.input_refs().count(1), 1u);
  EXPECT_EQ(sent.input_refs().at(1).key(), "inputs/j4/2/3/1");
  EXPECT_EQ(sent.input_refs().at(1).crc32c(), crc32c::Value(inputs[1]));
  EXPECT_EQ(sent.input_refs().at(1).size(), inputs[1].size());
  EXPECT_TRUE(sent.assignment().inputs(1).data().empty());
  EXPECT_EQ(sent.assignment().inputs(0).data().size(), inputs[0].size());

  // Deleted once the call has ended; requests run in order, so the shrink
  // after it finds them gone.
  payloads.DeleteLater(shrunk->temp_keys);
  ASSERT_TRUE(
      ShrinkNow(payloads, MakeInvocation(Task(), Store(64 << 10))).ok());
  EXPECT_FALSE(store.Find("inputs/j4/2/3/2").has_value());
  EXPECT_FALSE(store.Find("inputs/j4/2/3/1").has_value());
}

TEST(LambdaPayloadsTest, ArgsTooLargeForLambdaFailWithoutLeavingObjects) {
  FakeObjectStore store;
  LambdaPayloads payloads(Store(64 << 10), &store);
  v1::Assignment a = Task();
  (*a.mutable_args()->mutable_struct_value()->mutable_fields())["blob"]
      .set_string_value(std::string(7 << 20, 'a'));
  a.add_inputs()->set_data(std::string(1 << 20, 'i'));
  absl::StatusOr<LambdaPayloads::Shrunk> shrunk =
      ShrinkNow(payloads, MakeInvocation(a, Store(64 << 10)));
  EXPECT_TRUE(absl::IsInvalidArgument(shrunk.status())) << shrunk.status();
  EXPECT_THAT(shrunk.status().message(), HasSubstr("args are too large"));
  EXPECT_FALSE(store.Find("inputs/j4/2/3/0").has_value());
}

TEST(LambdaPayloadsTest, StoreFailureComesBackWithTheInputNamed) {
  FakeObjectStore store;
  LambdaPayloads payloads(Store(64 << 10), &store);
  v1::Assignment a = Task();
  a.add_inputs()->set_data(std::string(7 << 20, 'i'));
  store.FailNext(absl::UnavailableError("throttled"));
  absl::StatusOr<LambdaPayloads::Shrunk> shrunk =
      ShrinkNow(payloads, MakeInvocation(a, Store(64 << 10)));
  EXPECT_TRUE(absl::IsUnavailable(shrunk.status())) << shrunk.status();
  EXPECT_THAT(shrunk.status().message(), HasSubstr("input #0"));
  EXPECT_THAT(shrunk.status().message(), HasSubstr("throttled"));
}

}  // namespace
}  // namespace dagd
