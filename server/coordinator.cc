#include "server/coordinator.h"

#include <algorithm>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/time_util.h"
#include "server/log.h"

namespace dagd {
namespace {

using google::protobuf::util::TimeUtil;

constexpr uint32_t kDefaultPageSize = 100;
constexpr uint32_t kMaxPageSize = 1000;

bool IsFinal(v1::JobState state) {
  return state == v1::JOB_SUCCEEDED || state == v1::JOB_FAILED ||
         state == v1::JOB_CANCELLED;
}

std::function<double()> MakeRandom() {
  auto gen = std::make_shared<absl::BitGen>();
  return [gen] { return absl::Uniform(*gen, 0.0, 1.0); };
}

}  // namespace

Coordinator::Coordinator(CoordinatorOptions options, MetaStore* store,
                         Clock* clock)
    : options_(std::move(options)),
      store_(store),
      clock_(clock),
      scheduler_(options_.scheduler, clock, MakeRandom()) {}

Coordinator::~Coordinator() { Stop(); }

absl::Status Coordinator::Start() {
  absl::StatusOr<uint64_t> next = store_->NextJobSeq();
  if (!next.ok()) return next.status();
  next_seq_ = *next;
  // Recovery first: a start that fails on a damaged store writes nothing.
  if (absl::Status s = Recover(); !s.ok()) return s;
  absl::StatusOr<uint64_t> incarnation = store_->StartIncarnation();
  if (!incarnation.ok()) return incarnation.status();
  next_worker_id_ = (*incarnation << 32) + 1;
  absl::StatusOr<std::string> store_id = store_->StoreId();
  if (!store_id.ok()) return store_id.status();
  store_id_ = *std::move(store_id);
  last_sync_ = clock_->Now();
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

absl::Status Coordinator::Recover() {
  absl::StatusOr<std::vector<StoredJob>> jobs = store_->LoadUnfinishedJobs();
  if (!jobs.ok()) return jobs.status();
  // Limits may have shrunk since the job was accepted; it is run anyway.
  JobLimits unlimited;
  unlimited.max_tasks_per_job = UINT32_MAX;
  unlimited.max_job_bytes = UINT64_MAX;
  // Lambda tasks of a dagd restarted without Lambda wait, saying why.
  unlimited.lambda = true;
  for (StoredJob& stored : *jobs) {
    absl::StatusOr<CompiledJob> job =
        CompileJob(std::move(stored.spec), unlimited);
    if (!job.ok()) {
      return absl::DataLossError(
          absl::StrCat("stored job ", JobIdFromSeq(stored.seq),
                       " does not compile: ", job.status().message()));
    }
    absl::flat_hash_map<uint32_t, StoredResult> results;
    for (const auto& [index, task] : stored.task_statuses) {
      if (task.state() != v1::TASK_SUCCEEDED) continue;
      absl::StatusOr<StoredResult> result =
          store_->GetResult(stored.seq, index);
      if (!result.ok()) return result.status();
      results.emplace(index, *std::move(result));
    }
    scheduler_.RestoreJob(stored.seq, *std::move(job), std::move(stored.status),
                          stored.task_statuses, std::move(results));
  }
  if (!jobs->empty()) {
    LOG(INFO) << "recovered " << jobs->size() << " unfinished job(s)";
  }
  return absl::OkStatus();
}

void Coordinator::CloseStreams() {
  Post([this] {
    const absl::Status stopping =
        absl::UnavailableError("dagd is shutting down");
    for (auto& [id, dispatcher] : dispatchers_) dispatcher->Close(stopping);
    for (auto& [seq, watchers] : watchers_) {
      for (auto& watcher : watchers) watcher.sink->Fail(stopping);
    }
    watchers_.clear();
  });
}

void Coordinator::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    wake_.Signal();
  }
  if (thread_.joinable()) thread_.join();
}

