#ifndef DAGD_SERVER_COORDINATOR_H_
#define DAGD_SERVER_COORDINATOR_H_

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "dagd/v1/job_service.pb.h"
#include "dagd/v1/worker_service.pb.h"
#include "server/auth/tenant_policy.h"
#include "server/dispatcher.h"
#include "server/job_compiler.h"
#include "server/job_deleter.h"
#include "server/outbox.h"
#include "server/output_keeper.h"
#include "server/query_pool.h"
#include "server/read_gate.h"
#include "server/result_objects.h"
#include "server/scheduler.h"
#include "server/stored_queries.h"
#include "server/worker_roster.h"
#include "storage/base/clock.h"
#include "storage/meta_store.h"

namespace dagd {

// A WatchJob stream. Thread-safe; never blocks. After an event carrying
// `finished`, or after Fail, the sink ends its stream.
class WatchSink {
 public:
  virtual ~WatchSink() = default;
  virtual void Send(v1::JobEvent event) = 0;
  virtual void Fail(absl::Status status) = 0;
};

// What the coordinator reports once per turn, for metrics.
struct TurnStats {
  SchedulerCounts counts;
  size_t events = 0;
  absl::Duration duration;
  std::vector<v1::JobState> finished_jobs;
  size_t submitted_jobs = 0;
  size_t worker_registrations = 0;
  // Bytes of task outputs that came to dagd inline in workers' results.
  uint64_t result_bytes_received = 0;
  size_t deleted_jobs = 0;  // by DeleteJob calls
  TaskStateCounts tasks_finished{};
  std::vector<std::pair<std::string, absl::Duration>> run_times;
  std::vector<absl::Duration> queue_waits;
  bool committed = false;  // whether the turn wrote to the store
  bool synced = false;     // and fsynced it
  absl::Duration commit_duration;
  uint64_t commit_bytes = 0;
  size_t outbox_letters = 0;  // Outbox::Backlog() after the turn posted
};

struct CoordinatorOptions {
  JobLimits limits;
  SchedulerOptions scheduler;
  absl::Duration heartbeat_interval = absl::Seconds(5);
  // Unsynced writes are fsynced at least this often.
  absl::Duration sync_interval = absl::Seconds(1);
  // The threads that read finished jobs from the store, and how many reads
  // may wait for them (more are refused with RESOURCE_EXHAUSTED).
  QueryPool::Options queries;
  // --inline_max_bytes, told to workers: larger outputs go to the object
  // store when there is one, else stay on the worker that made them.
  uint64_t inline_max_bytes = 64 << 10;
  // No message to a worker is built larger than this: a batch over it is
  // sent as several (assignments carry inline inputs).
  uint64_t max_message_bytes = 4 << 20;
  // A worker registering more slots gets this many: a worker cannot claim
  // a cluster's whole queue by saying it has room for it.
  uint32_t max_worker_slots = 1024;
  // Registrations beyond this many connected workers are refused with
  // RESOURCE_EXHAUSTED (each costs memory, and ListWorkers lists them all).
  uint32_t max_workers = 10'000;
  // Told to workers as they register (Registered.data_secret).
  std::string data_secret;
};

class Coordinator;

// A SubmitJob call with `wait` as its gRPC handler sees it: when the caller
// cancels, the call stops waiting for the job's end (its watch is dropped
// and it is answered CANCELLED) rather than holding memory until the job
// ends, as every abandoned resubmission of a long job did. Thread-safe.
class SubmitWaiter {
 public:
  // The call was cancelled. Any thread, any time, more than once.
  void Cancel();

 private:
  friend class Coordinator;
  absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  // Once waiting: the watch, and the coordinator that holds it.
  std::shared_ptr<WatchSink> sink_ ABSL_GUARDED_BY(mu_);
  Coordinator* coordinator_ ABSL_GUARDED_BY(mu_) = nullptr;
};

// Owns the scheduler and the loop thread that drives it (DESIGN.md,
// Threading). Every public method is thread-safe and never blocks: it
// posts an event; the loop drains all queued events in one turn, applies
// them, commits the turn's writes in one batch, and only then answers
// callers and sends to workers and watchers.
//
// Queries of jobs in the scheduler's memory (unfinished ones, and those
// that finished in the current turn) are answered from it, on the loop.
// Queries of other jobs (finished ones) and ListJobs read the store on a
// query thread, from a view taken after the commit of the turn that took
// the query: a job that just finished is found either in memory or in that
// view, never in neither. DeleteJob and the retention sweep plan their
// deletions on a query thread and apply them in a turn's commit. Reply
// callbacks run on the loop thread or on a query thread, after that turn's
// commit, and must not block.
//
// When a commit fails the coordinator stops serving: pending and later
// calls get UNAVAILABLE, and `on_fatal` runs once so the process can stop.
class Coordinator : public JobDeleter {
 public:
  template <typename T>
  using Reply = absl::AnyInvocable<void(absl::StatusOr<T>)>;

