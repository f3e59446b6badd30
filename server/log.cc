#include "server/log.h"

#include <atomic>
#include <cstdio>

#include "absl/time/clock.h"

namespace dagd {
namespace {

std::atomic<LogFormat> log_format{LogFormat::kText};

}  // namespace

void SetLogFormat(LogFormat format) { log_format = format; }

LogLine::~LogLine() {
  entry_.message = stream_.str();
  std::string line = FormatLogLine(log_format, absl::Now(), entry_, "dagd");
  line += '\n';
  // One fwrite per line: stdio locks the stream, so lines stay whole.
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace dagd
