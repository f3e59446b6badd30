#include "server/dashboard/dashboard_http.h"

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "server/dashboard/assets.h"
#include "server/dashboard/dashboard_json.h"

namespace dagd {
namespace {

constexpr absl::string_view kJson = "application/json";

std::string EventText(const LiveStream::Message& message) {
  // JSON never holds a raw newline, so one data line carries it.
  return absl::StrCat("event: ", message.event, "\ndata: ", message.data,
                      "\n\n");
}

void RespondError(HttpExchange& exchange, const absl::Status& status,
                  absl::string_view field) {
  ApiResponse error = ErrorResponse(status, field);
  exchange.Respond(error.code, kJson, error.body);
}

}  // namespace

Dashboard::Dashboard(DashboardSource* source,
                     const Authenticator* authenticator, Clock* clock,
                     DashboardOptions options)
    : options_(options),
      authenticator_(authenticator),
      clock_(clock),
      access_(source, options.api.timeout),
      tasks_(source, clock, options.tasks),
      api_(source, &tasks_, &access_, options.api),
      live_(source, clock, options.live) {}

HttpHandler Dashboard::Handler() {
  return [this](const HttpRequest& request, HttpExchange& exchange) {
    Serve(request, exchange);
  };
}

void Dashboard::Serve(const HttpRequest& request, HttpExchange& exchange) {
  absl::string_view path = request.path;
  if (absl::StartsWith(path, "/api/")) return ServeApi(request, exchange);
  if (path == "/") path = "/index.html";
  const DashboardAsset* asset = FindDashboardAsset(path);
  if (asset == nullptr ||
      (request.method != "GET" && request.method != "HEAD")) {
    return exchange.Respond(404, "text/plain", "not found\n");
  }
  exchange.Respond(200, asset->content_type, asset->body);
}

void Dashboard::ServeApi(const HttpRequest& request, HttpExchange& exchange) {
  if (stopped_.load()) {
    return RespondError(exchange, absl::UnavailableError("dagd is stopping"),
                        "");
  }
  if (authenticator_->open() && !HostIsAnAddress(request.Header("Host"))) {
    return RespondError(
        exchange,
        absl::PermissionDeniedError(absl::StrCat(
            "Host '", absl::CHexEscape(request.Header("Host")),
            "' is a name: without --tokens_file the dashboard's API answers "
            "only requests to an IP address or localhost")),
        "host");
  }
  absl::StatusOr<Principal> caller =
      authenticator_->Authenticate(RequestAuthorization(request));
  if (!caller.ok()) return RespondError(exchange, caller.status(), "token");
  absl::string_view path = request.path;
  const bool events =
      path == "/api/events" ||
      (absl::StartsWith(path, "/api/jobs/") && absl::EndsWith(path, "/events"));
  if (path == "/api/whoami" || events) {
    // Each answers GET only (whoami HEAD too: a stream has no headers
    // alone, and one answered to HEAD broke the framing for proxies and
    // held a stream slot), and takes no parameters (checked in that order,
    // as the other routes are).
    const bool get =
        request.method == "GET" || (!events && request.method == "HEAD");
    std::optional<ApiResponse> refused =
        !get ? WrongMethod(request, "GET") : RefuseParameters(request.query);
    if (refused) return exchange.Respond(refused->code, kJson, refused->body);
  }
  if (path == "/api/whoami") {
    return exchange.Respond(200, kJson,
                            WhoamiJson(*caller, !authenticator_->open()));
  }
  if (path == "/api/events") {
    return ServeJobsEvents(*caller, request, exchange);
  }
  if (absl::StartsWith(path, "/api/jobs/") &&
      absl::ConsumeSuffix(&path, "/events")) {
    std::string job_id(absl::StripPrefix(path, "/api/jobs/"));
    return ServeJobEvents(job_id, *caller, request, exchange);
  }
  ApiResponse response = api_.Handle(request, *caller);
  exchange.Respond(response.code, kJson, response.body);
}

void Dashboard::ServeJobEvents(const std::string& job_id,
                               const Principal& caller,
                               const HttpRequest& request,
                               HttpExchange& exchange) {
  // Before joining the job's shared watch: another tenant's job costs the
  // coordinator no watch, and answers as an unknown one.
  if (absl::Status visible = access_.Check(caller, job_id); !visible.ok()) {
    return RespondError(exchange, visible, "job_id");
  }
  absl::StatusOr<std::unique_ptr<LiveStream>> stream =
      live_.WatchJob(job_id, caller);
  if (!stream.ok()) return RespondError(exchange, stream.status(), "");
  // The first answer decides between an error page and a stream.
  std::optional<LiveStream::Message> first =
      (*stream)->Next(options_.first_event_wait);
  if (first && first->event == "error") {
    return exchange.Respond(first->code, kJson, first->data);
  }
  if (!exchange.StartEventStream()) return;
  if (first) {
    if (!exchange.Write(EventText(*first)) || first->last) return;
  }
  Pump(**stream, caller, request, exchange);
}

void Dashboard::ServeJobsEvents(const Principal& caller,
                                const HttpRequest& request,
                                HttpExchange& exchange) {
  absl::StatusOr<std::unique_ptr<LiveStream>> stream = live_.WatchJobs(caller);
  if (!stream.ok()) return RespondError(exchange, stream.status(), "");
  if (!exchange.StartEventStream()) return;
  Pump(**stream, caller, request, exchange);
}

void Dashboard::Pump(LiveStream& stream, const Principal& caller,
                     const HttpRequest& request, HttpExchange& exchange) {
  // Short waits, so that a stopping server is not held up by a stream, and
  // a token taken off the file ends its streams within a moment.
  const absl::Duration wait = absl::Milliseconds(500);
  const std::optional<std::string> authorization =
      RequestAuthorization(request);
  auto still_caller = [&] {
    absl::StatusOr<Principal> now = authenticator_->Authenticate(authorization);
    return now.ok() && now->name == caller.name &&
           now->tenant == caller.tenant && now->role == caller.role;
  };
  absl::Time last_write = clock_->Now();
  while (exchange.ServerRunning() && still_caller()) {
    std::optional<LiveStream::Message> message = stream.Next(wait);
    if (message) {
      if (!exchange.Write(EventText(*message)) || message->last) return;
      last_write = clock_->Now();
    } else if (clock_->Now() - last_write >= options_.keepalive) {
      if (!exchange.Write(": keepalive\n\n")) return;
      last_write = clock_->Now();
    }
  }
}

}  // namespace dagd
