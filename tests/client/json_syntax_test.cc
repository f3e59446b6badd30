#include "client/json_syntax.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dagd {
namespace {

using ::testing::HasSubstr;

TEST(JsonSyntaxTest, AcceptsEveryKindOfValue) {
  for (const char* text :
       {"{}", "[]", "0", "-1.5e+3", "\"a\\\"b\\u00e9\"", "true", "null",
        " {\"a\": [1, {\"b\": false}, \"x\"], \"c\": {}}\n",
        "[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]"}) {
    EXPECT_EQ(FindJsonSyntaxError(text), std::nullopt) << text;
  }
}

TEST(JsonSyntaxTest, ReportsLineAndColumnOfMissingValue) {
  const auto error = FindJsonSyntaxError("{\"a\": 1,\n  \"b\": }");
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->line, 2);
  EXPECT_EQ(error->column, 8);
  EXPECT_THAT(error->message, HasSubstr("expected a value, found '}'"));
}

TEST(JsonSyntaxTest, ReportsMissingComma) {
  const auto error = FindJsonSyntaxError("{\n\"a\": 1\n\"b\": 2}");
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->line, 3);
  EXPECT_EQ(error->column, 1);
  EXPECT_THAT(error->message, HasSubstr("expected ',' or '}'"));
}

TEST(JsonSyntaxTest, ReportsTrailingComma) {
  const auto error = FindJsonSyntaxError("[1, 2,]");
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->column, 7);
}

TEST(JsonSyntaxTest, ReportsUnclosedStringAtItsStart) {
  const auto error = FindJsonSyntaxError("{\"name\": \"tiny}");
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->column, 10);
  EXPECT_THAT(error->message, HasSubstr("never closed"));
}

TEST(JsonSyntaxTest, ReportsUnquotedKey) {
  const auto error = FindJsonSyntaxError("{name: 1}");
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->column, 2);
  EXPECT_THAT(error->message, HasSubstr("field name in double quotes"));
}

TEST(JsonSyntaxTest, ReportsBadLiteralsAndNumbers) {
  EXPECT_EQ(FindJsonSyntaxError("[tru]")->column, 2);
  EXPECT_EQ(FindJsonSyntaxError("[01]")->column, 2);
  EXPECT_EQ(FindJsonSyntaxError("[1.]")->column, 4);
  EXPECT_EQ(FindJsonSyntaxError("[-]")->column, 3);
  EXPECT_EQ(FindJsonSyntaxError("[\"\\x\"]")->column, 3);
}

TEST(JsonSyntaxTest, ReportsTextAfterTheValue) {
  const auto error = FindJsonSyntaxError("{}\n}");
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->line, 2);
  EXPECT_EQ(error->column, 1);
}

TEST(JsonSyntaxTest, ReportsEmptyInput) {
  const auto error = FindJsonSyntaxError("  ");
  ASSERT_TRUE(error.has_value());
  EXPECT_THAT(error->message, HasSubstr("the end of the input"));
}

TEST(JsonSyntaxTest, CountsColumnsInCharactersNotBytes) {
  // "é" is two bytes in UTF-8 but one column.
  const auto error = FindJsonSyntaxError("[\"\xc3\xa9\" 1]");
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->column, 6);
}

TEST(JsonSyntaxTest, DeepNestingDoesNotRecurse) {
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  EXPECT_EQ(FindJsonSyntaxError(deep), std::nullopt);
}

TEST(JsonSyntaxTest, AKeyGivenTwiceInOneObjectIsFoundWithBothPlaces) {
  const auto error =
      FindJsonSyntaxError("{\"a\": 1,\n \"b\": {\"a\": 2}, \"a\": 3}");
  ASSERT_TRUE(error.has_value());
  EXPECT_TRUE(error->duplicate_key);
  EXPECT_EQ(error->line, 2);
  EXPECT_EQ(error->column, 17);
  EXPECT_EQ(error->message,
            "key \"a\" given twice in one object (first at line 1, column 2)");
  // The same key in sibling and nested objects is fine, also after an
  // object at the same depth had it (the keys are kept per object).
  EXPECT_EQ(FindJsonSyntaxError(
                R"([{"a": 1, "b": {"a": 2}}, {"a": 3, "b": {"a": 4}}])"),
            std::nullopt);
  // A grammar error is not one.
  const auto grammar = FindJsonSyntaxError("{\"a\" 1}");
  ASSERT_TRUE(grammar.has_value());
  EXPECT_FALSE(grammar->duplicate_key);
}

TEST(JsonSyntaxTest, FormatsLineAndColumn) {
  EXPECT_EQ(FormatJsonSyntaxError({3, 14, "oops"}), "line 3, column 14: oops");
}

}  // namespace
}  // namespace dagd
