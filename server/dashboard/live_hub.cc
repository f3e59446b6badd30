#include "server/dashboard/live_hub.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/dashboard/dashboard_json.h"
#include "storage/write_set.h"

namespace dagd {
namespace {

// Whose jobs a caller's jobs stream lists: "" for every tenant's.
std::string FeedOf(const Principal& caller) {
  return caller.role == Role::kAdmin ? "" : caller.tenant;
}

LiveStream::Message Stopping() {
  return {"error",
          ErrorJson(503, absl::UnavailableError("dagd is stopping"), ""), true,
          503};
}

// What a caller who does not see the job gets: an unknown job's answer.
LiveStream::Message Hidden(const std::string& job_id) {
  return {"error", ErrorJson(404, NoJobError(job_id), "job_id"), true, 404};
}

}  // namespace

// A stream's mailbox: the newest message only.
class LiveHub::Stream : public LiveStream {
 public:
  // A job's stream (`job_id` set) or a jobs stream (of feed `feed`).
  Stream(LiveHub* hub, std::string job_id, Principal caller, std::string feed)
      : hub_(hub),
        job_id_(std::move(job_id)),
        caller_(std::move(caller)),
        feed_(std::move(feed)) {}
  ~Stream() override { hub_->Close(this); }

  std::optional<Message> Next(absl::Duration timeout) override {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(
        absl::Condition(
            +[](std::optional<Message>* m) { return m->has_value(); },
            &pending_),
        timeout);
    std::optional<Message> next = std::move(pending_);
    pending_.reset();
    return next;
  }

  // Replaces what the page has not read yet: it only needs the newest.
  void Deliver(const Message& message) {
    absl::MutexLock lock(&mu_);
    if (ended_) return;
    pending_ = message;
    ended_ = message.last;
  }

  const std::string& job_id() const { return job_id_; }
  const std::string& feed() const { return feed_; }
  const Principal& caller() const { return caller_; }

 private:
  LiveHub* const hub_;
  const std::string job_id_;  // empty: the jobs list
  const Principal caller_;
  const std::string feed_;  // of a jobs stream
  absl::Mutex mu_;
  std::optional<Message> pending_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
};

// The one watch of a job shared by its streams. Lives as long as the
// coordinator holds it; forwards to the hub until detached.
class LiveHub::JobSink : public WatchSink {
 public:
  JobSink(LiveHub* hub, std::string job_id)
      : hub_(hub), job_id_(std::move(job_id)) {}

  void Send(v1::JobEvent event) override {
    absl::MutexLock lock(&mu_);
    if (hub_ == nullptr || event.has_task()) return;
    const bool ended = event.has_finished();
    hub_->OnStatus(job_id_,
                   ended ? std::move(*event.mutable_finished())
                         : std::move(*event.mutable_snapshot()),
                   ended);
  }
  void Fail(absl::Status status) override {
    absl::MutexLock lock(&mu_);
    if (hub_ != nullptr) hub_->OnFailed(job_id_, status);
  }
  // After this returns the hub is never called again.
  void Detach() {
    absl::MutexLock lock(&mu_);
    hub_ = nullptr;
  }

 private:
  absl::Mutex mu_;
  LiveHub* hub_ ABSL_GUARDED_BY(mu_);
  const std::string job_id_;
};

struct LiveHub::Channel {
  std::shared_ptr<JobSink> sink;
  std::vector<Stream*> streams;
  std::optional<v1::JobStatus> status;  // the newest known
  absl::Status failed;                  // the watch failed: unknown job
  bool unpublished = false;             // status or failure not sent yet
  bool ended = false;                   // finished or failed: no more events
  std::optional<LiveStream::Message> last;  // for streams that join
};

LiveHub::LiveHub(DashboardSource* source, Clock* clock, Options options)
    : source_(source), clock_(clock), options_(options) {
  if (options_.start_thread) thread_ = std::thread([this] { Run(); });
}

LiveHub::~LiveHub() { Stop(); }

void LiveHub::Stop() {
  std::vector<std::shared_ptr<JobSink>> sinks;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    for (auto& [tenant, feed] : feeds_) {
      for (Stream* stream : feed.streams) stream->Deliver(Stopping());
    }
    for (auto& [job_id, channel] : channels_) {
      for (Stream* stream : channel->streams) stream->Deliver(Stopping());
      sinks.push_back(channel->sink);
      channel->ended = true;
    }
  }
  if (thread_.joinable()) thread_.join();
  for (auto& sink : sinks) {
    sink->Detach();
    source_->Unwatch(sink);
  }
}