  // `store` and `clock` are not owned and must outlive the coordinator.
  // `uniform` returns random numbers in [0, 1) (retry jitter); it is called
  // on the loop thread only.
  Coordinator(CoordinatorOptions options, MetaStore* store, Clock* clock,
              std::function<double()> uniform);
  ~Coordinator() override;

  // Reads what the store needs read at start, then starts the loop.
  absl::Status Start();
  // Ends every worker and watch stream with UNAVAILABLE, so a stopping
  // server does not wait for them. Workers reconnect to the next dagd.
  void CloseStreams();
  // Refuses the queries not started (UNAVAILABLE) and waits for those
  // running, finishes the current turn, syncs the store, and joins the
  // loop.
  void Stop();

  void SetTurnObserver(std::function<void(const TurnStats&)> observer);
  void SetFatalHandler(std::function<void(const absl::Status&)> on_fatal);
  // Where results kept in the object store are read and deleted (before
  // Start; not owned). Without it such results cannot be read, and a
  // deleted job's objects are left behind.
  void SetResultObjects(ResultObjects* objects) { objects_ = objects; }
  // Where jobs' held outputs are copied into the store (before Start; not
  // owned). Without it, outputs stay with the workers that hold them.
  void SetOutputKeeper(OutputKeeper* keeper) { keeper_ = keeper; }

  // What each tenant may run, its quotas and its share (--policy_file).
  // Thread-safe, any time: submissions check the table in force when they
  // arrive, and the scheduler takes the shares in its next turn. Until
  // called, every tenant may do everything.
  void SetPolicies(std::shared_ptr<const TenantPolicies> policies);

  // Validation runs on the calling thread; errors come back through `done`.
  // The job belongs to `tenant` ("" without identities); its request_id is
  // matched among that tenant's submissions only. PERMISSION_DENIED for
  // what the tenant's policy does not allow, RESOURCE_EXHAUSTED for a job
  // over its quotas.
  void Submit(v1::SubmitJobRequest request, std::string tenant,
              Reply<v1::SubmitJobResponse> done);
  // The same for a request already read and compiled (ReadSubmission):
  // `request`'s job holds no tasks, `job` has them. With `records` (from
  // NewTaskRecordWriter, finished), the job's task records are written
  // and it gets their sequence number; a refused job's are removed.
  // With `waiter`, a `wait` request whose caller cancels stops waiting.
  void Submit(v1::SubmitJobRequest request, CompiledJob job, std::string tenant,
              Reply<v1::SubmitJobResponse> done,
              std::unique_ptr<TaskRecordWriter> records = nullptr,
              std::shared_ptr<SubmitWaiter> waiter = nullptr);
  // A writer of a big new job's task records while its request is read, for
  // a sequence number taken now. Any thread.
  std::unique_ptr<TaskRecordWriter> NewTaskRecordWriter();
  // Whether a stored job was made by `tenant`'s request `request_id` (a
  // resubmission, answered with that job: its tasks need not be written).
  // Any thread; a job of the loop's current turn is not yet seen.
  bool KnowsRequest(absl::string_view tenant, absl::string_view request_id);
  const JobLimits& limits() const { return options_.limits; }
  void GetJob(std::string job_id, Reply<v1::JobStatus> done);
  void ListJobs(v1::ListJobsRequest request, Reply<v1::ListJobsResponse> done);
  void GetTask(std::string job_id, std::string task_id,
               Reply<v1::TaskStatus> done);
  // The page of the job's tasks (TasksPage; by default every task).
  void ListTasks(std::string job_id, Reply<v1::ListTasksResponse> done,
                 TasksPage page = {});
  // FAILED_PRECONDITION for a result in the object store larger than
  // kMaxGetResultBytes (ReadResult streams those). With at most 8 calls
  // at once (JobServiceImpl), what GetResult holds stays under 1 GiB: the
  // result read and its serialized message, per call.
  static constexpr uint64_t kMaxGetResultBytes = 64 << 20;
  void GetResult(std::string job_id, std::string task_id,
                 Reply<v1::GetResultResponse> done);
  // Where task `task_id`'s result is, for reading it in parts: its bytes,
  // or its object store reference (read through result_objects()).
  void OpenResult(std::string job_id, std::string task_id,
                  Reply<StoredResult> done);
  ResultObjects* result_objects() const { return objects_; }
  void Cancel(std::string job_id, Reply<v1::CancelJobResponse> done);
  // Deletes a finished job from the store; answered once that is fsynced.
  // FAILED_PRECONDITION for an unfinished job, NOT_FOUND for an unknown one.
  // Its result objects are deleted after that.
  void DeleteJob(std::string job_id, Reply<v1::DeleteJobResponse> done);
  // JobDeleter, for the retention sweep: not fsynced, not counted as a
  // DeleteJob call.
  void DeleteStoredJob(uint64_t seq,
                       absl::AnyInvocable<void(absl::Status)> done) override;
  void ListWorkers(Reply<v1::ListWorkersResponse> done);
  // `end_only`: the sink gets the snapshot and the end, no task events.
  void Watch(std::string job_id, bool end_only,
             std::shared_ptr<WatchSink> sink);
  // With `fail`, the sink is ended with it if it was still watching.
  void Unwatch(std::shared_ptr<WatchSink> sink,
               std::optional<absl::Status> fail = std::nullopt);

