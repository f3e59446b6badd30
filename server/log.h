#ifndef DAGD_SERVER_LOG_H_
#define DAGD_SERVER_LOG_H_

#include <sstream>
#include <string>

namespace dagd {

enum class LogLevel { kInfo, kWarning, kError };

// One line per event on stderr: "2026-11-21T05:01:02.123Z WARNING text".
// Lines from different threads never interleave.
class LogLine {
 public:
  explicit LogLine(LogLevel level) : level_(level) {}
  ~LogLine();
  template <typename T>
  LogLine& operator<<(const T& value) {
    stream_ << value;
    return *this;
  }

 private:
  LogLevel level_;
  std::ostringstream stream_;
};

}  // namespace dagd

#define DAGD_LOG_INFO ::dagd::LogLine(::dagd::LogLevel::kInfo)
#define DAGD_LOG_WARNING ::dagd::LogLine(::dagd::LogLevel::kWarning)
#define DAGD_LOG_ERROR ::dagd::LogLine(::dagd::LogLevel::kError)
#define LOG(level) DAGD_LOG_##level

#endif  // DAGD_SERVER_LOG_H_
