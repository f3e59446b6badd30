#include "server/log.h"

#include <atomic>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace dagd {
namespace {

std::atomic<LogFormat> log_format{LogFormat::kText};

constexpr const char* kTextLevels[] = {"INFO", "WARNING", "ERROR"};
constexpr const char* kJsonLevels[] = {"info", "warning", "error"};

}  // namespace

void SetLogFormat(LogFormat format) { log_format = format; }

std::string JsonQuote(absl::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

LogLine::~LogLine() {
  const std::string ts = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(),
                                          absl::UTCTimeZone());
  const int level = static_cast<int>(level_);
  std::string line;
  if (log_format == LogFormat::kJson) {
    line = absl::StrCat("{\"ts\":\"", ts, "\",\"level\":\"", kJsonLevels[level],
                        "\"");
    if (!job_.empty()) absl::StrAppend(&line, ",\"job\":", JsonQuote(job_));
    if (!task_.empty()) absl::StrAppend(&line, ",\"task\":", JsonQuote(task_));
    absl::StrAppend(&line, ",\"msg\":", JsonQuote(stream_.str()), "}\n");
  } else {
    line = absl::StrCat(ts, " ", kTextLevels[level], " ");
    if (!job_.empty()) absl::StrAppend(&line, "job=", job_, " ");
    if (!task_.empty()) absl::StrAppend(&line, "task=", task_, " ");
    absl::StrAppend(&line, stream_.str(), "\n");
  }
  // One fwrite per line: stdio locks the stream, so lines stay whole.
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace dagd