  WorkerId NewWorkerId() { return next_worker_id_.fetch_add(1); }
  // A worker process registered on its stream, which `dispatcher` writes to.
  // `certified`: registration.name() is the common name of the worker's
  // verified certificate (it cannot be another's).
  void WorkerConnected(WorkerId id, std::shared_ptr<Dispatcher> dispatcher,
                       v1::Register registration, std::string peer,
                       bool certified = false);
  // `gate`, when given, hears when the message (of `bytes`) was handled.
  void WorkerMessage(WorkerId id, v1::WorkerMessage message,
                     std::shared_ptr<ReadGate> gate = nullptr,
                     uint64_t bytes = 0);
  void WorkerDisconnected(WorkerId id);
  // Nothing more comes from worker `id`: it half-closed its stream (it
  // drained), or the stream broke. Its tasks go back to the queue at once;
  // its stream ends once the outputs it holds that dagd is copying are
  // copied and the copies' records synced, so that a drained worker's
  // outputs outlive it.
  void WorkerReadsEnded(WorkerId id);
  // A worker living in this process (the Lambda dispatcher): no stream, no
  // Register (the dispatcher's Spec says what it is), reports through
  // WorkerMessage like any worker.
  void ConnectLocalWorker(WorkerId id,
                          std::shared_ptr<InProcessDispatcher> dispatcher);

 private:
  using Event = absl::AnyInvocable<void()>;

  // Loads unfinished jobs into the scheduler (start only).
  absl::Status Recover();
  // Takes the roster of workers from before start `incarnation` (roster_).
  void RestoreRoster(StoredRoster stored, uint64_t incarnation);
  // Moves this turn's roster changes into `writes`; true if they must be
  // synced (WorkerRoster::TakeWrites).
  bool TakeRosterWrites(absl::Time now, WriteSet::RosterWrites& writes);
  // Adds a worker to the scheduler and keeps its dispatcher (loop thread).
  // Removes and drops the other streams of worker `id`'s process.
  void DropOlderStreams(WorkerId id);
  void JoinWorker(WorkerId id, std::shared_ptr<Dispatcher> dispatcher,
                  WorkerSpec spec);
  // Worker `id` has sent what it kept from before: recovered jobs go on if
  // it was the last one they waited for.
  void CaughtUp(WorkerId id);
  void Post(Event event);
  void Run();
  void RunTurn(std::vector<Event>& events);
  void Deliver(TurnOutput& out);
  // Queues the holders' release of `copied` results, and posts every one
  // queued once nothing committed is unsynced (a commit `synced` them, or
  // none since the last sync).
  void ReleaseWhenSynced(std::vector<v1::ObjectRef>& copied, bool synced);
  void CollectStats(TurnOutput& out, TurnStats& stats);
  void LogTurn(const TurnOutput& out);
  // Reserves job numbers as reserved_seq_ says, in `writes`; true when the
  // turn must sync for it.
  bool ReserveJobSeqs(WriteSet& writes);
  void AfterCommit(absl::AnyInvocable<void(const absl::Status&)> fn);
  absl::StatusOr<uint64_t> ParseJobId(const std::string& job_id) const;