void Coordinator::SetTurnObserver(
    std::function<void(const TurnStats&)> observer) {
  observer_ = std::move(observer);
}

void Coordinator::SetFatalHandler(
    std::function<void(const absl::Status&)> on_fatal) {
  on_fatal_ = std::move(on_fatal);
}

void Coordinator::Post(Event event) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(std::move(event));
  if (queue_.size() == 1) wake_.Signal();
}

void Coordinator::Run() {
  std::vector<Event> events;
  // A first turn schedules what recovery brought back.
  RunTurn(events);
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      while (queue_.empty() && !stopping_) {
        // After a failed commit nothing is scheduled: wait for events only.
        std::optional<absl::Time> wakeup;
        if (fatal_.ok()) wakeup = scheduler_.NextWakeup();
        if (unsynced_ && fatal_.ok()) {
          absl::Time sync_at = last_sync_ + options_.sync_interval;
          if (!wakeup || sync_at < *wakeup) wakeup = sync_at;
        }
        if (!wakeup) {
          wake_.Wait(&mu_);
        } else if (wake_.WaitWithDeadline(&mu_, *wakeup)) {
          break;  // the deadline passed
        }
      }
      events.swap(queue_);
      if (stopping_ && events.empty()) break;
    }
    RunTurn(events);
    events.clear();
  }
  // A last turn makes everything so far durable.
  force_sync_ = true;
  std::vector<Event> none;
  RunTurn(none);
}

void Coordinator::AfterCommit(
    absl::AnyInvocable<void(const absl::Status&)> fn) {
  after_commit_.push_back(std::move(fn));
}

void Coordinator::RunTurn(std::vector<Event>& events) {
  const absl::Time start = clock_->Now();
  TurnStats stats;
  stats.events = events.size();
  for (Event& event : events) event();
  TurnOutput out;
  if (fatal_.ok()) {
    scheduler_.Tick();
    scheduler_.Schedule();
    out = scheduler_.TakeOutput();
    stats.submitted_jobs = submitted_.new_jobs.size();
    // New jobs go first in the batch: their later status updates follow.
    out.writes.new_jobs = std::move(submitted_.new_jobs);
    submitted_ = WriteSet();
    // Reset every turn, whatever else decides the sync.
    const bool acks_submission = std::exchange(turn_acks_submission_, false);
    stats.deleted_jobs = std::exchange(turn_deleted_jobs_, 0);
    const bool sync =
        out.sync || acks_submission || stats.deleted_jobs > 0 || force_sync_ ||
        (unsynced_ && start - last_sync_ >= options_.sync_interval);
    if (!out.writes.empty() || sync) {
      const absl::Time commit_start = clock_->Now();
      absl::Status committed =
          store_->Commit(out.writes, sync, &stats.commit_bytes);
      stats.committed = true;
      stats.commit_duration = clock_->Now() - commit_start;
      if (!committed.ok()) {
        fatal_ = absl::UnavailableError(
            absl::StrCat("dagd stopped serving: a store write failed: ",
                         committed.message()));
        LOG(ERROR) << fatal_.message();
        if (on_fatal_) on_fatal_(fatal_);
      } else if (sync) {
        stats.synced = true;
        last_sync_ = start;
        unsynced_ = false;
      } else {
        unsynced_ = true;
      }
    }
  }
  turn_requests_.clear();
  std::vector<absl::AnyInvocable<void(const absl::Status&)>> replies;
  replies.swap(after_commit_);
  for (auto& reply : replies) reply(fatal_);
  if (!fatal_.ok()) return;
  CollectStats(out, stats);
  LogTurn(out);
  Deliver(out);
  if (observer_) {
    stats.counts = scheduler_.Counts();
    stats.duration = clock_->Now() - start;
    observer_(stats);
  }
}

