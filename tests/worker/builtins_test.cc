#include "worker/builtins.h"

#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
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
              testing::ElementsAre("add", "const", "fail", "flaky", "identity",
                                   "sleep"));
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

}  // namespace
}  // namespace dagd
