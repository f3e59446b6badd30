#include "server/audit.h"

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "server/log.h"

namespace dagd {

namespace {

// `text` with its control characters as \xNN, and backslashes doubled.
std::string EscapeControls(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      absl::StrAppend(&out, "\\x", absl::Hex(u, absl::kZeroPad2));
    } else if (c == '\\') {
      out += "\\\\";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

void Audit(const Principal& caller, absl::string_view action,
           absl::string_view job_id, const absl::Status& status) {
  // The id as the caller wrote it (a URL's, decoded) is escaped, and so is
  // the outcome, which may quote it (a NOT_FOUND names the id): a newline
  // in either cannot forge a line of the audit log.
  LOG(INFO).Job(absl::CHexEscape(job_id))
      << "audit: " << action << " by " << caller.name << " (tenant '"
      << caller.tenant << "'): "
      << (status.ok() ? std::string("done")
                      : EscapeControls(status.ToString()));
}

}  // namespace dagd