  // Loop-thread halves of the public calls.
  template <typename T>
  void AnswerAfterCommit(absl::StatusOr<T> result, Reply<T> done);
  // Once this turn is committed, runs `read` on a query thread against a
  // view of the store taken then, and answers with what it returns.
  template <typename T>
  void ReadAfterCommit(
      absl::AnyInvocable<absl::StatusOr<T>(MetaReadView&)> read, Reply<T> done);
  // ListJobs, second half: the stored page with the statuses of jobs in
  // memory laid over it.
  void AnswerJobsPage(uint32_t size, std::vector<v1::JobStatus> stored,
                      Reply<v1::ListJobsResponse> done);
  // The result of a task, from memory or from the store, answered after
  // this turn's commit (on the loop or on a query thread).
  void FindResult(std::string job_id, std::string task_id,
                  Reply<StoredResult> done);
  // FAILED_PRECONDITION for a result in the object store without one.
  absl::StatusOr<StoredResult> Readable(absl::StatusOr<StoredResult> result,
                                        const std::string& task_id) const;
  static absl::StatusOr<v1::GetResultResponse> ToResultResponse(
      absl::StatusOr<StoredResult> result);
  // Deletes a deleted job's result objects once the turn is committed.
  void DeleteObjectsAfterCommit(std::vector<v1::ObjectRef> refs);
  void DoCancel(const std::string& job_id, Reply<v1::CancelJobResponse> done);
  void DoDelete(const std::string& job_id, Reply<v1::DeleteJobResponse> done);
  // Deletes finished job `seq`: planned on a query thread from a view taken
  // after this turn's commit, applied in the turn that follows. `done`
  // once that turn's commit is done; `on_request` (DeleteJob) makes the
  // turn fsync first and deletes the job's result objects after it.
  void DeleteStored(uint64_t seq, bool on_request,
                    absl::AnyInvocable<void(absl::Status)> done);
  void ApplyDeletion(uint64_t seq, bool on_request,
                     absl::StatusOr<PlannedDeletion> plan,
                     absl::AnyInvocable<void(absl::Status)> done);
  // Job `seq`'s deletion ended: the deletions of it that waited run.
  void EndDeletion(uint64_t seq);
  // Copies the turn's outputs to keep (coordinator_outputs.cc), once its
  // writes are stored.
  void KeepOutputs(std::vector<OutputToKeep> outputs);
  void OnOutputCopied(const OutputToKeep& output,
                      absl::StatusOr<KeptOutput> kept);
  // After a turn's commit: ends the streams of the workers that left
  // (WorkerReadsEnded) and wait for nothing more, in a turn of their own.
  void EndStreamsOfLeftWorkers();
  // Ends a worker's stream, after what the outbox holds for it.
  void EndStream(std::shared_ptr<Dispatcher> dispatcher);
  // At recovery: the writes that fail stored job `stored` (refused as
  // `why`): its status, and each unfinished task's, CANCELLED.
  void FailStoredJob(StoredJob& stored, const std::string& why,
                     WriteSet& writes);
  void DoSubmit(v1::SubmitJobRequest request, std::string tenant,
                std::shared_ptr<const TenantPolicies> policies, CompiledJob job,
                std::unique_ptr<TaskRecordWriter> records,
                Reply<v1::SubmitJobResponse> done,
                std::shared_ptr<SubmitWaiter> waiter);
  // Answers `done` with `response` and the job's final status when it ends
  // (SubmitJobRequest.wait), unless `waiter`'s call was cancelled.
  void WaitForEnd(v1::SubmitJobResponse response,
                  Reply<v1::SubmitJobResponse> done, SubmitWaiter* waiter);
  std::shared_ptr<const TenantPolicies> Policies();
  void DoWatch(const std::string& job_id, bool end_only,
               std::shared_ptr<WatchSink> sink);
  // Tells the scheduler what the watchers of job `seq` want.
  void UpdateWatch(uint64_t seq);