void Coordinator::CollectStats(TurnOutput& out, TurnStats& stats) {
  for (const auto& [seq, status] : out.writes.job_statuses) {
    if (IsFinal(status.state())) {
      stats.finished_jobs.push_back(status.state());
    }
  }
  for (const WriteSet::TaskWrite& task : out.writes.task_statuses) {
    ++stats.tasks_finished[task.status.state()];
  }
  stats.run_times = std::move(out.run_times);
  stats.queue_waits = std::move(out.queue_waits);
  stats.worker_registrations = turn_registrations_;
  turn_registrations_ = 0;
}

// One line per job accepted or finished and per task that failed for good.
void Coordinator::LogTurn(const TurnOutput& out) {
  for (const WriteSet::NewJob& job : out.writes.new_jobs) {
    LOG(INFO).Job(job.status.job_id())
        << "job accepted: '" << job.spec.name() << "', "
        << job.spec.tasks_size() << " tasks";
  }
  for (const WriteSet::TaskWrite& task : out.writes.task_statuses) {
    if (task.status.state() != v1::TASK_FAILED) continue;
    LOG(WARNING).Job(task.status.job_id()).Task(task.status.task_id())
        << "task failed for good: " << task.status.error();
  }
  for (const auto& [seq, status] : out.writes.job_statuses) {
    if (IsFinal(status.state())) {
      LOG(INFO).Job(status.job_id())
          << "job finished: " << v1::JobState_Name(status.state());
    }
  }
}

void Coordinator::Deliver(TurnOutput& out) {
  for (auto& [id, batch] : out.sends) {
    auto it = dispatchers_.find(id);
    if (it == dispatchers_.end()) continue;
    v1::CoordinatorMessage message;
    *message.mutable_batch() = std::move(batch);
    it->second->Send(std::move(message));
  }
  for (auto& [seq, event] : out.events) {
    auto it = watchers_.find(seq);
    if (it == watchers_.end()) continue;
    for (auto& watcher : it->second) {
      if (event.has_task() && watcher.end_only) continue;
      watcher.sink->Send(event);
    }
    if (event.has_finished()) watchers_.erase(it);
  }
  for (WorkerId id : out.timed_out_workers) {
    auto it = dispatchers_.find(id);
    if (it == dispatchers_.end()) continue;
    LOG(WARNING) << "worker " << WorkerIdName(id)
                 << " missed its heartbeats; declared lost";
    it->second->Close(absl::UnavailableError(
        "this worker missed its heartbeats and was declared lost"));
    dispatchers_.erase(it);
  }
}

absl::StatusOr<uint64_t> Coordinator::ParseJobId(
    const std::string& job_id) const {
  std::optional<uint64_t> seq = SeqFromJobId(job_id);
  if (!seq) return absl::NotFoundError(absl::StrCat("no job '", job_id, "'"));
  return *seq;
}

// ---- Submission -----------------------------------------------------------

namespace {

// Answers a SubmitJob that asked to wait: with the job's final status when
// it ends, or with the error that ends the wait. Called on the loop thread
// only, like every WatchSink.
class SubmitReplySink : public WatchSink {
 public:
  SubmitReplySink(v1::SubmitJobResponse response,
                  Coordinator::Reply<v1::SubmitJobResponse> done)
      : response_(std::move(response)), done_(std::move(done)) {}

  void Send(v1::JobEvent event) override {
    if (!event.has_finished() || !done_) return;
    *response_.mutable_final_status() = std::move(*event.mutable_finished());
    std::exchange(done_, nullptr)(std::move(response_));
  }
  void Fail(absl::Status status) override {
    if (done_) std::exchange(done_, nullptr)(std::move(status));
  }

 private:
  v1::SubmitJobResponse response_;
  Coordinator::Reply<v1::SubmitJobResponse> done_;
};

}  // namespace

