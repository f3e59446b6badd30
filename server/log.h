#ifndef DAGD_SERVER_LOG_H_
#define DAGD_SERVER_LOG_H_

#include <sstream>
#include <string>

#include "absl/strings/string_view.h"

namespace dagd {

enum class LogLevel { kInfo, kWarning, kError };
enum class LogFormat { kText, kJson };

// The format of every later line. Set once at start, before other threads
// log (it is the one process-wide setting: flags choose it).
void SetLogFormat(LogFormat format);

// One line per event on stderr. Text:
//   2026-11-21T05:01:02.123Z WARNING job=j4 task=sum message
// JSON (--log_format=json), one object per line:
//   {"ts":"2026-11-21T05:01:02.123Z","level":"warning","job":"j4",
//    "task":"sum","msg":"message"}
// Lines from different threads never interleave.
class LogLine {
 public:
  explicit LogLine(LogLevel level) : level_(level) {}
  ~LogLine();
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;

  LogLine& Job(absl::string_view job_id) {
    job_ = std::string(job_id);
    return *this;
  }
  LogLine& Task(absl::string_view task_id) {
    task_ = std::string(task_id);
    return *this;
  }
  template <typename T>
  LogLine& operator<<(const T& value) {
    stream_ << value;
    return *this;
  }

 private:
  LogLevel level_;
  std::string job_;
  std::string task_;
  std::ostringstream stream_;
};

// `text` as a JSON string literal, quotes included.
std::string JsonQuote(absl::string_view text);

}  // namespace dagd

#define DAGD_LOG_INFO ::dagd::LogLine(::dagd::LogLevel::kInfo)
#define DAGD_LOG_WARNING ::dagd::LogLine(::dagd::LogLevel::kWarning)
#define DAGD_LOG_ERROR ::dagd::LogLine(::dagd::LogLevel::kError)
#define LOG(level) DAGD_LOG_##level

#endif  // DAGD_SERVER_LOG_H_
