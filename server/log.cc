#include "server/log.h"

#include <cstdio>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace dagd {

LogLine::~LogLine() {
  static const char* const kNames[] = {"INFO", "WARNING", "ERROR"};
  std::string line = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ ", absl::Now(),
                                      absl::UTCTimeZone());
  line += kNames[static_cast<int>(level_)];
  line += ' ';
  line += stream_.str();
  line += '\n';
  // One fwrite per line: stdio locks the stream, so lines stay whole.
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace dagd