void Coordinator::Submit(v1::SubmitJobRequest request,
                         Reply<v1::SubmitJobResponse> done) {
  // Compiling is pure and can be slow for big jobs: it stays off the loop.
  absl::StatusOr<CompiledJob> job =
      CompileJob(std::move(*request.mutable_job()), options_.limits);
  if (!job.ok()) {
    done(job.status());
    return;
  }
  Post([this, request = std::move(request), job = *std::move(job),
        done = std::move(done)]() mutable {
    DoSubmit(std::move(request), std::move(job), std::move(done));
  });
}

void Coordinator::DoSubmit(v1::SubmitJobRequest request, CompiledJob job,
                           Reply<v1::SubmitJobResponse> done) {
  if (!fatal_.ok()) return done(fatal_);
  const std::string& request_id = request.request_id();
  if (!request_id.empty()) {
    std::optional<uint64_t> existing;
    if (auto it = turn_requests_.find(request_id); it != turn_requests_.end()) {
      existing = it->second;
    } else {
      absl::StatusOr<std::optional<uint64_t>> found =
          store_->FindRequest(request_id);
      if (!found.ok()) return done(found.status());
      existing = *found;
    }
    if (existing) {
      v1::SubmitJobResponse response;
      response.set_job_id(JobIdFromSeq(*existing));
      response.set_existing(true);
      if (request.wait()) {
        return DoWatch(
            response.job_id(), /*end_only=*/true,
            std::make_shared<SubmitReplySink>(response, std::move(done)));
      }
      // An acknowledgement: the job may have been written unsynced (its
      // first request waits for its end), so this turn syncs.
      turn_acks_submission_ = true;
      AfterCommit(
          [response, done = std::move(done)](const absl::Status& s) mutable {
            if (!s.ok()) return done(s);
            done(response);
          });
      return;
    }
  }
  const uint64_t seq = next_seq_++;
  v1::JobStatus status;
  status.set_job_id(JobIdFromSeq(seq));
  status.set_name(job.spec.name());
  status.set_priority(job.spec.priority());
  status.set_state(v1::JOB_PENDING);
  status.set_total_tasks(job.size());
  status.set_request_id(request_id);
  *status.mutable_submitted_at() =
      TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(clock_->Now()));
  WriteSet::NewJob& record = submitted_.new_jobs.emplace_back();
  record.seq = seq;
  record.spec = job.spec;
  record.status = status;
  record.request_id = request_id;
  if (!request_id.empty()) turn_requests_[request_id] = seq;
  scheduler_.AddJob(seq, std::move(job), std::move(status));
  if (request.wait()) {
    // Answered at the job's end, whose fsync covers this submission too.
    const std::string job_id = JobIdFromSeq(seq);
    v1::SubmitJobResponse response;
    response.set_job_id(job_id);
    return DoWatch(job_id, /*end_only=*/true,
                   std::make_shared<SubmitReplySink>(std::move(response),
                                                     std::move(done)));
  }
  turn_acks_submission_ = true;
  AfterCommit([seq, done = std::move(done)](const absl::Status& s) mutable {
    if (!s.ok()) return done(s);
    v1::SubmitJobResponse response;
    response.set_job_id(JobIdFromSeq(seq));
    done(response);
  });
}

// ---- Queries --------------------------------------------------------------

template <typename T>
void Coordinator::AnswerAfterCommit(absl::StatusOr<T> result, Reply<T> done) {
  AfterCommit([result = std::move(result),
               done = std::move(done)](const absl::Status& s) mutable {
    if (!s.ok()) return done(s);
    done(std::move(result));
  });
}

void Coordinator::GetJob(std::string job_id, Reply<v1::JobStatus> done) {
  Post([this, job_id = std::move(job_id), done = std::move(done)]() mutable {
    AnswerAfterCommit(QueryJob(job_id), std::move(done));
  });
}

