#include "storage/base/logging.h"

#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace dagd {
namespace {

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

std::string Timestamp(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone());
}

// Length of the valid UTF-8 sequence starting at text[i], or 0.
size_t Utf8SequenceLength(absl::string_view text, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char lead = byte(i);
  size_t length;
  uint32_t min;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2, min = 0x80;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3, min = 0x800;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4, min = 0x10000;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  uint32_t code = lead & (0x7F >> length);
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    code = (code << 6) | (byte(i + k) & 0x3F);
  }
  if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
    return 0;
  }
  return length;
}

}  // namespace

LogEntry Info(std::string message) {
  return LogEntry{LogLevel::kInfo, std::move(message), "", ""};
}
LogEntry Warning(std::string message) {
  return LogEntry{LogLevel::kWarning, std::move(message), "", ""};
}
LogEntry Error(std::string message) {
  return LogEntry{LogLevel::kError, std::move(message), "", ""};
}

absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view text) {
  if (text == "text") return LogFormat::kText;
  if (text == "json") return LogFormat::kJson;
  return absl::InvalidArgumentError(
      absl::StrCat("'", text, "' is not a log format; use text or json"));
}

std::string ValidUtf8(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      out += text[i++];
      continue;
    }
    size_t length = Utf8SequenceLength(text, i);
    if (length == 0) {
      out += "\xef\xbf\xbd";  // U+FFFD
      ++i;
    } else {
      out.append(text.data() + i, length);
      i += length;
    }
  }
  return out;
}

std::string JsonQuote(absl::string_view text) {
  std::string out = "\"";
  for (size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      size_t length = Utf8SequenceLength(text, i);
      if (length == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        out.append(text.data() + i, length);
        i += length;
      }
      continue;
    }
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
        if (c < 0x20 || c == 0x7F) {
          absl::StrAppendFormat(&out, "\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += "\"";
  return out;
}

std::string FormatLogLine(LogFormat format, absl::Time time,
                          const LogEntry& entry, absl::string_view program) {
  if (format == LogFormat::kJson) {
    std::string line = absl::StrCat("{\"ts\":\"", Timestamp(time),
                                    "\",\"level\":\"", LevelName(entry.level),
                                    "\",\"msg\":", JsonQuote(entry.message));
    if (!entry.job_id.empty()) {
      absl::StrAppend(&line, ",\"job\":", JsonQuote(entry.job_id));
    }
    if (!entry.task_id.empty()) {
      absl::StrAppend(&line, ",\"task\":", JsonQuote(entry.task_id));
    }
    line += "}";
    return line;
  }
  std::string line = absl::StrCat(Timestamp(time), " ", program, ": ");
  if (entry.level != LogLevel::kInfo) {
    absl::StrAppend(&line, LevelName(entry.level), ": ");
  }
  if (!entry.job_id.empty()) absl::StrAppend(&line, "job ", entry.job_id, " ");
  if (!entry.task_id.empty()) absl::StrAppend(&line, "task ", entry.task_id);
  if (!entry.job_id.empty() || !entry.task_id.empty()) {
    if (line.back() == ' ') line.pop_back();
    line += ": ";
  }
  // One line per entry, whatever the message holds (a task's error is
  // what its program wrote): control characters, line breaks included,
  // are escaped, so none moves the cursor or starts a forged line.
  for (char c : entry.message) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      line += "\\n";
    } else if (c == '\r') {
      line += "\\r";
    } else if ((u < 0x20 && c != '\t') || u == 0x7f) {
      absl::StrAppendFormat(&line, "\\x%02x", u);
    } else {
      line += c;
    }
  }
  return line;
}

LogFn StderrLogger(LogFormat format) {
  return [format](const LogEntry& entry) {
    std::string line = FormatLogLine(format, absl::Now(), entry);
    line += "\n";
    fwrite(line.data(), 1, line.size(), stderr);
  };
}

}  // namespace dagd
