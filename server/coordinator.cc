#include "server/coordinator.h"

#include <map>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "proto/states.h"
#include "server/log.h"

namespace dagd {
namespace {

using google::protobuf::util::TimeUtil;

}  // namespace

Coordinator::Coordinator(CoordinatorOptions options, MetaStore* store,
                         Clock* clock, std::function<double()> uniform)
    : options_(std::move(options)),
      store_(store),
      clock_(clock),
      queries_(options_.queries),
      outbox_(options_.max_message_bytes),
      scheduler_(options_.scheduler, clock, std::move(uniform)),
      roster_(options_.scheduler.recovery_grace) {}

Coordinator::~Coordinator() { Stop(); }

absl::Status Coordinator::Start() {
  absl::StatusOr<uint64_t> next = store_->NextJobSeq();
  if (!next.ok()) return next.status();
  next_seq_ = *next;
  reserved_seq_ = *next;
  // Recovery first: a start that fails on a damaged store writes nothing.
  if (absl::Status s = Recover(); !s.ok()) return s;
  absl::StatusOr<StoredRoster> roster = store_->LoadRoster();
  if (!roster.ok()) return roster.status();
  // Before any worker connects with what it held.
  absl::StatusOr<std::string> attempt_key = store_->AttemptKey();
  if (!attempt_key.ok()) return attempt_key.status();
  scheduler_.SetAttemptKey(SipKeyFromBytes(*attempt_key));
  absl::StatusOr<uint64_t> incarnation = store_->StartIncarnation();
  if (!incarnation.ok()) return incarnation.status();
  next_worker_id_ = (*incarnation << 32) + 1;
  RestoreRoster(*std::move(roster), *incarnation);
  absl::StatusOr<std::string> store_id = store_->StoreId();
  if (!store_id.ok()) return store_id.status();
  store_id_ = *std::move(store_id);
  last_sync_ = clock_->Now();
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void Coordinator::RestoreRoster(StoredRoster stored, uint64_t incarnation) {
  roster_.Restore(std::move(stored), incarnation);
  if (!scheduler_.RecoveryHeld()) return;
  if (!roster_.Awaiting()) {
    // No worker was connected: none can come back with work.
    scheduler_.EndRecoveryHold();
  } else if (!roster_.whole()) {
    LOG(INFO) << "recovered jobs wait " << options_.scheduler.recovery_grace
              << " (--recovery_grace): the store does not say which workers "
                 "were connected before the restart";
  } else {
    LOG(INFO) << "recovered jobs wait for " << roster_.awaited()
              << " worker(s) connected before the restart ("
              << roster_.AwaitedNames(3) << "), at most "
              << options_.scheduler.recovery_grace << " (--recovery_grace)";
  }
}

bool Coordinator::TakeRosterWrites(absl::Time now,
                                   WriteSet::RosterWrites& writes) {
  // After Tick: the grace ran out this turn, or recovered jobs were let go
  // when the last worker caught up, or there was no grace at all.
  if (roster_.Awaiting() && !scheduler_.RecoveryHeld()) {
    roster_.GraceEnded(now);
  }
  return roster_.TakeWrites(now, writes);
}

void Coordinator::CaughtUp(WorkerId id) {
  if (!roster_.CaughtUp(id) || !scheduler_.RecoveryHeld()) return;
  LOG(INFO) << "every worker connected before the restart is back and has "
               "reported what it kept; recovered jobs go on";
  scheduler_.EndRecoveryHold();
}

void Coordinator::FailStoredJob(StoredJob& stored, const std::string& why,
                                WriteSet& writes) {
  const auto now =
      TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(clock_->Now()));
  std::vector<bool> final(stored.tasks.size(), false);
  std::map<v1::TaskState, uint32_t> counts;  // in state order
  for (const auto& [index, task] : stored.task_statuses) {
    if (index < final.size()) final[index] = true;
    ++counts[task.state()];
  }
  // Every task without a final status ends CANCELLED, saying why, as a
  // cancelled job's do.
  v1::TaskSpec spec;
  for (uint32_t i = 0; i < stored.tasks.size(); ++i) {
    if (final[i]) continue;
    const absl::string_view encoded = stored.tasks.encoded(i);
    WriteSet::TaskWrite& write = writes.task_statuses.emplace_back();
    write.seq = stored.seq;
    write.index = i;
    write.status.set_job_id(JobIdFromSeq(stored.seq));
    if (spec.ParseFromArray(encoded.data(), static_cast<int>(encoded.size()))) {
      write.status.set_task_id(spec.id());
      write.status.set_fn(spec.fn());
    }
    write.status.set_state(v1::TASK_CANCELLED);
    write.status.set_error(why);
    ++counts[v1::TASK_CANCELLED];
  }
  v1::JobStatus& failed =
      writes.job_statuses.emplace_back(stored.seq, std::move(stored.status))
          .second;
  failed.set_state(v1::JOB_FAILED);
  failed.set_error(why);
  *failed.mutable_finished_at() = now;
  failed.clear_counts();
  for (const auto& [state, count] : counts) {
    v1::TaskStateCount* c = failed.add_counts();
    c->set_state(state);
    c->set_count(count);
  }
  failed.clear_waiting();
  LOG(WARNING).Job(JobIdFromSeq(stored.seq)) << why;
  stored.tasks = JobTasks();
}

absl::Status Coordinator::Recover() {
  absl::StatusOr<std::vector<StoredJob>> jobs = store_->LoadUnfinishedJobs();
  if (!jobs.ok()) return jobs.status();
  // Limits may have shrunk since the job was accepted; it is run anyway.
  JobLimits unlimited;
  unlimited.max_tasks_per_job = UINT32_MAX;
  unlimited.max_job_bytes = UINT64_MAX;
  unlimited.max_task_kinds_per_job = UINT32_MAX;
  // Lambda tasks of a dagd restarted without Lambda wait, saying why, as
  // do those naming a function it may no longer invoke.
  unlimited.lambda = true;
  unlimited.any_lambda_function = true;
  WriteSet refused;
  size_t recovered = 0;
  for (StoredJob& stored : *jobs) {
    absl::StatusOr<CompiledJob> job =
        CompileJob(std::move(stored.spec), stored.tasks, unlimited);
    if (absl::IsInvalidArgument(job.status())) {
      // Accepted by an older dagd, refused by a check added since: that
      // job fails, saying why; the others run on.
      FailStoredJob(stored,
                    absl::StrCat("this dagd does not run the job as stored: ",
                                 job.status().message()),
                    refused);
      continue;
    }
    stored.tasks = JobTasks();  // compiled: the job holds its own
    if (!job.ok()) {
      return absl::DataLossError(
          absl::StrCat("stored job ", JobIdFromSeq(stored.seq),
                       " does not compile: ", job.status().message()));
    }
    ++recovered;
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
  if (recovered > 0) {
    LOG(INFO) << "recovered " << recovered << " unfinished job(s)";
  }
  if (refused.empty()) return absl::OkStatus();
  return store_->Commit(refused, /*sync=*/true);
}

void Coordinator::CloseStreams() {
  Post([this] {
    const absl::Status stopping =
        absl::UnavailableError("dagd is shutting down");
    // The streams closed here are not workers leaving: a restart waits
    // for them.
    roster_.Freeze();
    // After what the outbox holds for them.
    std::vector<Outbox::Letter> closes;
    for (auto& [id, dispatcher] : dispatchers_) {
      closes.push_back({dispatcher, {}, stopping});
    }
    // Workers that left, waiting for copies from them: a restart copies
    // what they still hold if they come back.
    for (auto& [id, leaving] : leaving_) {
      closes.push_back({leaving.dispatcher, {}, stopping});
    }
    outbox_.Post(std::move(closes));
    for (auto& [seq, watchers] : watchers_) {
      for (auto& watcher : watchers) watcher.sink->Fail(stopping);
    }
    watchers_.clear();
  });
}

void Coordinator::Stop() {
  // First, while the loop still runs: a query may end by posting to it.
  queries_.Stop();
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    wake_.Signal();
  }
  if (thread_.joinable()) thread_.join();
  // What the last turns sent goes out before whoever stops dagd goes on.
  outbox_.Flush();
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
        if (std::optional<absl::Time> due = roster_.NextDue();
            due && fatal_.ok() && (!wakeup || *due < *wakeup)) {
          wakeup = due;
        }
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

bool Coordinator::ReserveJobSeqs(WriteSet& writes) {
  const uint64_t next = next_seq_.load();
  if (force_sync_) {
    // Stopping: every number handed out is in the store (this turn syncs),
    // so the next start goes on from the next one, not past the block.
    if (next < reserved_seq_) writes.next_job_seq = next;
    return false;
  }
  if (next <= reserved_seq_) return false;
  // A number past the reservation was handed out: reserve the next block,
  // durably, before the turn's sends give any of its jobs' work away.
  reserved_seq_ = next + kJobSeqBlock;
  writes.next_job_seq = reserved_seq_;
  return true;
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
    stats.submitted_jobs = turn_writes_.new_jobs.size();
    // New jobs go first in the batch: their later status updates follow.
    out.writes.new_jobs = std::move(turn_writes_.new_jobs);
    out.writes.deleted_jobs = std::move(turn_writes_.deleted_jobs);
    turn_writes_ = WriteSet();
    // Reset every turn, whatever else decides the sync.
    const bool acks_submission = std::exchange(turn_acks_submission_, false);
    stats.deleted_jobs = std::exchange(turn_deleted_jobs_, 0);
    const bool roster_grew = TakeRosterWrites(start, out.writes.roster);
    const bool reserves = ReserveJobSeqs(out.writes);
    const bool sync =
        out.sync || acks_submission || stats.deleted_jobs > 0 || force_sync_ ||
        roster_grew || reserves ||
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
    ReleaseWhenSynced(out.release_when_synced, stats.synced);
  }
  turn_requests_.clear();
  std::vector<absl::AnyInvocable<void(const absl::Status&)>> replies;
  replies.swap(after_commit_);
  for (auto& reply : replies) reply(fatal_);
  if (!fatal_.ok()) {
    EndStreamsOfLeftWorkers();  // nothing more is recorded: none waits
    return;
  }
  CollectStats(out, stats);
  LogTurn(out);
  Deliver(out);
  KeepOutputs(std::move(out.keep));
  // After KeepOutputs: the copies of this turn's outputs count.
  EndStreamsOfLeftWorkers();
  if (observer_) {
    stats.counts = scheduler_.Counts();
    stats.outbox_letters = outbox_.Backlog();
    stats.duration = clock_->Now() - start;
    observer_(stats);
  }
}

void Coordinator::ReleaseWhenSynced(std::vector<v1::ObjectRef>& copied,
                                    bool synced) {
  for (v1::ObjectRef& ref : copied) {
    unsynced_releases_.push_back(std::move(ref));
  }
  if (unsynced_releases_.empty() || !fatal_.ok()) return;
  // Nothing committed is unsynced any more (this turn synced, or no
  // commit since the last sync): sent with the next turn's batches.
  // Otherwise the periodic sync comes within --sync_interval.
  if (!synced && unsynced_) return;
  Post([this, refs = std::exchange(unsynced_releases_, {})] {
    scheduler_.ReleaseObjects(refs);
  });
}

void Coordinator::CollectStats(TurnOutput& out, TurnStats& stats) {
  for (const auto& [seq, status] : out.writes.job_statuses) {
    if (IsFinal(status.state())) {
      stats.finished_jobs.push_back(status.state());
    }
  }
  stats.tasks_finished = out.tasks_finished;
  stats.run_times = std::move(out.run_times);
  stats.queue_waits = std::move(out.queue_waits);
  stats.worker_registrations = turn_registrations_;
  turn_registrations_ = 0;
  stats.result_bytes_received = turn_result_bytes_;
  turn_result_bytes_ = 0;
}

// One line per job accepted or finished and per task that failed for good.
void Coordinator::LogTurn(const TurnOutput& out) {
  for (const WriteSet::NewJob& job : out.writes.new_jobs) {
    LOG(INFO).Job(job.status.job_id())
        << "job accepted: '" << job.spec->name() << "', " << job.tasks->size()
        << " tasks";
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
  // This turn's Registered messages first: a worker's batches follow.
  std::vector<Outbox::Letter> letters = std::exchange(turn_letters_, {});
  letters.reserve(letters.size() + out.sends.size() +
                  out.timed_out_workers.size());
  for (auto& [id, batch] : out.sends) {
    auto it = dispatchers_.find(id);
    if (it == dispatchers_.end()) continue;
    Outbox::Letter& letter = letters.emplace_back();
    letter.to = it->second;
    *letter.message.mutable_batch() = std::move(batch);
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
    roster_.Left(id, clock_->Now());
    letters.push_back(
        {std::move(it->second),
         {},
         absl::UnavailableError(
             "this worker missed its heartbeats and was declared lost"),
         /*drop=*/true});
    dispatchers_.erase(it);
  }
  outbox_.Post(std::move(letters));
}

absl::StatusOr<uint64_t> Coordinator::ParseJobId(
    const std::string& job_id) const {
  std::optional<uint64_t> seq = SeqFromJobId(job_id);
  if (!seq) return NoJobError(job_id);
  return *seq;
}

// ---- Submission -----------------------------------------------------------

namespace {

// Answers a SubmitJob that asked to wait: with the job's final status when
// it ends, or with the error that ends the wait. Called by one thread: the
// loop, or for a job that had already finished, a query thread.
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

void Coordinator::SetPolicies(std::shared_ptr<const TenantPolicies> policies) {
  // A tenant's share, and whether its tasks may burst to Lambda.
  auto share_of = [this](const TenantPolicy& policy) {
    TenantShare share = policy.share;
    share.lambda_burst =
        policy.lambda.Allows(options_.scheduler.lambda_function);
    return share;
  };
  absl::flat_hash_map<std::string, TenantShare> shares;
  for (const auto& [tenant, policy] : policies->named()) {
    shares.emplace(tenant, share_of(policy));
  }
  const TenantShare others = share_of(policies->others());
  {
    absl::MutexLock lock(&policies_mu_);
    policies_ = std::move(policies);
  }
  Post([this, shares = std::move(shares), others]() mutable {
    scheduler_.SetTenantShares(std::move(shares), others);
  });
}

std::shared_ptr<const TenantPolicies> Coordinator::Policies() {
  absl::MutexLock lock(&policies_mu_);
  return policies_;
}

void Coordinator::Submit(v1::SubmitJobRequest request, std::string tenant,
                         Reply<v1::SubmitJobResponse> done) {
  // Compiling is pure and can be slow for big jobs: it stays off the loop,
  // and so does the check against the tenant's policy, which reads every
  // task.
  absl::StatusOr<CompiledJob> job =
      CompileJob(std::move(*request.mutable_job()), options_.limits);
  if (!job.ok()) {
    done(job.status());
    return;
  }
  Submit(std::move(request), *std::move(job), std::move(tenant),
         std::move(done));
}

std::unique_ptr<TaskRecordWriter> Coordinator::NewTaskRecordWriter() {
  return store_->NewTaskRecordWriter(next_seq_.fetch_add(1));
}

bool Coordinator::KnowsRequest(absl::string_view tenant,
                               absl::string_view request_id) {
  absl::StatusOr<std::optional<uint64_t>> found =
      store_->FindRequest(RequestKey(tenant, request_id));
  return found.ok() && found->has_value();
}

void SubmitWaiter::Cancel() {
  std::shared_ptr<WatchSink> sink;
  Coordinator* coordinator = nullptr;
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    sink = std::move(sink_);
    coordinator = std::exchange(coordinator_, nullptr);
  }
  if (sink != nullptr) {
    coordinator->Unwatch(std::move(sink),
                         absl::CancelledError("the SubmitJob call was "
                                              "cancelled; the job runs on"));
  }
}

void Coordinator::Submit(v1::SubmitJobRequest request, CompiledJob job,
                         std::string tenant, Reply<v1::SubmitJobResponse> done,
                         std::unique_ptr<TaskRecordWriter> records,
                         std::shared_ptr<SubmitWaiter> waiter) {
  if (absl::Status s = CheckRequestId(request.request_id()); !s.ok()) {
    done(s);
    return;
  }
  std::shared_ptr<const TenantPolicies> policies = Policies();
  if (absl::Status s = CheckJobAllowed(policies->For(tenant), tenant, job,
                                       options_.scheduler.lambda_function);
      !s.ok()) {
    done(s);
    return;
  }
  Post([this, request = std::move(request), tenant = std::move(tenant),
        policies = std::move(policies), job = std::move(job),
        records = std::move(records), done = std::move(done),
        waiter = std::move(waiter)]() mutable {
    DoSubmit(std::move(request), std::move(tenant), std::move(policies),
             std::move(job), std::move(records), std::move(done),
             std::move(waiter));
  });
}

void Coordinator::DoSubmit(v1::SubmitJobRequest request, std::string tenant,
                           std::shared_ptr<const TenantPolicies> policies,
                           CompiledJob job,
                           std::unique_ptr<TaskRecordWriter> records,
                           Reply<v1::SubmitJobResponse> done,
                           std::shared_ptr<SubmitWaiter> waiter) {
  if (!fatal_.ok()) return done(fatal_);
  const std::string& request_id = request.request_id();
  const std::string request_key = RequestKey(tenant, request_id);
  if (!request_id.empty()) {
    std::optional<uint64_t> existing;
    if (auto it = turn_requests_.find(request_key);
        it != turn_requests_.end()) {
      existing = it->second;
    } else {
      absl::StatusOr<std::optional<uint64_t>> found =
          store_->FindRequest(request_key);
      if (!found.ok()) return done(found.status());
      existing = *found;
    }
    if (existing) {
      v1::SubmitJobResponse response;
      response.set_job_id(JobIdFromSeq(*existing));
      response.set_existing(true);
      if (request.wait()) {
        return WaitForEnd(std::move(response), std::move(done), waiter.get());
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
  // Counted on the loop, where jobs start and finish: two submissions in
  // one turn both see the first.
  if (absl::Status s = CheckQuota(policies->For(tenant), tenant,
                                  scheduler_.LoadOf(tenant), job);
      !s.ok()) {
    return done(s);
  }
  // Refused above, a job's records written ahead are removed as `records`
  // goes; accepted, they are kept for the turn's commit.
  const uint64_t seq =
      records != nullptr ? records->seq() : next_seq_.fetch_add(1);
  v1::JobStatus status;
  status.set_job_id(JobIdFromSeq(seq));
  status.set_name(job.header->name());
  status.set_priority(job.header->priority());
  status.set_state(v1::JOB_PENDING);
  status.set_total_tasks(job.size());
  status.set_request_id(request_id);
  status.set_tenant(std::move(tenant));
  *status.mutable_submitted_at() =
      TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(clock_->Now()));
  WriteSet::NewJob& record = turn_writes_.new_jobs.emplace_back();
  record.seq = seq;
  record.spec = job.header;
  record.tasks = job.tasks;
  record.status = status;
  if (records != nullptr) {
    record.tasks_written = true;
    records->Keep();
  }
  if (!request_id.empty()) {
    record.request_id = request_key;
    turn_requests_[request_key] = seq;
  }
  scheduler_.AddJob(seq, std::move(job), std::move(status));
  if (request.wait()) {
    // Answered at the job's end, whose fsync covers this submission too.
    v1::SubmitJobResponse response;
    response.set_job_id(JobIdFromSeq(seq));
    return WaitForEnd(std::move(response), std::move(done), waiter.get());
  }
  turn_acks_submission_ = true;
  AfterCommit([seq, done = std::move(done)](const absl::Status& s) mutable {
    if (!s.ok()) return done(s);
    v1::SubmitJobResponse response;
    response.set_job_id(JobIdFromSeq(seq));
    done(response);
  });
}

void Coordinator::WaitForEnd(v1::SubmitJobResponse response,
                             Reply<v1::SubmitJobResponse> done,
                             SubmitWaiter* waiter) {
  const std::string job_id = response.job_id();
  auto sink =
      std::make_shared<SubmitReplySink>(std::move(response), std::move(done));
  if (waiter != nullptr) {
    absl::MutexLock lock(&waiter->mu_);
    if (waiter->cancelled_) {
      return sink->Fail(absl::CancelledError(
          "the SubmitJob call was cancelled; the job runs on"));
    }
    // Registered below, in this turn: a Cancel's Unwatch comes after.
    waiter->sink_ = sink;
    waiter->coordinator_ = this;
  }
  DoWatch(job_id, /*end_only=*/true, std::move(sink));
}

}  // namespace dagd