absl::StatusOr<v1::JobStatus> Coordinator::QueryJob(const std::string& job_id) {
  absl::StatusOr<uint64_t> seq = ParseJobId(job_id);
  if (!seq.ok()) return seq.status();
  if (std::optional<v1::JobStatus> live = scheduler_.JobStatusOf(*seq)) {
    return *std::move(live);
  }
  absl::StatusOr<v1::JobStatus> stored = store_->GetJobStatus(*seq);
  if (absl::IsNotFound(stored.status())) {
    return absl::NotFoundError(absl::StrCat("no job '", job_id, "'"));
  }
  return stored;
}

void Coordinator::ListJobs(v1::ListJobsRequest request,
                           Reply<v1::ListJobsResponse> done) {
  Post([this, request = std::move(request), done = std::move(done)]() mutable {
    AnswerAfterCommit(QueryJobs(request), std::move(done));
  });
}

absl::StatusOr<v1::ListJobsResponse> Coordinator::QueryJobs(
    const v1::ListJobsRequest& request) {
  uint64_t before = UINT64_MAX;
  if (!request.page_token().empty() &&
      !absl::SimpleAtoi(request.page_token(), &before)) {
    return absl::InvalidArgumentError(
        "page_token: not a token that ListJobs returned");
  }
  uint32_t size =
      request.page_size() == 0 ? kDefaultPageSize : request.page_size();
  size = std::min(size, kMaxPageSize);
  absl::StatusOr<std::vector<v1::JobStatus>> jobs =
      store_->ListJobStatuses(before, size + 1);
  if (!jobs.ok()) return jobs.status();
  v1::ListJobsResponse response;
  for (size_t i = 0; i < jobs->size() && i < size; ++i) {
    const v1::JobStatus& stored = (*jobs)[i];
    uint64_t seq = SeqFromJobId(stored.job_id()).value_or(0);
    std::optional<v1::JobStatus> live = scheduler_.JobStatusOf(seq);
    *response.add_jobs() = live ? *std::move(live) : stored;
  }
  if (jobs->size() > size) {
    response.set_next_page_token(absl::StrCat(
        SeqFromJobId(response.jobs(size - 1).job_id()).value_or(0)));
  }
  return response;
}

absl::StatusOr<uint32_t> Coordinator::FindStoredTask(
    uint64_t seq, const std::string& task_id) {
  absl::StatusOr<uint32_t> index = store_->FindTaskIndex(seq, task_id);
  if (!absl::IsNotFound(index.status())) return index;
  if (!store_->GetJobStatus(seq).ok()) {
    return absl::NotFoundError(
        absl::StrCat("no job '", JobIdFromSeq(seq), "'"));
  }
  return absl::NotFoundError(absl::StrCat("job '", JobIdFromSeq(seq),
                                          "' has no task '", task_id, "'"));
}

void Coordinator::GetTask(std::string job_id, std::string task_id,
                          Reply<v1::TaskStatus> done) {
  Post([this, job_id = std::move(job_id), task_id = std::move(task_id),
        done = std::move(done)]() mutable {
    AnswerAfterCommit(QueryTask(job_id, task_id), std::move(done));
  });
}

absl::StatusOr<v1::TaskStatus> Coordinator::QueryTask(
    const std::string& job_id, const std::string& task_id) {
  absl::StatusOr<uint64_t> seq = ParseJobId(job_id);
  if (!seq.ok()) return seq.status();
  if (scheduler_.HasJob(*seq)) return scheduler_.TaskStatusOf(*seq, task_id);
  absl::StatusOr<uint32_t> index = FindStoredTask(*seq, task_id);
  if (!index.ok()) return index.status();
  return StoredTaskStatus(*seq, *index, store_->GetTaskStatus(*seq, *index));
}

absl::StatusOr<v1::TaskStatus> Coordinator::StoredTaskStatus(
    uint64_t seq, uint32_t index, absl::StatusOr<v1::TaskStatus> status) {
  if (!status.ok()) return status;
  absl::StatusOr<v1::TaskSpec> spec = store_->GetTaskSpec(seq, index);
  if (!spec.ok()) return spec.status();
  CopyDependencies(*spec, &*status);
  return status;
}