  // Constant after construction.
  const CoordinatorOptions options_;
  MetaStore* const store_;
  Clock* const clock_;
  ResultObjects* objects_ = nullptr;  // set before Start(); null: none
  OutputKeeper* keeper_ = nullptr;    // set before Start(); null: none

  std::atomic<WorkerId> next_worker_id_{1};
  std::string store_id_;  // set by Start()

  absl::Mutex mu_;
  std::vector<Event> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::CondVar wake_;

  // Thread-safe; stopped before the loop.
  QueryPool queries_;

  absl::Mutex policies_mu_;
  std::shared_ptr<const TenantPolicies> policies_
      ABSL_GUARDED_BY(policies_mu_) = std::make_shared<const TenantPolicies>();

  // Turns' batches for workers; thread-safe.
  Outbox outbox_;

  // Owned by the loop thread (set before it starts, read only by it).
  Scheduler scheduler_;
  std::function<void(const TurnStats&)> observer_;
  std::function<void(const absl::Status&)> on_fatal_;
  // Taken by the loop for a job, and by a gRPC thread for a big job whose
  // records are written as it is read (NewTaskRecordWriter); so such a job
  // may be accepted after one with a higher number.
  std::atomic<uint64_t> next_seq_ = 1;
  // Job numbers below it may have been handed out by this or an earlier
  // run: a start goes on from it. A turn that hands out a number past it
  // reserves the next kJobSeqBlock in the store and syncs, before its sends
  // (ReserveJobSeqs). Without, a job submitted with wait (whose turn does
  // not sync) lost to a power cut within --sync_interval left its number
  // free while workers ran its tasks; the next job to take it looked, by
  // number and seal, like it, and took over their attempts and results.
  uint64_t reserved_seq_ = 1;
  static constexpr uint64_t kJobSeqBlock = 64;
  // What this turn's events write beside the scheduler's output: new jobs
  // and deletions.
  WriteSet turn_writes_;
  absl::flat_hash_map<std::string, uint64_t> turn_requests_;
  std::vector<absl::AnyInvocable<void(const absl::Status&)>> after_commit_;
  // Registered messages of this turn, for the outbox with its batches.
  std::vector<Outbox::Letter> turn_letters_;
  absl::flat_hash_map<WorkerId, std::shared_ptr<Dispatcher>> dispatchers_;
  // The workers that may run or hold work, as stored for a restart.
  WorkerRoster roster_;
  // Jobs being deleted (planned, or applied and not yet committed), each
  // with the deletions of the same job that wait for it: one at a time, so
  // that a second is planned from a view that no longer holds the job.
  absl::flat_hash_map<uint64_t, std::vector<Event>> deleting_;
  // Jobs whose outputs are being copied into the store, with the
  // deletions of them that wait until the copies are recorded: a copy
  // recorded after its job's deletion would outlive the job.
  struct Keeping {
    int copies = 0;
    std::vector<Event> deletions;
  };
  absl::flat_hash_map<uint64_t, Keeping> keeping_;
  // Copies in flight from each holder (HolderKey).
  absl::flat_hash_map<std::string, int> copying_from_;
  // Workers whose reads ended, whose streams wait for copies from their
  // process (removed from the scheduler with keep_holder).
  struct Leaving {
    std::shared_ptr<Dispatcher> dispatcher;
    std::string holder;
  };
  absl::flat_hash_map<WorkerId, Leaving> leaving_;
  struct Watcher {
    std::shared_ptr<WatchSink> sink;
    bool end_only = false;
  };
  absl::flat_hash_map<uint64_t, std::vector<Watcher>> watchers_;
  size_t turn_registrations_ = 0;
  uint64_t turn_result_bytes_ = 0;
  absl::Time last_sync_;
  bool unsynced_ = false;
  // Copied outputs whose holders free them after the next synced commit
  // (TurnOutput::release_when_synced).
  std::vector<v1::ObjectRef> unsynced_releases_;
  bool force_sync_ = false;  // the last turn before stopping syncs
  // This turn accepted a submission answered at commit: it must be fsynced.
  bool turn_acks_submission_ = false;
  // This turn deleted jobs on request (DeleteJob), answered at commit: it
  // must be fsynced too.
  size_t turn_deleted_jobs_ = 0;
  absl::Status fatal_;  // set once a commit failed
  std::thread thread_;
};

}  // namespace dagd

#endif  // DAGD_SERVER_COORDINATOR_H_
