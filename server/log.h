#ifndef DAGD_SERVER_LOG_H_
#define DAGD_SERVER_LOG_H_

#include <sstream>
#include <string>

#include "absl/strings/string_view.h"
#include "storage/base/logging.h"

namespace dagd {

// The format of every later line of dagd's log. Set once at start, before
// other threads log (the one process-wide setting; a flag chooses it).
void SetLogFormat(LogFormat format);

// Builds one log line and writes it to stderr when it goes out of scope, in
// the shared format (storage/base/logging.h), e.g.
//   LOG(WARNING).Job("j4").Task("sum") << "task failed for good: " << why;
// Lines from different threads never interleave.
class LogLine {
 public:
  explicit LogLine(LogLevel level) { entry_.level = level; }
  ~LogLine();
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;

  LogLine& Job(absl::string_view job_id) {
    entry_.job_id = std::string(job_id);
    return *this;
  }
  LogLine& Task(absl::string_view task_id) {
    entry_.task_id = std::string(task_id);
    return *this;
  }
  template <typename T>
  LogLine& operator<<(const T& value) {
    stream_ << value;
    return *this;
  }

 private:
  LogEntry entry_;
  std::ostringstream stream_;
};

}  // namespace dagd

#define DAGD_LOG_INFO ::dagd::LogLine(::dagd::LogLevel::kInfo)
#define DAGD_LOG_WARNING ::dagd::LogLine(::dagd::LogLevel::kWarning)
#define DAGD_LOG_ERROR ::dagd::LogLine(::dagd::LogLevel::kError)
#define LOG(level) DAGD_LOG_##level

#endif  // DAGD_SERVER_LOG_H_
