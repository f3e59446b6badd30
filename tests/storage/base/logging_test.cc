#include "storage/base/logging.h"

#include <string>

#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace dagd {
namespace {

using ::testing::HasSubstr;

// A log line as the collector reading it sees it.
absl::StatusOr<google::protobuf::Value> ParseJson(const std::string& text) {
  google::protobuf::Value value;
  auto status = google::protobuf::util::JsonStringToMessage(text, &value);
  if (!status.ok()) {
    return absl::InvalidArgumentError(status.message().as_string());
  }
  return value;
}

const absl::Time kTime = absl::FromUnixMillis(1700000000123);

TEST(ParseLogFormatTest, AcceptsTextAndJson) {
  EXPECT_EQ(*ParseLogFormat("text"), LogFormat::kText);
  EXPECT_EQ(*ParseLogFormat("json"), LogFormat::kJson);
  auto bad = ParseLogFormat("xml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("'xml' is not a log format"));
}

TEST(FormatLogLineTest, TextNamesLevelAndTask) {
  EXPECT_EQ(FormatLogLine(LogFormat::kText, kTime, Info("stopped")),
            "2023-11-14T22:13:20.123Z dagd-worker: stopped");
  LogEntry entry{LogLevel::kWarning, "failed: boom", "j1", "sum"};
  EXPECT_EQ(FormatLogLine(LogFormat::kText, kTime, entry),
            "2023-11-14T22:13:20.123Z dagd-worker: warning: job j1 task sum: "
            "failed: boom");
}

// A message holding a task's error (an exec program's stderr) stays one
// line, with no escape sequence for the terminal.
TEST(FormatLogLineTest, TextEscapesControlCharactersIntoOneLine) {
  EXPECT_EQ(FormatLogLine(LogFormat::kText, kTime,
                          Info("failed: boom\x1b[2J\r\nfake: ok\tx")),
            FormatLogLine(LogFormat::kText, kTime, Info("")) +
                "failed: boom\\x1b[2J\\r\\nfake: ok\tx");
}

TEST(FormatLogLineTest, JsonIsOneParsableObject) {
  LogEntry entry{LogLevel::kError, "bad \"quote\"\nnew line \x01", "j1", "sum"};
  std::string line = FormatLogLine(LogFormat::kJson, kTime, entry);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  ASSERT_EQ(line.front(), '{');
  auto value = ParseJson(line);
  ASSERT_TRUE(value.ok()) << value.status() << ": " << line;
  const auto& fields = value->struct_value().fields();
  EXPECT_EQ(fields.at("ts").string_value(), "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(fields.at("level").string_value(), "error");
  EXPECT_EQ(fields.at("msg").string_value(), entry.message);
  EXPECT_EQ(fields.at("job").string_value(), "j1");
  EXPECT_EQ(fields.at("task").string_value(), "sum");
}

TEST(FormatLogLineTest, JsonLeavesOutTaskFieldsWhenNotAboutATask) {
  std::string line = FormatLogLine(LogFormat::kJson, kTime, Info("hi"));
  EXPECT_EQ(line,
            R"({"ts":"2023-11-14T22:13:20.123Z","level":"info","msg":"hi"})");
}

TEST(JsonQuoteTest, KeepsUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(JsonQuote("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
  EXPECT_EQ(JsonQuote("a\xff"
                      "b"),
            "\"a\\ufffdb\"");
  EXPECT_EQ(JsonQuote("\xe2\x82"), "\"\\ufffd\\ufffd\"");  // truncated
  EXPECT_EQ(JsonQuote("tab\tback\\"), "\"tab\\tback\\\\\"");
  EXPECT_TRUE(ParseJson(JsonQuote("\x7f\x1f\xc0\xaf")).ok());
}

TEST(ValidUtf8Test, KeepsUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(ValidUtf8("caf\xc3\xa9 ok"), "caf\xc3\xa9 ok");
  EXPECT_EQ(ValidUtf8("DPK5\x80\x05K\t."), "DPK5\xef\xbf\xbd\x05K\t.");
  EXPECT_EQ(ValidUtf8("\xe2\x82"), "\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(ValidUtf8(std::string("a\0b", 3)), std::string("a\0b", 3));
}

}  // namespace
}  // namespace dagd
