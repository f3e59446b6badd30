#include "worker/builtins.h"

#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/crc32c.h"
#include "tests/worker/test_task.h"

namespace dagd {
namespace {

using ::testing::HasSubstr;

std::string Message(const absl::StatusOr<Payload>& result) {
  return std::string(result.status().message());
}

// `exec` is a runtime of its own now: what a worker offers, exec among
// it, is checked in task_runtime_test.cc
// (WorkerWithoutPluginsOffersEveryBuiltin).
TEST(BuiltinsTest, RegistersEveryBuiltin) {
  FunctionRegistry registry;
  ASSERT_TRUE(RegisterBuiltins(&registry).ok());
  EXPECT_THAT(registry.Names(),
              testing::ElementsAre("add", "bytes", "checksum", "const", "fail",
                                   "flaky", "identity", "sleep"));
}

TEST(ConstTest, ReturnsArgsValueOrNull) {
  TestTask task(R"({"value": {"a": [1, "x"]}})");
  auto out = ConstFunction(task.context);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->data, R"({"a":[1,"x"]})");
  EXPECT_EQ(out->content_type, "application/json");
  TestTask empty;
  EXPECT_EQ(ConstFunction(empty.context)->data, "null");
}

TEST(AddTest, IntegersStayIntegers) {
  TestTask task("null", {Json("1"), Json("2")});
  auto out = AddFunction(task.context);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->data, "3");
}

TEST(AddTest, AddsArgsValue) {
  TestTask task(R"({"value": 10})", {Json("1"), Json("2")});
  EXPECT_EQ(AddFunction(task.context)->data, "13");
}

TEST(AddTest, FloatsPrintWithFullPrecision) {
  TestTask task(R"({"value": 0.2})", {Json("0.1")});
  EXPECT_EQ(AddFunction(task.context)->data, "0.30000000000000004");
  TestTask half("null", {Json("1"), Json("2.5")});
  EXPECT_EQ(AddFunction(half.context)->data, "3.5");
}

TEST(AddTest, NonNumericInputNamesItsIndex) {
  TestTask task("null", {Json("1"), Json("\"two\"")});
  auto out = AddFunction(task.context);
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(Message(out), HasSubstr("input 1"));
  EXPECT_TRUE(IsPermanent(out.status()));
}

TEST(SleepTest, ReturnsSumOfNumericInputsOrNull) {
  TestTask task(R"({"ms": 1})", {Json("4"), Json("\"x\""), Json("5")});
  EXPECT_EQ(SleepFunction(task.context)->data, "9");
  TestTask none(R"({"ms": 0})");
  EXPECT_EQ(SleepFunction(none.context)->data, "null");
}

TEST(SleepTest, CancelInterruptsTheWait) {
  TestTask task(R"({"ms": 3600000})");
  std::thread canceller([&] { task.token.Cancel(CancelReason::kCoordinator); });
  auto out = SleepFunction(task.context);
  canceller.join();
  EXPECT_EQ(out.status().code(), absl::StatusCode::kCancelled);
}

TEST(SleepTest, RejectsBadMs) {
  TestTask task(R"({"ms": "soon"})");
  auto out = SleepFunction(task.context);
  EXPECT_TRUE(IsPermanent(out.status()));
  EXPECT_THAT(Message(out), HasSubstr("args.ms"));
}

TEST(IdentityTest, ReturnsFirstInputUnchanged) {
  TestTask task("null",
                {Payload{"\x01\x02", "application/octet-stream"}, Json("2")});
  auto out = IdentityFunction(task.context);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->data, "\x01\x02");
  EXPECT_EQ(out->content_type, "application/octet-stream");
  TestTask none;
  EXPECT_EQ(IdentityFunction(none.context)->data, "null");
}

TEST(FailTest, FailsWithMessageAndIsRetryable) {
  TestTask task(R"({"message": "boom"})");
  auto out = FailFunction(task.context);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(Message(out), "boom");
  EXPECT_FALSE(IsPermanent(out.status()));
}

TEST(FlakyTest, FailsTheFirstAttemptsThenSucceeds) {
  const char* args = R"({"failures": 2, "value": "done"})";
  for (uint32_t attempt : {1u, 2u}) {
    TestTask task(args, {}, attempt);
    auto out = FlakyFunction(task.context);
    ASSERT_FALSE(out.ok()) << "attempt " << attempt;
    EXPECT_FALSE(IsPermanent(out.status()));
    EXPECT_THAT(Message(out), HasSubstr(absl::StrCat("attempt ", attempt)));
  }
  TestTask third(args, {}, 3);
  auto out = FlakyFunction(third.context);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->data, "\"done\"");
}

TEST(BytesTest, MakesSizeBytesOfItsSeedsStream) {
  TestTask task(R"({"size": 100003, "seed": 7})");
  auto out = BytesFunction(task.context);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->content_type, "application/octet-stream");
  ASSERT_EQ(out->data.size(), 100003u);
  std::string want(100003, '\0');
  FillBytes(7, 0, want.data(), want.size());
  EXPECT_EQ(out->data, want);
  // Words are little-endian and each differs from the last.
  EXPECT_NE(out->data.substr(0, 8), out->data.substr(8, 8));
  TestTask other(R"({"size": 100003, "seed": 8})");
  EXPECT_NE(BytesFunction(other.context)->data, want);
}

