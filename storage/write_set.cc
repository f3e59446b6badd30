#include "storage/write_set.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace dagd {

std::string JobIdFromSeq(uint64_t seq) { return absl::StrCat("j", seq); }

absl::Status NoJobError(absl::string_view job_id) {
  return absl::NotFoundError(absl::StrCat("no job '", job_id, "'"));
}

std::optional<uint64_t> SeqFromJobId(absl::string_view job_id) {
  // "j01" is not "j1": one job, one id (caches and watches key by it).
  if (job_id.size() < 2 || job_id[0] != 'j' || job_id[1] == '0') {
    return std::nullopt;
  }
  uint64_t seq = 0;
  for (char c : job_id.substr(1)) {
    if (!absl::ascii_isdigit(c)) return std::nullopt;
  }
  if (!absl::SimpleAtoi(job_id.substr(1), &seq) || seq == 0) {
    return std::nullopt;
  }
  return seq;
}

}  // namespace dagd