void Coordinator::ListTasks(std::string job_id,
                            Reply<v1::ListTasksResponse> done) {
  Post([this, job_id = std::move(job_id), done = std::move(done)]() mutable {
    AnswerAfterCommit(QueryTasks(job_id), std::move(done));
  });
}

absl::StatusOr<v1::ListTasksResponse> Coordinator::QueryTasks(
    const std::string& job_id) {
  absl::StatusOr<uint64_t> seq = ParseJobId(job_id);
  if (!seq.ok()) return seq.status();
  v1::ListTasksResponse response;
  if (auto live = scheduler_.TaskStatusesOf(*seq)) {
    for (auto& task : *live) *response.add_tasks() = std::move(task);
    return response;
  }
  if (!store_->GetJobStatus(*seq).ok()) {
    return absl::NotFoundError(absl::StrCat("no job '", job_id, "'"));
  }
  auto stored = store_->ListTaskStatuses(*seq);
  if (!stored.ok()) return stored.status();
  for (auto& [index, task] : *stored) {
    absl::StatusOr<v1::TaskStatus> status =
        StoredTaskStatus(*seq, index, std::move(task));
    if (!status.ok()) return status.status();
    *response.add_tasks() = *std::move(status);
  }
  return response;
}

void Coordinator::GetResult(std::string job_id, std::string task_id,
                            Reply<v1::GetResultResponse> done) {
  Post([this, job_id = std::move(job_id), task_id = std::move(task_id),
        done = std::move(done)]() mutable {
    absl::StatusOr<StoredResult> result = LookUpResult(job_id, task_id);
    if (!result.ok() || result->ref == nullptr) {
      return AnswerAfterCommit(ToResultResponse(std::move(result)),
                               std::move(done));
    }
    if (result->ref->size() > kMaxGetResultBytes) {
      // Read whole, it would sit in dagd's memory, and over 2 GiB it cannot
      // be one message at all.
      return AnswerAfterCommit<v1::GetResultResponse>(
          absl::FailedPreconditionError(absl::StrCat(
              "the result of task '", task_id, "' is ", result->ref->size(),
              " bytes, more than GetResult answers in one message (",
              kMaxGetResultBytes,
              "): read it with ReadResult (dagctl result)")),
          std::move(done));
    }
    // Read once the result is stored: an answer never shows more than a
    // restart would keep.
    AfterCommit([objects = objects_, ref = *result->ref,
                 done = std::move(done)](const absl::Status& s) mutable {
      if (!s.ok()) return done(s);
      objects->Read(
          std::move(ref), [done = std::move(done)](
                              absl::StatusOr<StoredObject> object) mutable {
            if (!object.ok()) return done(object.status());
            done(ToResultResponse(StoredResult{std::move(object->data),
                                               std::move(object->content_type),
                                               nullptr}));
          });
    });
  });
}

void Coordinator::OpenResult(std::string job_id, std::string task_id,
                             Reply<StoredResult> done) {
  Post([this, job_id = std::move(job_id), task_id = std::move(task_id),
        done = std::move(done)]() mutable {
    AnswerAfterCommit(LookUpResult(job_id, task_id), std::move(done));
  });
}

absl::StatusOr<StoredResult> Coordinator::LookUpResult(
    const std::string& job_id, const std::string& task_id) {
  absl::StatusOr<StoredResult> result = QueryResult(job_id, task_id);
  if (result.ok() && result->ref != nullptr && objects_ == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("the result of task '", task_id, "' is kept in bucket '",
                     result->ref->bucket(), "' at '", result->ref->key(),
                     "', but dagd runs without an object store (--s3_bucket)"));
  }
  return result;
}

