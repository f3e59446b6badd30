#include "client/dagctl/commands.h"

#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/dagctl/exit_code.h"
#include "client/dagctl/format.h"
#include "client/dagctl/graph.h"
#include "client/dagctl/progress.h"
#include "client/job_file.h"

namespace dagd::dagctl {
namespace {

// Prints the error and returns its exit code. Unreachable servers get the
// address and how to change it, since the usual cause is a wrong address,
// and `wait_flag`, the flag that sets how long dagctl waited for it.
int Fail(const absl::Status& status, const Invocation& invocation, const Io& io,
         absl::string_view wait_flag = "--timeout") {
  *io.err << "dagctl: ";
  if (ExitCodeForStatus(status) == kExitUnreachable) {
    *io.err << "cannot reach dagd at " << invocation.options.server << " ("
            << status.message()
            << "); set --server or DAGD_SERVER to its address, or " << wait_flag
            << " to wait longer\n";
  } else {
    *io.err << status.message() << "\n";
  }
  return ExitCodeForStatus(status);
}

// `d` to a tenth of a second: "2.3s".
std::string Seconds(absl::Duration d) {
  return absl::FormatDuration(
      absl::Trunc(d + absl::Milliseconds(50), absl::Milliseconds(100)));
}

// Prints one line when a call loses dagd and one when it regains it:
// `doing` says what goes on meanwhile (empty: "reconnecting", or
// "retrying" if dagd was never reached), `wait_flag` what bounds the wait.
// `before_line` runs first (it ends a progress bar).
ConnectionCallback ConnectionLines(const Invocation& invocation, const Io& io,
                                   std::string doing, std::string wait_flag,
                                   std::function<void()> before_line = {}) {
  return
      [&invocation, &io, doing = std::move(doing),
       wait_flag = std::move(wait_flag),
       before_line = std::move(before_line)](const ConnectionChange& change) {
        if (before_line) before_line();
        const std::string& server = invocation.options.server;
        *io.err << "dagctl: ";
        if (change.kind == ConnectionChange::Kind::kRegained) {
          *io.err << "reconnected to dagd at " << server << " after "
                  << Seconds(change.outage) << "\n";
        } else {
          *io.err << (change.was_connected ? "lost dagd at "
                                           : "cannot reach dagd at ")
                  << server << " (" << change.cause.message() << "); "
                  << (!doing.empty()         ? doing
                      : change.was_connected ? "reconnecting"
                                             : "retrying");
          if (change.retry_for != absl::InfiniteDuration()) {
            *io.err << " for up to " << Seconds(change.retry_for) << " ("
                    << wait_flag << ")";
          }
          *io.err << "\n";
        }
        io.err->flush();
      };
}

// Prints the final state of a watched job and maps it to an exit code.
int ReportOutcome(const v1::JobStatus& status, const Io& io, bool json) {
  *io.out << (json ? ToJson(status) + "\n" : FormatOutcome(status, io.now()));
  return ExitCodeForJobState(status.state());
}

int RunSubmit(const Invocation& invocation, Client& client, const Io& io) {
  const Options& options = invocation.options;
  absl::StatusOr<v1::JobSpec> job = ReadJobFile(invocation.args[0], *io.in);
  if (!job.ok()) {
    // Whatever the errno said, a job file that cannot be read or parsed is
    // the user's input to fix, never an unreachable server.
    *io.err << "dagctl: " << job.status().message() << "\n";
    return kExitUsage;
  }
  v1::SubmitJobRequest request;
  *request.mutable_job() = *std::move(job);
  // Always an id: the Client sends a submission again only with one.
  request.set_request_id(!options.request_id.empty() || !io.new_request_id
                             ? options.request_id
                             : io.new_request_id());
  bool lost = false;
  const ConnectionCallback on_lost =
      ConnectionLines(invocation, io,
                      absl::StrCat("sending the job again with request id ",
                                   request.request_id()),
                      "--timeout", [&lost] { lost = true; });
  absl::StatusOr<v1::SubmitJobResponse> response =
      client.SubmitJob(request, on_lost);
  if (!response.ok()) {
    const int code = Fail(response.status(), invocation, io);
    if (code == kExitUnreachable && !request.request_id().empty() &&
        (lost || absl::IsDeadlineExceeded(response.status()))) {
      *io.err << "dagctl: dagd may have taken the job; to find out without "
                 "submitting it twice, submit again with --request_id="
              << request.request_id() << "\n";
    }
    return code;
  }
  // The id goes out before waiting, alone on its line, so a script can read
  // it while the job runs.
  *io.out << (options.json ? ToJson(*response) : response->job_id()) << "\n";
  io.out->flush();
  // After a lost try, `existing` may be that try's own job: nothing to say.
  if (response->existing() && !options.json && !lost &&
      !options.request_id.empty()) {
    *io.err << "dagctl: request id " << options.request_id
            << " was already submitted; this is that job\n";
  }
  if (!options.wait) return kExitOk;
  absl::StatusOr<v1::JobStatus> final_status = client.Wait(
      response->job_id(),
      ConnectionLines(invocation, io,
                      absl::StrCat("waiting for job ", response->job_id()),
                      "--reconnect_timeout"));
  if (!final_status.ok()) {
    return Fail(final_status.status(), invocation, io, "--reconnect_timeout");
  }
  return ReportOutcome(*final_status, io, options.json);
}

int RunStatus(const Invocation& invocation, Client& client, const Io& io) {
  absl::StatusOr<v1::JobStatus> status = client.Get(invocation.args[0]);
  if (!status.ok()) return Fail(status.status(), invocation, io);
  *io.out << (invocation.options.json ? ToJson(*status) + "\n"
                                      : FormatJobStatus(*status, io.now()));
  return ExitCodeForJobState(status->state());
}

// On a terminal: a progress bar with an ETA, redrawn in place.
std::string TerminalProgressLine(const ProgressTracker& tracker,
                                 uint32_t done_at_start, absl::Time start,
                                 absl::Time now) {
  const Progress progress = tracker.progress();
  return FormatProgressBar(
      progress, JobElapsed(tracker.status(), now),
      EstimateRemaining(progress, done_at_start, start, now));
}

int RunWatch(const Invocation& invocation, Client& client, const Io& io) {
  const bool json = invocation.options.json;
  const bool redraw = io.out_is_terminal && !json;
  const absl::Time start = io.now();
  ProgressTracker tracker;
  // Tasks done when the first event (the snapshot) came: the ETA counts
  // only what finished while we watched.
  std::optional<uint32_t> done_at_start;
  bool drew = false;
  auto on_event = [&](const v1::JobEvent& event) {
    if (json) {
      *io.out << ToJson(event) << "\n";
      io.out->flush();
      return;
    }
    const bool changed = tracker.Apply(event);
    if (!done_at_start.has_value()) done_at_start = tracker.progress().done;
    // The final state is printed by ReportOutcome; a progress line for it
    // would say the same twice.
    if (!changed || event.has_finished()) return;
    const absl::Time now = io.now();
    if (redraw) {
      // "\033[K" clears what a longer previous line left behind.
      *io.out << "\r"
              << TerminalProgressLine(tracker, *done_at_start, start, now)
              << "\033[K";
    } else {
      *io.out << FormatProgress(tracker.progress(),
                                JobElapsed(tracker.status(), now))
              << "\n";
    }
    io.out->flush();
    drew = true;
  };
  // A line about dagd on stderr must not land in the middle of the bar.
  auto end_bar = [&] {
    if (!redraw || !drew) return;
    *io.out << "\n";
    io.out->flush();
    drew = false;
  };
  absl::StatusOr<v1::JobStatus> final_status = client.Watch(
      invocation.args[0], on_event,
      ConnectionLines(invocation, io, "", "--reconnect_timeout", end_bar));
  end_bar();
  if (!final_status.ok()) {
    return Fail(final_status.status(), invocation, io, "--reconnect_timeout");
  }
  if (json) return ExitCodeForJobState(final_status->state());
  return ReportOutcome(*final_status, io, /*json=*/false);
}

int RunCancel(const Invocation& invocation, Client& client, const Io& io) {
  const std::string& job_id = invocation.args[0];
  absl::StatusOr<v1::CancelJobResponse> response = client.Cancel(job_id);
  if (!response.ok()) return Fail(response.status(), invocation, io);
  *io.out << (invocation.options.json ? ToJson(*response) + "\n"
                                      : FormatCancel(job_id, *response));
  return kExitOk;
}

int RunDelete(const Invocation& invocation, Client& client, const Io& io) {
  const std::string& job_id = invocation.args[0];
  absl::Status deleted = client.DeleteJob(job_id);
  if (!deleted.ok()) return Fail(deleted, invocation, io);
  *io.out << (invocation.options.json
                  ? ToJson(v1::DeleteJobResponse()) + "\n"
                  : absl::StrCat("deleted job ", job_id, "\n"));
  return kExitOk;
}

int RunResult(const Invocation& invocation, Client& client, const Io& io) {
  if (invocation.options.json) {
    absl::StatusOr<v1::GetResultResponse> response =
        client.Result(invocation.args[0], invocation.args[1]);
    if (!response.ok()) return Fail(response.status(), invocation, io);
    *io.out << ToJson(*response) << "\n";
    return kExitOk;
  }
  // The bytes exactly, with no newline added, as they arrive: `dagctl
  // result ... > file` must reproduce the task's output, whatever its size.
  bool wrote = false;
  absl::Status read = client.ReadResult(
      invocation.args[0], invocation.args[1],
      [&io, &wrote](const v1::ResultChunk& chunk) {
        wrote = true;
        io.out->write(chunk.data().data(),
                      static_cast<std::streamsize>(chunk.data().size()));
        return io.out->good() ? absl::OkStatus()
                              : absl::DataLossError("cannot write the result");
      });
  if (absl::IsUnimplemented(read) && !wrote) {
    // A dagd from before ReadResult: the one-message call.
    absl::StatusOr<v1::GetResultResponse> response =
        client.Result(invocation.args[0], invocation.args[1]);
    if (!response.ok()) return Fail(response.status(), invocation, io);
    io.out->write(response->data().data(),
                  static_cast<std::streamsize>(response->data().size()));
    return kExitOk;
  }
  if (!read.ok()) return Fail(read, invocation, io);
  return kExitOk;
}

int RunJobs(const Invocation& invocation, Client& client, const Io& io) {
  const Options& options = invocation.options;
  v1::ListJobsResponse all;
  std::string token = options.page_token;
  do {
    absl::StatusOr<v1::ListJobsResponse> page =
        client.ListJobs(options.page_size, token);
    if (!page.ok()) return Fail(page.status(), invocation, io);
    all.mutable_jobs()->MergeFrom(page->jobs());
    token = page->next_page_token();
  } while (options.all_pages && !token.empty());
  all.set_next_page_token(token);
  if (options.json) {
    *io.out << ToJson(all) << "\n";
    return kExitOk;
  }
  *io.out << FormatJobsTable({all.jobs().begin(), all.jobs().end()});
  if (!token.empty()) {
    *io.err << "more jobs: dagctl jobs --page_token=" << token
            << " (or --all)\n";
  }
  return kExitOk;
}

int RunTasks(const Invocation& invocation, Client& client, const Io& io) {
  absl::StatusOr<v1::ListTasksResponse> response =
      client.ListTasks(invocation.args[0]);
  if (!response.ok()) return Fail(response.status(), invocation, io);
  *io.out << (invocation.options.json ? ToJson(*response) + "\n"
                                      : FormatTasks(*response));
  return kExitOk;
}

// -o json is rejected by ParseArgs: DOT is the only output.
int RunGraph(const Invocation& invocation, Client& client, const Io& io) {
  const std::string& job_id = invocation.args[0];
  absl::StatusOr<v1::ListTasksResponse> response = client.ListTasks(job_id);
  if (!response.ok()) return Fail(response.status(), invocation, io);
  *io.out << FormatDot(job_id, *response);
  const int tasks = response->tasks_size();
  if (tasks > kLargeGraphTasks) {
    *io.err << "dagctl: note: job " << job_id << " has " << tasks
            << " tasks; dot may take minutes to lay it out (sfdp -Tsvg is "
               "faster on large graphs)\n";
  }
  return kExitOk;
}

int RunWorkers(const Invocation& invocation, Client& client, const Io& io) {
  absl::StatusOr<v1::ListWorkersResponse> response = client.ListWorkers();
  if (!response.ok()) return Fail(response.status(), invocation, io);
  *io.out << (invocation.options.json ? ToJson(*response) + "\n"
                                      : FormatWorkersTable(*response));
  return kExitOk;
}

}  // namespace

int RunCommand(const Invocation& invocation, Client& client, const Io& io) {
  using Command = int (*)(const Invocation&, Client&, const Io&);
  static constexpr struct {
    absl::string_view name;
    Command run;
  } kCommands[] = {
      {"submit", RunSubmit},   {"status", RunStatus}, {"watch", RunWatch},
      {"cancel", RunCancel},   {"delete", RunDelete}, {"result", RunResult},
      {"jobs", RunJobs},       {"tasks", RunTasks},   {"graph", RunGraph},
      {"workers", RunWorkers},
  };
  for (const auto& command : kCommands) {
    if (command.name == invocation.command) {
      return command.run(invocation, client, io);
    }
  }
  *io.err << "dagctl: unknown command \"" << invocation.command
          << "\"; run 'dagctl --help'\n";
  return kExitUsage;
}

}  // namespace dagd::dagctl
