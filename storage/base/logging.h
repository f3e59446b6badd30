// The log of dagd and dagd-worker: one line per notable event on stderr, as
// text for people or as one JSON object per line for log collectors
// (--log_format).
#ifndef DAGD_STORAGE_BASE_LOGGING_H_
#define DAGD_STORAGE_BASE_LOGGING_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace dagd {

enum class LogLevel { kInfo, kWarning, kError };

// One event. `job_id` and `task_id` are set when the event is about a task.
struct LogEntry {
  LogLevel level = LogLevel::kInfo;
  std::string message;
  std::string job_id;
  std::string task_id;
};

// Receives log entries; must be thread-safe.
using LogFn = std::function<void(const LogEntry& entry)>;

// Shorthands for the common entries.
LogEntry Info(std::string message);
LogEntry Warning(std::string message);
LogEntry Error(std::string message);

enum class LogFormat { kText, kJson };

// "text" or "json"; INVALID_ARGUMENT names the accepted values otherwise.
absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view text);

// The line for `entry` at `time`, without the newline:
//   text: 2026-01-02T03:04:05.678Z dagd-worker: warning: job j1 task a: msg
//   json: {"ts":"2026-01-02T03:04:05.678Z","level":"warning","msg":"msg",
//          "job":"j1","task":"a"}
// `program` names the process in text lines.
std::string FormatLogLine(LogFormat format, absl::Time time,
                          const LogEntry& entry,
                          absl::string_view program = "dagd-worker");

// JSON string literal (with the quotes) for arbitrary bytes; bytes that are
// not valid UTF-8 are replaced by U+FFFD so the line stays valid JSON.
std::string JsonQuote(absl::string_view text);

// `text` with every byte that is not part of valid UTF-8 replaced by U+FFFD:
// what may go into a protobuf string field (which must be valid UTF-8, or
// the message does not serialize) when it quotes arbitrary bytes.
std::string ValidUtf8(absl::string_view text);

// A LogFn writing FormatLogLine(format, now, entry) to stderr, one write per
// line so lines from different threads never interleave.
LogFn StderrLogger(LogFormat format);

}  // namespace dagd

#endif  // DAGD_STORAGE_BASE_LOGGING_H_