absl::StatusOr<v1::GetResultResponse> Coordinator::ToResultResponse(
    absl::StatusOr<StoredResult> result) {
  if (!result.ok()) return result.status();
  v1::GetResultResponse response;
  response.set_data(std::move(result->data));
  response.set_content_type(std::move(result->content_type));
  return response;
}

absl::StatusOr<StoredResult> Coordinator::QueryResult(
    const std::string& job_id, const std::string& task_id) {
  absl::StatusOr<uint64_t> seq = ParseJobId(job_id);
  if (!seq.ok()) return seq.status();
  absl::StatusOr<StoredResult> result;
  if (scheduler_.HasJob(*seq)) {
    result = scheduler_.ResultOf(*seq, task_id);
  } else {
    absl::StatusOr<uint32_t> index = FindStoredTask(*seq, task_id);
    if (!index.ok()) return index.status();
    result = store_->GetResult(*seq, *index);
    if (absl::IsNotFound(result.status())) {
      auto task = store_->GetTaskStatus(*seq, *index);
      return absl::NotFoundError(absl::StrCat(
          "task '", task_id, "' has no result: it is ",
          task.ok() ? v1::TaskState_Name(task->state()) : "unknown"));
    }
  }
  return result;
}

void Coordinator::Cancel(std::string job_id,
                         Reply<v1::CancelJobResponse> done) {
  Post([this, job_id = std::move(job_id), done = std::move(done)]() mutable {
    AnswerAfterCommit(DoCancel(job_id), std::move(done));
  });
}

absl::StatusOr<v1::CancelJobResponse> Coordinator::DoCancel(
    const std::string& job_id) {
  absl::StatusOr<uint64_t> seq = ParseJobId(job_id);
  if (!seq.ok()) return seq.status();
  if (scheduler_.HasJob(*seq)) return scheduler_.CancelJob(*seq);
  absl::StatusOr<v1::JobStatus> stored = store_->GetJobStatus(*seq);
  if (!stored.ok()) {
    return absl::NotFoundError(absl::StrCat("no job '", job_id, "'"));
  }
  v1::CancelJobResponse response;
  response.set_state(stored->state());
  response.set_cancelled(false);
  return response;
}

void Coordinator::DeleteJob(std::string job_id,
                            Reply<v1::DeleteJobResponse> done) {
  Post([this, job_id = std::move(job_id), done = std::move(done)]() mutable {
    AnswerAfterCommit(DoDelete(job_id), std::move(done));
  });
}

absl::StatusOr<v1::DeleteJobResponse> Coordinator::DoDelete(
    const std::string& job_id) {
  if (!fatal_.ok()) return fatal_;
  absl::StatusOr<uint64_t> seq = ParseJobId(job_id);
  if (!seq.ok()) return seq.status();
  const std::string cancel_first =
      absl::StrCat("; cancel it first (dagctl cancel ", job_id, ")");
  if (std::optional<v1::JobStatus> live = scheduler_.JobStatusOf(*seq)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "job '", job_id, "' is ",
        absl::StripPrefix(v1::JobState_Name(live->state()), "JOB_"),
        ": only a finished job can be deleted", cancel_first));
  }
  absl::StatusOr<std::vector<v1::ObjectRef>> objects =
      store_->ListResultObjects(*seq);
  if (!objects.ok()) return objects.status();
  // Not fsynced here: this turn's commit fsyncs, before the answer.
  absl::Status deleted = store_->DeleteJob(*seq, /*sync=*/false);
  if (absl::IsNotFound(deleted)) {
    return absl::NotFoundError(absl::StrCat("no job '", job_id, "'"));
  }
  if (absl::IsFailedPrecondition(deleted)) {
    return absl::FailedPreconditionError(
        absl::StrCat(deleted.message(), cancel_first));
  }
  if (!deleted.ok()) return deleted;
  ++turn_deleted_jobs_;
  LOG(INFO).Job(job_id) << "deleted on request";
  if (!objects->empty()) DeleteObjectsAfterCommit(*std::move(objects));
  return v1::DeleteJobResponse();
}