size_t LiveHub::open_streams() const {
  absl::MutexLock lock(&mu_);
  return open_;
}

size_t LiveHub::jobs_feeds() const {
  absl::MutexLock lock(&mu_);
  return feeds_.size();
}

absl::StatusOr<std::unique_ptr<LiveStream>> LiveHub::WatchJob(
    const std::string& job_id, const Principal& caller) {
  std::shared_ptr<JobSink> watch;
  std::unique_ptr<Stream> stream;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::UnavailableError("dagd is stopping");
    if (open_ >= options_.max_streams) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "too many open event streams (", options_.max_streams,
          "): close a dashboard page, or raise --dashboard_max_streams"));
    }
    ++open_;
    stream = std::make_unique<Stream>(this, job_id, caller, "");
    std::unique_ptr<Channel>& channel = channels_[job_id];
    if (channel == nullptr) {
      channel = std::make_unique<Channel>();
      channel->sink = std::make_shared<JobSink>(this, job_id);
      watch = channel->sink;
    } else if (channel->last) {
      stream->Deliver(channel->status && !caller.Sees(channel->status->tenant())
                          ? Hidden(job_id)
                          : *channel->last);
    }
    channel->streams.push_back(stream.get());
  }
  // Outside the lock: a source may answer at once, into OnStatus.
  if (watch != nullptr) source_->Watch(job_id, /*end_only=*/true, watch);
  return stream;
}

absl::StatusOr<std::unique_ptr<LiveStream>> LiveHub::WatchJobs(
    const Principal& caller) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::UnavailableError("dagd is stopping");
  if (open_ >= options_.max_streams) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "too many open event streams (", options_.max_streams,
        "): close a dashboard page, or raise --dashboard_max_streams"));
  }
  ++open_;
  std::string tenant = FeedOf(caller);
  auto stream = std::make_unique<Stream>(this, "", caller, tenant);
  JobsFeed& feed = feeds_[tenant];
  feed.streams.push_back(stream.get());
  if (!feed.last.empty()) stream->Deliver({"jobs", feed.last, false});
  // A new page should not wait for the next round's interval.
  feed.next = absl::InfinitePast();
  return stream;
}

void LiveHub::Close(Stream* stream) {
  std::shared_ptr<JobSink> unwatch;
  {
    absl::MutexLock lock(&mu_);
    --open_;
    if (stream->job_id().empty()) {
      auto it = feeds_.find(stream->feed());
      if (it == feeds_.end()) return;
      std::vector<Stream*>& streams = it->second.streams;
      streams.erase(std::remove(streams.begin(), streams.end(), stream),
                    streams.end());
      if (streams.empty()) feeds_.erase(it);
      return;
    }
    auto it = channels_.find(stream->job_id());
    if (it == channels_.end()) return;
    std::vector<Stream*>& streams = it->second->streams;
    streams.erase(std::remove(streams.begin(), streams.end(), stream),
                  streams.end());
    if (!streams.empty()) return;
    unwatch = std::move(it->second->sink);
    channels_.erase(it);
  }
  unwatch->Detach();
  source_->Unwatch(unwatch);
}

void LiveHub::OnStatus(const std::string& job_id, v1::JobStatus status,
                       bool ended) {
  absl::MutexLock lock(&mu_);
  auto it = channels_.find(job_id);
  if (it == channels_.end()) return;
  Channel& channel = *it->second;
  // A read that answers after the end is older than the end.
  if (channel.ended && !ended) return;
  channel.status = std::move(status);
  channel.unpublished = true;
  channel.ended = channel.ended || ended;
}

