#include "worker/json_util.h"

#include <cmath>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace dagd {
namespace {

TEST(JsonUtilTest, ParsesScalarsAndRoundTrips) {
  for (const char* text : {"3", "\"x\"", "null", "[1,2.5]", "{\"a\":true}"}) {
    auto value = ParseJson(text);
    ASSERT_TRUE(value.ok()) << text << ": " << value.status();
    EXPECT_EQ(ValueToJson(*value), text);
  }
}

// Bare numbers take a shortcut; it must read every text as the general
// parser does, and leave it whatever is not a plain number.
TEST(JsonUtilTest, NumbersReadAsTheGeneralParserReadsThem) {
  for (const char* text : {"0",
                           "1",
                           "-7",
                           "1000",
                           "2.5",
                           "-0.1",
                           "1e3",
                           "1E-3",
                           "-2.5e+10",
                           "9007199254740993",
                           "12345678901234567890",
                           "1e308",
                           "0.30000000000000004",
                           "-0",
                           "-0.0",
                           "1e400",
                           "01",
                           "1.",
                           ".5",
                           "+1",
                           " 1",
                           "1 ",
                           "--1",
                           "1e",
                           "0x10",
                           "NaN",
                           "Infinity"}) {
    google::protobuf::Value general;
    const bool general_ok =
        google::protobuf::util::JsonStringToMessage(text, &general).ok();
    auto value = ParseJson(text);
    ASSERT_EQ(value.ok(), general_ok) << text;
    if (!general_ok) continue;
    EXPECT_EQ(value->kind_case(), general.kind_case()) << text;
    EXPECT_EQ(ValueToJson(*value), ValueToJson(general)) << text;
    if (general.has_number_value()) {
      EXPECT_EQ(value->number_value(), general.number_value()) << text;
      EXPECT_EQ(std::signbit(value->number_value()),
                std::signbit(general.number_value()))
          << text;
    }
  }
}

// Integers, booleans and null print without protobuf's printer; they must
// print as it prints them.
TEST(JsonUtilTest, ScalarsPrintAsTheGeneralPrinterPrintsThem) {
  std::vector<google::protobuf::Value> values;
  for (double number :
       {0.0, -0.0, 1.0, -1.0, 42.0, 1e14, 999999999999999.0, 1e15, -1e15, 1e16,
        2.5, -7.25, 1e-7, 0.1, 9007199254740993.0, 1e300}) {
    values.emplace_back().set_number_value(number);
  }
  values.emplace_back().set_bool_value(true);
  values.emplace_back().set_bool_value(false);
  values.emplace_back().set_null_value(google::protobuf::NULL_VALUE);
  values.emplace_back().set_string_value("x");
  for (const google::protobuf::Value& value : values) {
    std::string general;
    ASSERT_TRUE(
        google::protobuf::util::MessageToJsonString(value, &general).ok());
    EXPECT_EQ(ValueToJson(value), general) << value.DebugString();
  }
}

TEST(JsonUtilTest, RejectsNonJson) {
  auto value = ParseJson("not json");
  EXPECT_EQ(value.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(JsonUtilTest, PayloadErrorNamesContentType) {
  auto value = PayloadToValue(Payload{"\x01", "application/octet-stream"});
  ASSERT_FALSE(value.ok());
  EXPECT_THAT(std::string(value.status().message()),
              testing::HasSubstr("application/octet-stream"));
}

TEST(JsonUtilTest, UnsetValueIsNull) {
  EXPECT_EQ(ValueToJson(google::protobuf::Value()), "null");
  EXPECT_EQ(JsonPayload(google::protobuf::Value()).content_type,
            kJsonContentType);
}

TEST(JsonUtilTest, FindFieldOnlyInObjects) {
  auto args = ParseJson(R"({"ms": 5})");
  ASSERT_TRUE(args.ok());
  ASSERT_NE(FindField(*args, "ms"), nullptr);
  EXPECT_EQ(FindField(*args, "ms")->number_value(), 5);
  EXPECT_EQ(FindField(*args, "other"), nullptr);
  EXPECT_EQ(FindField(*ParseJson("[1]"), "ms"), nullptr);
}

std::string Sum(std::initializer_list<double> values) {
  NumberSum sum;
  for (double v : values) sum.Add(v);
  auto json = sum.ToJson();
  return json.ok() ? *json : json.status().ToString();
}

TEST(NumberSumTest, IntegersStayIntegers) {
  EXPECT_EQ(Sum({}), "0");
  EXPECT_EQ(Sum({1, 2}), "3");
  EXPECT_EQ(Sum({-5, 2}), "-3");
  EXPECT_EQ(Sum({4503599627370496, 4503599627370496}), "9007199254740992");
}

TEST(NumberSumTest, NonIntegralOperandsPrintAsDoubles) {
  EXPECT_EQ(Sum({1, 2.5}), "3.5");
  EXPECT_EQ(Sum({0.1, 0.2}), "0.30000000000000004");
  EXPECT_EQ(Sum({1.5, 1.5}), "3.0");
}

TEST(NumberSumTest, OverflowIsAnError) {
  NumberSum sum;
  sum.Add(1e308);
  sum.Add(1e308);
  EXPECT_FALSE(sum.ToJson().ok());
}

TEST(FormatDoubleTest, ShortestRoundTrip) {
  EXPECT_EQ(FormatDouble(0.1), "0.1");
  EXPECT_EQ(FormatDouble(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(FormatDouble(1e300), "1e+300");
}

}  // namespace
}  // namespace dagd