void Coordinator::DeleteObjectsAfterCommit(std::vector<v1::ObjectRef> refs) {
  if (objects_ == nullptr) {
    LOG(WARNING) << refs.size()
                 << " result object(s) of a deleted job are left in bucket '"
                 << refs.front().bucket()
                 << "': dagd runs without an object store (--s3_bucket)";
    return;
  }
  // Only once the job's records are gone for good: until then a restart
  // would still find them and read its results.
  AfterCommit([objects = objects_,
               refs = std::move(refs)](const absl::Status& s) mutable {
    if (s.ok()) objects->Delete(std::move(refs));
  });
}

void Coordinator::ListWorkers(Reply<v1::ListWorkersResponse> done) {
  Post([this, done = std::move(done)]() mutable {
    v1::ListWorkersResponse response;
    for (auto& worker : scheduler_.Workers()) {
      *response.add_workers() = std::move(worker);
    }
    AnswerAfterCommit<v1::ListWorkersResponse>(std::move(response),
                                               std::move(done));
  });
}

// ---- Watching -------------------------------------------------------------

void Coordinator::Watch(std::string job_id, bool end_only,
                        std::shared_ptr<WatchSink> sink) {
  Post([this, job_id = std::move(job_id), end_only,
        sink = std::move(sink)]() mutable {
    DoWatch(job_id, end_only, std::move(sink));
  });
}

void Coordinator::UpdateWatch(uint64_t seq) {
  Scheduler::Watch watch = Scheduler::Watch::kNone;
  if (auto it = watchers_.find(seq); it != watchers_.end()) {
    for (const Watcher& watcher : it->second) {
      watch = watcher.end_only ? std::max(watch, Scheduler::Watch::kEnd)
                               : Scheduler::Watch::kAllEvents;
    }
  }
  scheduler_.SetWatched(seq, watch);
}

void Coordinator::DoWatch(const std::string& job_id, bool end_only,
                          std::shared_ptr<WatchSink> sink) {
  absl::StatusOr<v1::JobStatus> status = QueryJob(job_id);
  if (!status.ok()) return sink->Fail(status.status());
  const v1::JobState state = status->state();
  if (!IsFinal(state)) {
    const uint64_t seq = *SeqFromJobId(job_id);
    watchers_[seq].push_back(Watcher{sink, end_only});
    UpdateWatch(seq);
    v1::JobEvent snapshot;
    *snapshot.mutable_snapshot() = *std::move(status);
    AfterCommit(
        [sink, snapshot = std::move(snapshot)](const absl::Status& s) mutable {
          if (!s.ok()) return sink->Fail(s);
          sink->Send(std::move(snapshot));
        });
    return;
  }
  // The job has ended: its snapshot and its end, at once.
  AfterCommit([sink, ended = *std::move(status)](const absl::Status& s) {
    if (!s.ok()) return sink->Fail(s);
    v1::JobEvent snapshot;
    *snapshot.mutable_snapshot() = ended;
    sink->Send(std::move(snapshot));
    v1::JobEvent finished;
    *finished.mutable_finished() = ended;
    sink->Send(std::move(finished));
  });
}

void Coordinator::Unwatch(std::shared_ptr<WatchSink> sink) {
  Post([this, sink = std::move(sink)]() {
    for (auto it = watchers_.begin(); it != watchers_.end(); ++it) {
      auto& watchers = it->second;
      const auto gone =
          std::remove_if(watchers.begin(), watchers.end(),
                         [&](const Watcher& w) { return w.sink == sink; });
      if (gone == watchers.end()) continue;
      watchers.erase(gone, watchers.end());
      const uint64_t seq = it->first;
      if (watchers.empty()) watchers_.erase(it);
      UpdateWatch(seq);
      return;
    }
  });
}

}  // namespace dagd