void LiveHub::OnFailed(const std::string& job_id, const absl::Status& status) {
  absl::MutexLock lock(&mu_);
  auto it = channels_.find(job_id);
  if (it == channels_.end()) return;
  it->second->failed = status;
  it->second->unpublished = true;
  it->second->ended = true;
}

void LiveHub::Tick() {
  // One GetJob per unfinished watched job, however many pages show it
  // (once its watch has answered: until then it may not exist); answers
  // land in OnStatus.
  std::vector<std::string> changed;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [job_id, channel] : channels_) {
      if (channel->status && !channel->ended) changed.push_back(job_id);
    }
  }
  struct Pending {
    absl::Mutex mu;
    size_t left ABSL_GUARDED_BY(mu) = 0;
    // Set when the tick stopped waiting: a later answer must not touch the
    // hub, which may be gone by then.
    bool abandoned ABSL_GUARDED_BY(mu) = false;
  };
  auto pending = std::make_shared<Pending>();
  {
    absl::MutexLock lock(&pending->mu);
    pending->left = changed.size();
  }
  for (const std::string& job_id : changed) {
    source_->GetJob(
        job_id, [this, pending, job_id](absl::StatusOr<v1::JobStatus> status) {
          absl::MutexLock lock(&pending->mu);
          --pending->left;
          // A failed read is not an end: the next tick asks again.
          if (status.ok() && !pending->abandoned) {
            OnStatus(job_id, *std::move(status), /*ended=*/false);
          }
        });
  }
  {
    absl::MutexLock lock(&pending->mu);
    pending->mu.AwaitWithTimeout(
        absl::Condition(
            +[](size_t* left) { return *left == 0; }, &pending->left),
        options_.timeout);
    pending->abandoned = true;
  }
  PublishJobs();
  TickJobsList();
}

void LiveHub::PublishJobs() {
  absl::MutexLock lock(&mu_);
  for (auto& [job_id, channel] : channels_) {
    if (!channel->unpublished) continue;
    channel->unpublished = false;
    LiveStream::Message message;
    if (!channel->failed.ok()) {
      const int code = HttpCode(channel->failed);
      message = {"error", ErrorJson(code, channel->failed, "job_id"), true,
                 code};
    } else {
      message = {"job", JobJson(*channel->status), channel->ended};
      // Unchanged since the last tick: the pages show it already.
      if (channel->last && channel->last->data == message.data &&
          channel->last->last == message.last) {
        continue;
      }
    }
    for (Stream* stream : channel->streams) {
      const bool hidden = channel->failed.ok() &&
                          !stream->caller().Sees(channel->status->tenant());
      stream->Deliver(hidden ? Hidden(job_id) : message);
    }
    channel->last = std::move(message);
  }
}

void LiveHub::TickJobsList() {
  // One ListJobs per tenant whose list is due, however many pages show it.
  std::vector<std::string> due;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_->Now();
    for (auto& [tenant, feed] : feeds_) {
      if (now < feed.next) continue;
      feed.next = now + options_.jobs_interval;
      due.push_back(tenant);
    }
  }
  for (const std::string& tenant : due) {
    v1::ListJobsRequest request;
    request.set_page_size(options_.jobs_page_size);
    request.set_tenant(tenant);
    absl::StatusOr<v1::ListJobsResponse> jobs =
        AwaitReply<v1::ListJobsResponse>(
            [&](auto done) {
              source_->ListJobs(std::move(request), std::move(done));
            },
            options_.timeout);
    if (!jobs.ok()) continue;  // tried again next round
    std::string json = JobsJson(*jobs);
    absl::MutexLock lock(&mu_);
    auto it = feeds_.find(tenant);  // its pages may have gone meanwhile
    if (it == feeds_.end() || json == it->second.last) continue;
    it->second.last = std::move(json);
    for (Stream* stream : it->second.streams) {
      stream->Deliver({"jobs", it->second.last, false});
    }
  }
}

void LiveHub::Run() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.interval);
      if (stopping_) return;
    }
    Tick();
  }
}

}  // namespace dagd
