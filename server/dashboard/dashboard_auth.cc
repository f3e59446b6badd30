#include "server/dashboard/dashboard_auth.h"

#include <arpa/inet.h>

#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "storage/write_set.h"

namespace dagd {
namespace {

// %XX decoded ('+' stays '+': tokens may hold it); a malformed escape is
// kept as it is.
std::string PercentDecode(absl::string_view text) {
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = absl::ascii_tolower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    int hi, lo;
    if (text[i] == '%' && i + 2 < text.size() && (hi = hex(text[i + 1])) >= 0 &&
        (lo = hex(text[i + 2])) >= 0) {
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

}  // namespace

std::optional<std::string> CookieValue(absl::string_view header,
                                       absl::string_view name) {
  for (absl::string_view part : absl::StrSplit(header, ';')) {
    part = absl::StripAsciiWhitespace(part);
    if (absl::ConsumePrefix(&part, name) && absl::ConsumePrefix(&part, "=")) {
      // RFC 6265 allows the value in double quotes.
      if (part.size() >= 2 && part.front() == '"' && part.back() == '"') {
        part = part.substr(1, part.size() - 2);
      }
      return std::string(part);
    }
  }
  return std::nullopt;
}

std::optional<std::string> RequestAuthorization(const HttpRequest& request) {
  std::string header = request.Header("Authorization");
  // Another scheme is a proxy's in front of dagd (nginx passes its Basic
  // credentials on): the page's cookie is dagd's token then.
  const bool bearer = absl::StartsWith(header, "Bearer ") ||
                      absl::StartsWith(header, "bearer ");
  if (bearer) return header;
  std::optional<std::string> cookie =
      CookieValue(request.Header("Cookie"), kTokenCookie);
  if (!cookie || cookie->empty()) {
    if (!header.empty()) return header;  // refused, saying why
    return std::nullopt;
  }
  return absl::StrCat("Bearer ", PercentDecode(*cookie));
}

bool HostIsAnAddress(absl::string_view host) {
  if (host.empty()) return true;
  std::string name;
  int family = AF_INET;
  if (absl::ConsumePrefix(&host, "[")) {
    // [IPv6]:port
    const size_t end = host.find(']');
    if (end == absl::string_view::npos) return false;
    absl::string_view rest = host.substr(end + 1);
    if (!rest.empty() && !absl::ConsumePrefix(&rest, ":")) return false;
    name = std::string(host.substr(0, end));
    family = AF_INET6;
  } else {
    name = std::string(host.substr(0, host.find(':')));
  }
  if (family == AF_INET && absl::AsciiStrToLower(name) == "localhost") {
    return true;
  }
  unsigned char address[sizeof(struct in6_addr)];
  return inet_pton(family, name.c_str(), address) == 1;
}

absl::Status NeedRole(const Principal& caller, Role needed,
                      absl::string_view action) {
  if (caller.May(needed)) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      caller.name, " of tenant '", caller.tenant, "' has role ",
      RoleName(caller.role), "; ", action, " needs ", RoleName(needed)));
}

JobAccess::JobAccess(DashboardSource* source, absl::Duration timeout,
                     size_t max_jobs)
    : source_(source), timeout_(timeout), max_jobs_(max_jobs) {}

absl::Status JobAccess::Check(const Principal& caller,
                              const std::string& job_id) {
  if (caller.role == Role::kAdmin) return absl::OkStatus();
  std::optional<std::string> tenant;
  {
    absl::MutexLock lock(&mu_);
    if (auto it = tenants_.find(job_id); it != tenants_.end()) {
      tenant = it->second;
    } else {
      ++lookups_;
    }
  }
  if (!tenant) {
    absl::StatusOr<v1::JobStatus> job = AwaitReply<v1::JobStatus>(
        [&](auto done) { source_->GetJob(job_id, std::move(done)); }, timeout_);
    if (!job.ok()) return job.status();
    Remember(job_id, job->tenant());
    tenant = job->tenant();
  }
  return caller.Sees(*tenant) ? absl::OkStatus() : NoJobError(job_id);
}

void JobAccess::Remember(const std::string& job_id, const std::string& tenant) {
  absl::MutexLock lock(&mu_);
  if (tenants_.size() >= max_jobs_ && !tenants_.contains(job_id)) {
    tenants_.clear();
  }
  tenants_[job_id] = tenant;
}

size_t JobAccess::lookups() const {
  absl::MutexLock lock(&mu_);
  return lookups_;
}

}  // namespace dagd