TEST(BytesTest, AnyRangeOfTheStreamMatchesTheWhole) {
  std::string whole(1000, '\0');
  FillBytes(3, 0, whole.data(), whole.size());
  for (size_t offset : {1u, 5u, 8u, 13u}) {
    for (size_t n : {0u, 1u, 3u, 8u, 29u}) {
      std::string part(n, '\0');
      FillBytes(3, offset, part.data(), n);
      EXPECT_EQ(part, whole.substr(offset, n)) << offset << "+" << n;
    }
  }
}

TEST(BytesTest, NoSizeIsEmpty) {
  TestTask task;
  auto out = BytesFunction(task.context);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->data, "");
}

TEST(BytesTest, RejectsASizeThatIsNotAWholeNumber) {
  for (const char* args : {R"({"size": -1})", R"({"size": 1.5})",
                           R"({"size": "10"})", R"({"seed": 1e300})"}) {
    TestTask task(args);
    auto out = BytesFunction(task.context);
    ASSERT_FALSE(out.ok()) << args;
    EXPECT_TRUE(IsPermanent(out.status())) << args;
    EXPECT_THAT(Message(out), HasSubstr("must be a whole number")) << args;
  }
}

// A size the worker could not hold was allocated first: the worker died
// of it (std::bad_alloc), with every task it ran. Refused now, before any
// allocation (for this attempt: a worker with more memory may make it),
// and one over dagd's --max_result_bytes for good.
TEST(BytesTest, ASizeOverTheLimitOrTheMachinesMemoryIsRefusedFirst) {
  TestTask huge(R"({"size": 9007199254740992})");
  auto out = BytesFunction(huge.context);
  ASSERT_FALSE(out.ok());
  // This worker's limit: another may have the memory.
  EXPECT_FALSE(IsPermanent(out.status()));
  EXPECT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(Message(out),
              HasSubstr("bytes: args.size 9007199254740992 is more than the "
                        "memory this worker may use"));
  TestTask over(R"({"size": 1001})");
  out = BytesFunction(over.context, 1000);
  ASSERT_FALSE(out.ok());
  EXPECT_TRUE(IsPermanent(out.status()));
  EXPECT_EQ(Message(out),
            "bytes: args.size 1001 is over dagd's --max_result_bytes (1000)");
  TestTask at(R"({"size": 1000})");
  EXPECT_EQ(BytesFunction(at.context, 1000)->data.size(), 1000u);
  // As registered, the limit is asked at each call (it comes with dagd's
  // registration answer, after the builtins are registered).
  uint64_t limit = 0;
  FunctionRegistry registry;
  ASSERT_TRUE(RegisterBuiltins(&registry, [&limit] { return limit; }).ok());
  const TaskFunction* bytes = registry.Find("bytes");
  ASSERT_NE(bytes, nullptr);
  EXPECT_TRUE((*bytes)(over.context).ok());
  limit = 1000;
  EXPECT_THAT(Message((*bytes)(over.context)), HasSubstr("--max_result_bytes"));
}

TEST(BytesTest, CancelStopsIt) {
  TestTask task(R"({"size": 1000000})");
  task.token.Cancel(CancelReason::kCoordinator);
  auto out = BytesFunction(task.context);
  EXPECT_TRUE(absl::IsCancelled(out.status())) << out.status();
}

TEST(ChecksumTest, GivesTheSizeAndCrc32cOfEachInput) {
  TestTask task("null", {Payload{"hello", "text/plain"}, Json("[1]"),
                         Payload{"", "application/octet-stream"}});
  auto out = ChecksumFunction(task.context);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->content_type, "application/json");
  auto value = PayloadToValue(*out);
  ASSERT_TRUE(value.ok()) << value.status();
  const auto& fields = value->struct_value().fields();
  ASSERT_EQ(fields.at("bytes").list_value().values_size(), 3);
  EXPECT_EQ(fields.at("bytes").list_value().values(0).number_value(), 5);
  EXPECT_EQ(fields.at("bytes").list_value().values(1).number_value(), 3);
  EXPECT_EQ(fields.at("bytes").list_value().values(2).number_value(), 0);
  EXPECT_EQ(fields.at("crc32c").list_value().values(0).number_value(),
            crc32c::Value("hello"));
  EXPECT_EQ(fields.at("crc32c").list_value().values(1).number_value(),
            crc32c::Value("[1]"));
  EXPECT_EQ(fields.at("crc32c").list_value().values(2).number_value(), 0);
}

TEST(ChecksumTest, NoInputsGivesEmptyLists) {
  TestTask task;
  auto out = ChecksumFunction(task.context);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->data, R"({"bytes":[],"crc32c":[]})");
}

}  // namespace
}  // namespace dagd
