// Live updates for open dashboard pages, with a cost to the coordinator
// that does not grow with the number of pages:
//   - a job page's stream shares one watch of its job (Coordinator::Watch,
//     as WatchJob is fed, end only: the scheduler makes no event per task
//     for it) with every page of that job, and each tick (every
//     `interval`, 250 ms) asks GetJob once per unfinished watched job and
//     hands the same JSON to its pages when it changed; so a job costs the
//     coordinator 4 GetJobs a second however many tasks it runs and
//     however many pages show it;
//   - the jobs page's streams share one ListJobs of the newest jobs per
//     `jobs_interval` while any is open, sent on only when it changed:
//     one per tenant with open streams (the streams of admins, who see
//     every tenant's jobs, share one of all jobs);
//   - a job's stream shows it only to a caller who sees its tenant (the
//     Dashboard checks that before a page joins the watch; the hub checks
//     it again on every message): to anyone else it is NOT_FOUND, as an
//     unknown job;
//   - each stream holds at most its latest unsent message (a page that
//     reads slowly skips states, it never queues them);
//   - at most `max_streams` streams are open; more are refused, so event
//     streams never hold every HTTP thread (see DashboardHttp).
#ifndef DAGD_SERVER_DASHBOARD_LIVE_HUB_H_
#define DAGD_SERVER_DASHBOARD_LIVE_HUB_H_

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/auth/principal.h"
#include "server/dashboard/dashboard_source.h"
#include "storage/base/clock.h"

namespace dagd {

// One open event stream. Its methods are called by the one thread that
// serves the stream; the hub delivers to it from its tick thread.
class LiveStream {
 public:
  // A server-sent event: `event` is its name ("job", "jobs", "error").
  struct Message {
    std::string event;
    std::string data;   // JSON
    bool last = false;  // the stream ends after it
    int code = 200;     // of an "error": the HTTP code it stands for
  };
  virtual ~LiveStream() = default;
  // The newest message not yet taken, waiting up to `timeout` for one.
  virtual std::optional<Message> Next(absl::Duration timeout) = 0;
};

class LiveHub {
 public:
  struct Options {
    absl::Duration interval = absl::Milliseconds(250);
    absl::Duration jobs_interval = absl::Milliseconds(500);
    size_t max_streams = 32;
    // The jobs page's stream shows this many of the newest jobs.
    uint32_t jobs_page_size = 50;
    // Run the tick thread; tests call Tick() themselves instead.
    bool start_thread = true;
    absl::Duration timeout = absl::Seconds(10);
  };
  // `source` and `clock` are not owned and outlive the hub.
  LiveHub(DashboardSource* source, Clock* clock, Options options);
  // Stop()s. Every stream must be gone before (the HTTP server that holds
  // them is stopped first).
  ~LiveHub();
  // Ends every stream (each gets a last "error" message) and its watch,
  // refuses new ones, and joins the tick thread. Called while the source
  // still answers (before the Coordinator stops). Idempotent.
  void Stop();
  LiveHub(const LiveHub&) = delete;
  LiveHub& operator=(const LiveHub&) = delete;

  // A stream of job `job_id`'s status for `caller`: its first message
  // comes once the coordinator answers the watch (an "error" message, the
  // last, for an unknown or malformed id, or a job of a tenant `caller`
  // does not see). RESOURCE_EXHAUSTED at the stream limit.
  absl::StatusOr<std::unique_ptr<LiveStream>> WatchJob(
      const std::string& job_id, const Principal& caller);
  // A stream of the newest jobs `caller` sees (ListJobs), from the next
  // tick on.
  absl::StatusOr<std::unique_ptr<LiveStream>> WatchJobs(
      const Principal& caller);

  // One round: unfinished watched jobs are read and sent when they
  // changed, and the jobs list when due.
  // Called by the tick thread every `interval`.
  void Tick();

  size_t open_streams() const;
  // Jobs lists kept now (one per tenant with open jobs streams).
  size_t jobs_feeds() const;
  const Options& options() const { return options_; }

 private:
  class Stream;
  class JobSink;
  struct Channel;
  // The jobs streams of one scope and what they were last sent.
  struct JobsFeed {
    std::vector<Stream*> streams;
    std::string last;
    absl::Time next = absl::InfinitePast();
  };

  // From a job's watch, on the coordinator's threads: only recorded here,
  // formatted and sent by the next tick.
  void OnStatus(const std::string& job_id, v1::JobStatus status, bool ended);
  void OnFailed(const std::string& job_id, const absl::Status& status);
  // Sends what the watches recorded since the last tick.
  void PublishJobs();
  void TickJobsList();
  void Close(Stream* stream);
  void Run();

  DashboardSource* const source_;
  Clock* const clock_;
  const Options options_;

  mutable absl::Mutex mu_;
  // Per watched job: its watch and the streams that show it.
  absl::flat_hash_map<std::string, std::unique_ptr<Channel>> channels_
      ABSL_GUARDED_BY(mu_);
  // By the tenant whose jobs they list; "" for every tenant's (admins).
  absl::flat_hash_map<std::string, JobsFeed> feeds_ ABSL_GUARDED_BY(mu_);
  size_t open_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace dagd

#endif  // DAGD_SERVER_DASHBOARD_LIVE_HUB_H_
