#ifndef DAGD_SERVER_SCHEDULER_H_
#define DAGD_SERVER_SCHEDULER_H_

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "dagd/v1/job_service.pb.h"
#include "dagd/v1/worker_service.pb.h"
#include "server/executor.h"
#include "server/job_compiler.h"
#include "server/job_sorter.h"
#include "server/placement_policy.h"
#include "server/ready_queue.h"
#include "server/resource_ledger.h"
#include "server/result_acks.h"
#include "server/tenant.h"
#include "server/worker_id.h"
#include "storage/base/clock.h"
#include "storage/siphash.h"
#include "storage/write_set.h"

namespace dagd {

struct AttemptRecord;
struct AttemptRef;
struct StoppingAttempt;

// How people see a worker id: "w3-17" (incarnation 3, 17th stream), or
// "w17" for incarnation 0 (tests).
std::string WorkerIdName(WorkerId id);

// Fills a task status's `inputs` and `after` from its spec. Queries show
// them; the stored statuses leave them out, since the spec has them.
void CopyDependencies(const v1::TaskSpec& spec, v1::TaskStatus* status);

struct WorkerSpec {
  std::string name;
  uint32_t slots = 1;
  std::string pool;
  std::vector<std::pair<std::string, std::string>> labels;
  // Named capacities (memory_mb, gpu, ...) that tasks' resources.amounts
  // draw on.
  std::vector<std::pair<std::string, double>> resources;
  std::vector<std::string> functions;
  // The task runtimes it offers (Register.runtimes: "builtin", "exec",
  // ...); shown by ListWorkers.
  std::vector<std::string> runtimes;
  std::string peer;
  bool accepts_grants = false;  // runs Assignment.after chains
  // Attempts the worker holds as it connects (Register.running): after a
  // broken stream or a restart of dagd, they are taken over, not rerun.
  std::vector<v1::TaskRef> running;
  // Its earlier attempts belong to another store (dagd was restarted on
  // another --data_dir): none of its reports of them is taken over.
  bool foreign = false;
  // Runs any function (Lambda dispatch: dagd cannot know what the deployed
  // functions offer, and a task of a function they lack fails there).
  bool any_function = false;
  // dagd's Lambda dispatcher: it runs tasks of executor kLambda, and
  // bursts (SchedulerOptions::lambda_burst_after); nothing else.
  bool lambda = false;
  // Its DataService and process instance (Register.data_address, .instance):
  // the results it holds are those whose ObjectRef.holder names the
  // instance. Empty: it holds none.
  std::string data_address;
  std::string instance;
  // Keys of the results it holds as it connects (Register.held).
  std::vector<std::string> held;
  // Of those, the outputs of the results its registration reports (kept
  // until acknowledged; taken right after it registers): not released as
  // unknown before they are read.
  std::vector<std::string> reporting;
  // The registration carries every result the worker kept
  // (Register.kept_complete); false: more come in later messages, which
  // may refer to what it holds, so nothing it holds is released as unknown
  // before OnKeptComplete.
  bool kept_complete = true;
  // It drains (Register.draining, or later Heartbeat.draining): nothing new
  // is placed on it; what runs there still reports.
  bool draining = false;
};

struct SchedulerOptions {
  // A worker that sends nothing for this long is declared lost.
  absl::Duration worker_timeout = absl::Seconds(30);
  // Grants ahead: when a task is assigned, up to this many of its chain of
  // successors (each waiting only for the one before) go to the same worker
  // with it, to run there straight away; 0 turns grants off.
  uint32_t grant_depth = 64;
  // Only tasks of functions whose attempts have recently run at most this
  // long are granted ahead: a grant holds its slot, so long tasks would
  // make higher-priority work wait, and gain little from it.
  absl::Duration grant_max_run_time = absl::Milliseconds(2);
  // Queued grants: a worker given a task of a job with more ready tasks of
  // its kind than there are free slots on the workers that could run them,
  // a kind whose tasks in that job recently ran at most
  // grant_max_run_time, is also handed up to this many of them (at most
  // its share: N / (F + 1) of N ready with F free), in the same message,
  // to run on that slot one after the other. So the next task waits on
  // the worker when one ends (one round trip per 1 + grant_queued tasks,
  // not per task), and results and assignments travel in fewer, larger
  // messages. Only at assignment: a task granted after one the worker may
  // already have finished would be dropped there. 0: none. Only for jobs
  // whose results are all inline (none held by reference), so placement by
  // where inputs are is never overridden.
  uint32_t grant_queued = 8;
  // Where a task holding none of its inputs anywhere goes (--placement):
  // the least loaded worker, or the most loaded with room.
  Fill fill = Fill::kSpread;
  // After a restart, how long at most recovered jobs' ready tasks wait
  // before they run again: workers that outlived dagd reconnect within it
  // and report the attempts they still run or finished meanwhile. The wait
  // ends sooner once every worker on the coordinator's roster is back
  // (EndRecoveryHold). Workers retry at least every second.
  absl::Duration recovery_grace = absl::Seconds(5);
  // The function tasks with executor "lambda" invoke (--lambda_function).
  std::string lambda_function;
  // The functions besides it that tasks may name ("lambda:NAME",
  // --lambda_allowed_functions). A task naming another (accepted before a
  // restart that took the name off) goes to no worker: it waits.
  std::vector<std::string> lambda_allowed_functions;
  // Burst: a ready task for any worker (no pool, labels or amounts) that
  // has waited this long while no worker had room goes to Lambda instead
  // (--lambda_burst_after); infinite: never.
  absl::Duration lambda_burst_after = absl::InfiniteDuration();
  // Where results over its inline limit are kept (--s3_bucket...); told to
  // workers at registration. No bucket: none, every result is inline.
  v1::ObjectStoreConfig object_store;
  // When results are acknowledged to their workers (result_acks.h).
  AckPolicy acks;
  // An output larger than this fails its task for good (--max_result_bytes);
  // 0: no bound.
  uint64_t max_result_bytes = 0;
  // A task whose result is lost with the workers holding it runs again, at
  // most this many times (--max_recomputes); once more fails its job.
  uint32_t max_recomputes = 3;
  // A job's output held by a worker, up to this size, is copied into
  // dagd's own store (--max_stored_result_bytes) so that it outlives its
  // worker; 0: outputs stay held (as they do with a bucket, which is then
  // their durable home).
  uint64_t max_stored_result_bytes = 0;
};

// Who holds results, as the scheduler keys them (holders_, held_by_): the
// holder's name and process instance. The name is what dagd knows of the
// worker, under --worker_ca its certificate's (Succeed writes it into every
// held ref), so a worker that names another's instance in its registration
// is a holder of its own, not another stream of that process: it cannot
// hold off the loss of the other's results or take their releases. Empty
// for a worker that holds nothing.
std::string HolderKey(const WorkerSpec& spec);
std::string HolderKey(const v1::ObjectRef& ref);

// A job's output held by a worker, to copy into dagd's store (OutputKeeper)
// and then report back with Scheduler::OnOutputKept.
struct OutputToKeep {
  uint64_t seq = 0;
  uint32_t index = 0;
  // As the job records it; only key and holder when `check_record`.
  v1::ObjectRef ref;
  // Reported by a worker for a job no longer in memory: the stored record
  // says whether it is still that job's output to keep, and its size.
  bool check_record = false;
};

// An output copied into dagd's store: its new reference, and its task's
// stored status with the new location (for a job no longer in memory;
// absent when it could not be read).
struct KeptOutput {
  v1::ObjectRef stored;
  std::optional<v1::TaskStatus> status;
};

// A count per task state, indexed by v1::TaskState.
using TaskStateCounts = std::array<uint64_t, v1::TaskState_ARRAYSIZE>;

// What one turn of the scheduler produced, for its owner to carry out:
// store the writes (fsync when `sync`), then send the batches and events.
struct TurnOutput {
  WriteSet writes;
  bool sync = false;  // a job finished: its end is acknowledged to clients
  absl::flat_hash_map<WorkerId, v1::CoordinatorBatch> sends;
  // Events of jobs marked watched, in the order they happened.
  std::vector<std::pair<uint64_t, v1::JobEvent>> events;
  // Workers declared lost by Tick() (missed heartbeats); their streams
  // should be closed.
  std::vector<WorkerId> timed_out_workers;
  // For metrics: how long finished attempts ran (by the worker's clock),
  // by function, and how long assigned tasks had waited since ready.
  std::vector<std::pair<std::string, absl::Duration>> run_times;
  std::vector<absl::Duration> queue_waits;
  // For metrics: tasks that reached a final state, by v1::TaskState. Not
  // writes.task_statuses: a final status is also stored again (an output
  // copied into dagd's store), which finishes nothing.
  TaskStateCounts tasks_finished{};
  // Held outputs to copy into dagd's store, once the writes are stored.
  std::vector<OutputToKeep> keep;
  // Held results their holders may free once these writes are synced, not
  // before (Scheduler::ReleaseObjects then): an output copied into dagd's
  // store (a power failure would take back the unsynced record of the
  // copy, and the holder's copy would be the output's last), an input its
  // consumers no longer need (their unsynced results would be lost with
  // it, and the chain before it made again), a key nothing refers to.
  std::vector<v1::ObjectRef> release_when_synced;
};

// Counts for metrics, over the jobs in memory.
struct SchedulerCounts {
  TaskStateCounts tasks_by_state{};
  uint64_t jobs_pending = 0;
  uint64_t jobs_running = 0;
  uint64_t workers = 0;
  uint64_t slots_total = 0;
  uint64_t slots_busy = 0;
  uint64_t ready_queue = 0;
  // Over connected workers' object stores (their last heartbeats).
  uint64_t held_bytes = 0;
  uint64_t spilled_bytes = 0;
};

// The scheduler core: a pure state machine over unfinished jobs and
// connected workers. No gRPC, no storage, no clock of its own: events come
// in as method calls, time from the injected Clock, and every effect goes
// into the TurnOutput that TakeOutput() hands over.
//
// Thread rules: not thread-safe. One thread (the coordinator's loop) owns
// it and makes every call.
//
// A finished job leaves memory at the next TakeOutput(); its final status,
// task statuses and results are in that output's writes.
class Scheduler {
 public:
  // Distinct result content types kept by id; others are kept per result.
  static constexpr size_t kMaxInternedContentTypes = 64;

  // `random` returns a uniform double in [0, 1), for retry jitter.
  // `placement` chooses where tasks run; null: the default policy
  // (MakeDefaultPlacementPolicy) with these options' burst and grant
  // settings.
  Scheduler(SchedulerOptions options, Clock* clock,
            std::function<double()> random,
            std::unique_ptr<PlacementPolicy> placement = nullptr);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Adds a submitted job. `status` carries its id, name, priority, request
  // id and submission time; its tasks without dependencies become ready.
  void AddJob(uint64_t seq, CompiledJob job, v1::JobStatus status);
  // Adds an unfinished job read back from the store after a restart.
  // `finished` holds the stored statuses of its terminal tasks and
  // `results` the outputs of the succeeded ones, by task index. Those tasks
  // keep their state; every other task runs (again) once its inputs are in.
  void RestoreJob(
      uint64_t seq, CompiledJob job, v1::JobStatus status,
      const std::vector<std::pair<uint32_t, v1::TaskStatus>>& finished,
      absl::flat_hash_map<uint32_t, StoredResult> results);
  // Ends the recovery grace now (recovered jobs go on; holders not
  // connected are gone): every worker that could still run or hold their
  // work is back. A no-op without a grace pending.
  void EndRecoveryHold();
  // Whether recovered jobs still wait out the grace.
  bool RecoveryHeld() const {
    return recovery_hold_pending_ || recovery_hold_until_.has_value();
  }
  bool HasJob(uint64_t seq) const { return jobs_.contains(seq); }

  // Cancels an unfinished job: running tasks are cancelled on their
  // workers, the rest marked CANCELLED. A job that finished this turn is
  // left alone (cancelled=false). NOT_FOUND if the job is not in memory.
  absl::StatusOr<v1::CancelJobResponse> CancelJob(uint64_t seq);

  // Seals attempts (TaskRef.seal) with `key` from now on. The key comes
  // from the store, so that seals made before a restart check after it:
  // a result or running attempt a worker brings to a dagd that did not see
  // it handed out is taken over only if its seal names that worker.
  void SetAttemptKey(const SipKey& key) { attempt_key_ = key; }

  // Each tenant's weight and running-slots cap (JobStatus.tenant; the
  // policy file), `others` for tenants not named. Applies at once to the
  // jobs in memory and to those that come later.
  void SetTenantShares(absl::flat_hash_map<std::string, TenantShare> named,
                       TenantShare others);
  // What `tenant`'s unfinished jobs hold, for its quotas.
  TenantLoad LoadOf(absl::string_view tenant) const;

  void AddWorker(WorkerId id, WorkerSpec spec);
  // The worker's stream closed or it timed out: its tasks go back to the
  // ready queue and will run as a new attempt, and when it was its
  // process's last stream, what the process held is lost (made again where
  // still needed). With `keep_holder` (a worker that drained: its process
  // serves what it holds until dagd ends the stream) what it held stays
  // where it is until RemoveWorker(id) is called again.
  void RemoveWorker(WorkerId id, bool keep_holder = false);
  // The key of the process worker `id` is a stream of (HolderKey); empty
  // when it holds nothing, or is not connected.
  std::string HolderOf(WorkerId id) const;
  // The other streams of worker `id`'s process (the same name and process
  // instance) the scheduler still has: older ones dagd has not seen end.
  std::vector<WorkerId> OtherStreamsOf(WorkerId id) const;
  // The streams of the process named `name` with `instance` connected now
  // (a newer stream of it replaces them as it joins); 0 without instance.
  size_t StreamsOfProcess(absl::string_view name,
                          absl::string_view instance) const;
  bool HasWorker(WorkerId id) const { return workers_.contains(id); }
  size_t worker_count() const { return workers_.size(); }
  // Demands (kinds of task: function, slots, executor, labels, amounts) in
  // memory: those of jobs in memory, and at most kIdleDemands more.
  size_t demand_count() const { return demands_.size() - free_demands_.size(); }
  static constexpr size_t kIdleDemands = 256;
  // Also asks for the acknowledgement of the worker's results read so far:
  // it goes out with this turn's sends even if nothing else does. Keeps
  // the figures of its object store for Workers(). One that says the
  // worker drains makes it capable of nothing new, for good.
  void OnHeartbeat(WorkerId id, const v1::Heartbeat& heartbeat = {});
  // Every result worker `id` kept is in (Register or WorkerBatch
  // .kept_complete, after its results were handled): what it holds that
  // none of them refers to is released now, and the attempts it listed
  // running whose inputs were not all in are taken over or cancelled.
  void OnKeptComplete(WorkerId id);
  // Results no job in memory refers to (deleted jobs', strays a worker
  // listed at registration) that workers may still hold: each connected
  // holder is told to free its own.
  void ReleaseObjects(const std::vector<v1::ObjectRef>& refs);
  // `output` is now in dagd's store as `kept`: its result and task status
  // are recorded so, and its holder frees it once that is synced
  // (TurnOutput::release_when_synced). Nothing when the job in memory has
  // another result for the task by now.
  void OnOutputKept(const OutputToKeep& output, KeptOutput kept);
  void OnTaskStarted(WorkerId id, const v1::TaskStarted& started);
  // Every result is acknowledged to its worker (acked_up_to), with the
  // sends of this turn or a later one, by the rules of ResultAcks; sends go
  // out after their turn's writes are stored. A result of an attempt that
  // is not the task's current one is still taken when the task can use it: the
  // attempt ran before a restart, or on a worker declared lost that came back.
  // A success then ends any newer attempt; the rest of such reports are
  // dropped.
  void OnTaskResult(WorkerId id, v1::TaskResult result);

  // Fires what is due: retries whose backoff passed, job deadlines, workers
  // whose heartbeats stopped.
  void Tick();
  // When Tick() next has something to do, if ever.
  std::optional<absl::Time> NextWakeup() const;

  // Assigns ready tasks to workers with room. Across jobs: higher job
  // priority first; among jobs of equal priority, the one holding the fewest
  // slots, so a small job does not wait for a big one to drain; then
  // submission order. Within a job: task priority, critical-path rank,
  // submission order. Honours max_parallelism and exclusive groups; a task
  // whose best placement is blocked does not hold back others that fit.
  void Schedule();

  TurnOutput TakeOutput();

  // Queries over jobs in memory, including jobs that finished in this turn;
  // nullopt / NOT_FOUND when the job is not in memory.
  std::optional<v1::JobStatus> JobStatusOf(uint64_t seq) const;
  absl::StatusOr<v1::TaskStatus> TaskStatusOf(uint64_t seq,
                                              absl::string_view task_id);
  // Its tasks of index in [from, end), in order (end past the last: to the
  // last), and how many tasks it has.
  std::optional<std::vector<v1::TaskStatus>> TaskStatusesOf(
      uint64_t seq, uint32_t from = 0, uint32_t end = UINT32_MAX) const;
  std::optional<uint32_t> TaskCountOf(uint64_t seq) const;
  // The result of a succeeded task of a job in memory. NOT_FOUND when the
  // task has not succeeded (the message says its state).
  absl::StatusOr<StoredResult> ResultOf(uint64_t seq,
                                        absl::string_view task_id);
  std::vector<v1::WorkerInfo> Workers() const;
  SchedulerCounts Counts() const;
  uint64_t dropped_reports() const { return dropped_reports_; }
  // Attempts taken over from workers: running ones reported at Register,
  // and results of attempts this scheduler did not make.
  uint64_t adopted_attempts() const { return adopted_attempts_; }

  // What watchers of a job want in TurnOutput::events.
  enum class Watch { kNone, kEnd, kAllEvents };
  void SetWatched(uint64_t seq, Watch watch);

 private:
  struct Job;
  struct Worker;
  struct Demand;
  struct TaskRef {
    uint64_t seq;
    uint32_t task;
    bool operator==(const TaskRef& o) const {
      return seq == o.seq && task == o.task;
    }
    template <typename H>
    friend H AbslHashValue(H h, const TaskRef& r) {
      return H::combine(std::move(h), r.seq, r.task);
    }
  };
  struct Timer {
    absl::Time at;
    uint64_t seq;
    uint32_t task;
    uint32_t attempt;
    bool operator>(const Timer& o) const { return at > o.at; }
  };

  // Transitions.
  Job& InsertJob(uint64_t seq, CompiledJob graph, v1::JobStatus status);
  void SetJobState(Job& job, v1::JobState state);
  void MakeReady(Job& job, uint32_t task);
  void SetState(Job& job, uint32_t task, v1::TaskState state);
  void Assign(Job& job, uint32_t task, Worker& worker, PlacementReason reason);
  // The task's current attempt takes its slots, amounts and group on the
  // worker (through the ledger).
  void Hold(Job& job, uint32_t task, Worker& worker);
  // What the task's attempts hold while they run.
  Claim ClaimOf(const Job& job, uint32_t task) const;
  void MarkJobRunning(Job& job);
  // Takes over an attempt the worker reported running as it registered,
  // when the task is ready and nothing else holds it. With `may_wait`, one
  // whose task waits for inputs is decided later (Worker::unsettled_running).
  void AdoptRunning(Worker& worker, const v1::TaskRef& ref,
                    bool may_wait = true);
  // Decides the unsettled attempts whose tasks no longer wait for inputs
  // (an input came from elsewhere, or kept, before kept_complete), before
  // such a task is placed again: every pass, while any is unsettled.
  void SettleReadyAttempts();
  // The policy's reason for taking the attempt over, or nullopt.
  std::optional<PlacementReason> CanAdopt(const Job& job, uint32_t task,
                                          const Worker& worker) const;
  void Adopt(Job& job, uint32_t task, Worker& worker, uint32_t number,
             PlacementReason reason);
  // The task's current attempt is `worker`'s own process's, on an older
  // stream dagd has not seen end (a half-open connection): it moves to
  // `worker` when there is room, rather than being cancelled on the
  // process that runs it and run again once the old stream is dropped.
  // True when it moved.
  bool MoveFromOldStream(Job& job, uint32_t task, Worker& worker);
  // The same for an attempt the old stream was told to cancel, which the
  // process still runs: what it holds there (slots, amounts, its exclusive
  // group) is held on `worker` until `worker` reports its end, not freed
  // when the old stream goes. True when it moved.
  bool MoveStoppingFromOldStream(Worker& worker, const AttemptRef& attempt);
  // A result of an attempt that is not the current one: true when taken.
  bool AdoptResult(WorkerId id, Worker* worker, Job& job, uint32_t task,
                   v1::TaskResult& result);
  void ReleaseRecoveryHold();
  // Ends the current attempt's hold on its worker's slots and amounts, its
  // exclusive group and its job's running count.
  void EndAttempt(Job& job, uint32_t task);
  // Like EndAttempt for a cancelled attempt, except that what it holds on
  // its worker stays held until the worker reports the attempt ended.
  void StopAttempt(Job& job, uint32_t task);
  // The worker reported a stopping attempt's end (`result`), or is gone
  // (null). An output the attempt left held there is freed: nothing reads
  // a cancelled attempt's output.
  void ReleaseStopped(Worker& worker, const StoppingAttempt& stopped,
                      const AttemptRef& ref,
                      const v1::TaskResult* result = nullptr);
  // The group is free again: each job's best waiter for it is queued.
  void WakeGroupWaiters(GroupId group);
  // The worker, if connected, marked as just heard from.
  Worker* Touch(WorkerId id);

  // Grants ahead (scheduler_grants.cc).
  AttemptRecord& NewAttempt(Job& job, uint32_t task, Worker& worker,
                            PlacementReason reason);
  // Adds the assignment of the task's current attempt to the worker's
  // batch. `after`, if not kNoTask, is the task granted before it there.
  void AddAssignment(Job& job, uint32_t task, Worker& worker, uint32_t after);
  // Records `next` as granted after `task` on `worker` and adds its
  // assignment.
  void GrantAfter(Job& job, uint32_t task, uint32_t next, Worker& worker,
                  PlacementReason reason);
  // Whether `next` is granted, and after `task`.
  static bool GrantedAfter(const Job& job, uint32_t next, uint32_t task);
  // The chain granted after a task: its last task (the head itself when
  // nothing was granted) and how many follow the head.
  struct Chain {
    uint32_t tail;
    uint32_t length;
  };
  Chain GrantAhead(Job& job, uint32_t head, Worker& worker);
  // Queued grants (SchedulerOptions::grant_queued) behind `chain`, which
  // GrantAhead granted after `head` on `worker`, up to the option's count.
  void GrantQueued(Job& job, uint32_t head, Chain chain, Worker& worker);
  // The task did not succeed: what was granted after it goes back to
  // waiting (WaitAgain).
  void RevokeGrants(Job& job, uint32_t task);
  // A grant that will not run as granted: PENDING until its inputs are
  // done, or READY at once if they are (a queued grant).
  void WaitAgain(Job& job, uint32_t task);
  // The task succeeded: its granted successor now runs on its slots.
  void PassSlotsOn(Job& job, uint32_t task, WorkerId worker);
  void RecordRunTime(uint32_t fn, absl::Duration run_time);
  // The same for the job's own tasks of `demand` (Job::run_ms).
  static void RecordJobRunTime(Job& job, uint32_t demand,
                               absl::Duration run_time);

  // Results held by workers (scheduler_data.cc).
  // Holders are keyed by name and process instance (HolderKey).
  // The worker joined: it holds what refs naming it as holder name, as far
  // as its list of held keys says; what it holds that nothing refers to is
  // released.
  void AddHolder(Worker& worker);
  // Worker `worker` holds `key`, an output of `task` (seq, index) of a job
  // not in memory: copied if the stored record still waits for it, else
  // freed (OutputKeeper).
  void KeepIfRecorded(const Worker& worker, const std::string& key,
                      std::pair<uint64_t, uint32_t> task);
  // Stream `id` of `holder` left; when it was the holder's last stream,
  // what the holder held is lost.
  void RemoveHolder(const std::string& holder, WorkerId id);
  // Everything `holder` held is gone: needed results are recomputed.
  void LoseHolder(const std::string& holder);
  // After a restart, once workers had the recovery grace to reconnect:
  // results held by holders that did not are lost.
  void LoseAbsentHolders();
  // The task's result is kept; one held by a worker is tracked.
  void TrackHeld(Job& job, uint32_t task);
  // Frees a held result on its holder; the task's result is gone.
  void ReleaseHeld(Job& job, uint32_t task);
  // No reader of the held result needs it any more: an intermediate is
  // freed, an output copied into dagd's store.
  void ConsumersDone(Job& job, uint32_t task);
  // Readers of `task`'s result yet to succeed (`after` ones read none).
  static uint32_t ReadersWaiting(const Job& job, uint32_t task);
  // `task` succeeded: inputs held for it whose consumers all succeeded are
  // freed.
  void ReleaseConsumedInputs(Job& job, uint32_t task);
  // The job finished: its intermediates still held are freed (its outputs
  // stay until it is deleted).
  void ReleaseIntermediates(Job& job);
  // Tells the holder of `ref`, if it is connected, to free it.
  void SendRelease(const v1::ObjectRef& ref);
  // The same for `worker`'s `key` that nothing refers to, once this turn's
  // writes are synced (TurnOutput::release_when_synced): a record of them
  // not yet synced may still refer to it.
  void ReleaseWhenSynced(const Worker& worker, const std::string& key);
  // Forgets that the holder of task `task`'s `ref` holds it for the job.
  void Untrack(const Job& job, uint32_t task, const v1::ObjectRef& ref);
  // The task's held result is gone (`why`): when the job still needs it,
  // the task runs again, with the inputs it needs that are gone too.
  void ResultLost(Job& job, uint32_t task, const std::string& why);
  void Recompute(Job& job, uint32_t task, const std::string& why);
  // A successor of a recomputed task waits for it again; an attempt of it
  // that is running is stopped (without counting as a failure) when it
  // `reads` the task's output, and runs on when it only came `after`.
  void AwaitInputAgain(Job& job, uint32_t consumer, bool reads,
                       const std::string& why);
  // The edges (inputs and `after`, one per listing) into `task` from tasks
  // not succeeded: what its `remaining` is when it waits afresh.
  uint32_t UnfinishedPredecessors(const Job& job, uint32_t task) const;
  // `result` failed because held inputs could not be had from their
  // holders (TaskResult.lost_inputs): those are made again and the task
  // waits for them, without counting a failure. False (nothing done) when
  // the report names no input that is held.
  bool RunAgainForLostInputs(Job& job, uint32_t task,
                             const v1::TaskResult& result,
                             const Worker* reporter);
  // A report not taken (a stale attempt or a duplicate) whose output its
  // worker holds: freed there, unless it is the task's result after all.
  void ReleaseUnusedOutput(const Job& job, uint32_t task,
                           const v1::TaskResult& result,
                           const Worker* reporter);
  // Frees `result`'s output on `reporter`, when it holds it.
  void ReleaseOutputOf(const Worker& reporter, const v1::TaskResult& result);
  // Why `result`'s output_ref cannot be this attempt's output; empty when
  // it can (or there is none).
  std::string OutputRefProblem(const Job& job, uint32_t task,
                               const v1::TaskResult& result,
                               const Worker* reporter) const;
  // Why a successful `result` cannot be taken for its size (over
  // max_result_bytes); empty when it can. Permanent: it would be as big
  // again.
  std::string OutputSizeProblem(const v1::TaskResult& result) const;
  bool SealMatches(uint64_t seq, uint32_t task, const v1::TaskRef& ref,
                   const Worker& worker) const;
  // Takes the output (or its output_ref) out of a successful `result`
  // that `reporter` (not null for a held output) sent.
  void Succeed(Job& job, uint32_t task, v1::TaskResult& result,
               const Worker* reporter);
  // Keeps `result` as task `task`'s in memory.
  void KeepResult(Job& job, uint32_t task, StoredResult result);
  // Task `task`'s result as the store keeps it.
  StoredResult ResultOfTask(const Job& job, uint32_t task) const;
  const std::string& ContentTypeOf(const Job& job, uint32_t task) const;
  void Fail(Job& job, uint32_t task, std::string error, bool permanent);
  void FailForGood(Job& job, uint32_t task);
  // Cancels every unfinished task; `reason`, if any, becomes their error.
  void CancelRest(Job& job, absl::string_view reason);
  // The job's deadline passed: what is left is cancelled, the job FAILED.
  void ExpireJob(Job& job);
  void MaybeFinish(Job& job);

  // Placement.
  uint32_t DemandOf(const TaskKind& kind, const Executor& executor);
  // Whether tasks naming Lambda function `lambda_function` (empty: dagd's
  // own) may be sent to Lambda now.
  bool MayInvoke(const std::string& lambda_function) const;
  // No worker could ever run the demand. Lambda's dispatcher counts only
  // for tasks that ask for Lambda: bursts only take work that some worker
  // could do.
  bool NoWorkerCanRun(const Demand& demand) const;
  bool Fits(const Worker& worker, const Demand& demand) const;
  bool HasRoom(const Worker& worker, const Demand& demand) const;
  // Queues a ready task (not backing off) in its job's heap for its demand.
  void Enqueue(Job& job, uint32_t task);
  // Puts the job in the sorter's line under its current key, or takes it
  // out when it has nothing queued or is at its max_parallelism.
  void UpdateRunnable(Job& job);
  // Events change a job's key many times per turn; it is updated once, at
  // the start of the next Schedule().
  void MarkRunnableStale(Job& job);
  // The job's best task that a worker has room for now, and that worker.
  // Drops stale entries and sets aside tasks whose group is held.
  struct Placement {
    JobQueue* queue = nullptr;
    Worker* worker = nullptr;
    PlacementReason reason;
  };
  Placement BestPlacement(Job& job);
  // Asks the placement policy among the demand's capable workers that
  // could be its answer (those holding the task's inputs, the least loaded,
  // Lambda); sets the burst wake-up when the answer may change with time
  // alone.
  std::pair<Worker*, PlacementReason> PickWorker(const Job& job, uint32_t task,
                                                 const Demand& demand);
  // Fill candidates_ and looked_at_ for PickWorker: with every capable
  // worker (a few), or with those that could be the policy's answer (the
  // workers that made or hold the task's inputs, the least loaded one,
  // Lambda), found without looking at the others.
  void LookAtEvery(const Job& job, uint32_t task, const Demand& demand,
                   bool held_inputs);
  void LookAtLikely(const Job& job, uint32_t task, const Demand& demand,
                    bool held_inputs);
  // A job or a stopping attempt no longer uses demand `index`: unused, it
  // idles, and the oldest idle demand past kIdleDemands is retired.
  void ReleaseDemand(uint32_t index);
  // No worker keeps it indexed, and its id goes to the next new demand.
  void RetireDemand(uint32_t index);
  // Adds `worker` to demand `index`'s capable workers.
  void AddCapable(uint32_t index, Worker& worker);
  // Keeps the free-slot indexes true after `worker`'s slots changed.
  void Reindex(const Worker& worker);
  // Takes `worker` out of every demand's lists: nothing is placed on it.
  void ForgetCapabilities(Worker& worker);
  // The worker drains: capable of nothing, its free slots no one's.
  void StopPlacingOn(Worker& worker);
  // `worker` did not start its attempt of `task` (TaskResult.not_started):
  // it drains. The task waits to run elsewhere, its retries untouched.
  void GiveBack(Job& job, uint32_t task, Worker& worker);
  // The task's successor that may be granted ahead after it on `worker`,
  // with the policy's reason.
  std::pair<uint32_t, PlacementReason> GrantableSuccessor(
      const Job& job, uint32_t task, const Worker& worker) const;
  std::string DemandText(const Demand& demand) const;
  // The size of an input's result, and how much of it `worker` holds.
  uint64_t InputBytes(const Job& job, uint32_t input) const;
  // Adds (sign +1) or takes away (-1) a worker's heartbeat figures from
  // the totals TransferRate reads.
  void CountTransfers(const v1::Heartbeat& stats, int sign);
  // Bytes per second workers fetch held inputs at, over the connected
  // workers' last heartbeats; an assumed rate until they fetched a while.
  double TransferRate() const;
  uint64_t BytesHeldBy(const Job& job, uint32_t input,
                       const Worker& worker) const;

  // Views.
  // `for_store`: as the store keeps it, the placement reasons compact.
  v1::TaskStatus BuildTaskStatus(const Job& job, uint32_t task,
                                 bool for_store = false) const;
  v1::JobStatus BuildJobStatus(const Job& job, bool with_waiting) const;
  // Why a PENDING or READY task is not running. `never_fits`, if given, is
  // set when no connected worker could ever run it.
  std::string WaitingReason(const Job& job, uint32_t task,
                            bool* never_fits) const;
  absl::StatusOr<uint32_t> FindTask(Job& job, absl::string_view task_id);
  // An unfinished job, for events: nullptr once it finished.
  Job* FindJob(uint64_t seq);
  const Job* FindJob(uint64_t seq) const;
  // Any job in memory, finished ones included, for queries: a job that
  // finished earlier in this turn is still answered from memory.
  Job* FindAnyJob(uint64_t seq);
  const Job* FindAnyJob(uint64_t seq) const;
  void PersistJobStatus(const Job& job);
  // The tenant's id, interned on first sight with its share.
  uint32_t InternTenant(absl::string_view name);
  const TenantShare& ShareOf(absl::string_view tenant) const;

  // Constant after construction.
  const SchedulerOptions options_;
  Clock* const clock_;
  const std::function<double()> random_;
  const std::unique_ptr<PlacementPolicy> placement_;

  absl::flat_hash_map<uint64_t, std::unique_ptr<Job>> jobs_;
  absl::flat_hash_map<WorkerId, std::unique_ptr<Worker>> workers_;
  NameTable functions_;
  NameTable content_types_;  // of results in memory
  uint32_t last_content_type_ = 0;
  NameTable resource_names_;
  NameTable group_names_;
  NameTable tenant_names_;  // JobStatus.tenant, for the job sorter
  // By tenant id: the unfinished jobs in memory (every one: a restart
  // loads them all).
  std::vector<TenantLoad> tenant_loads_;
  // By tenant id: TenantShare::lambda_burst.
  std::vector<bool> tenant_bursts_;
  absl::flat_hash_map<std::string, TenantShare> tenant_shares_;
  TenantShare other_tenants_share_;
  SipKey attempt_key_{};
  std::vector<GroupWaiters> group_waiters_;  // by GroupId
  // Slots, amounts, groups and job counts held by attempts.
  ResourceLedger ledger_;
  // Recent mean run time of each function's attempts, by function id;
  // negative until a first attempt reported. Decides what is granted.
  std::vector<double> fn_run_ms_;
  // Demands by id; the common ones (no pool, labels or amounts) found by
  // (function, slots), the rest by a key spelling out every need.
  // Retired ones are null, their ids in free_demands_ for the next new one.
  std::vector<std::unique_ptr<Demand>> demands_;
  absl::flat_hash_map<std::pair<uint32_t, uint32_t>, uint32_t> plain_demands_;
  absl::flat_hash_map<std::string, uint32_t> other_demands_;
  std::vector<uint32_t> free_demands_;
  // Demands no job or attempt uses, oldest first (by Demand::idle_since):
  // kept for jobs of the same kinds to come, up to kIdleDemands.
  absl::btree_map<uint64_t, uint32_t> idle_demands_;
  uint64_t idle_clock_ = 0;
  // Jobs with queued tasks that may run now, in line (job_sorter.h).
  const std::unique_ptr<JobSorter> sorter_;
  std::vector<uint64_t> stale_runnable_;  // jobs for MarkRunnableStale
  uint64_t pass_ = 0;                     // counts Schedule() passes
  // When a task waiting to burst to Lambda may go there, if one waits.
  std::optional<absl::Time> burst_wakeup_;
  std::vector<Job*> skipped_;          // Schedule()'s scratch, kept to reuse
  std::vector<Candidate> candidates_;  // PickWorker()'s scratch
  std::vector<Worker*> looked_at_;     // and the workers they stand for
  // PickWorker() left Lambda out for the task's tenant (no bursts).
  bool lambdas_dropped_ = false;
  // PickWorker()'s count of the inputs each worker made, and of the bytes
  // of them it holds.
  struct InputsHeld {
    uint32_t inputs = 0;
    uint64_t bytes = 0;
  };
  absl::flat_hash_map<Worker*, InputsHeld> held_here_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> retries_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>>
      deadlines_;
  // Jobs in memory by v1::JobState; finished ones leave at TakeOutput().
  std::array<uint64_t, v1::JobState_ARRAYSIZE> job_counts_{};
  TaskStateCounts task_counts_{};
  std::vector<uint64_t> finished_jobs_;  // leave memory at TakeOutput()
  uint64_t dropped_reports_ = 0;
  uint64_t adopted_attempts_ = 0;
  // Recovered jobs are held until then: set by the first Tick() after a
  // RestoreJob (pending until that Tick).
  std::optional<absl::Time> recovery_hold_until_;
  bool recovery_hold_pending_ = false;
  // While RecoveryHeld(): the exclusive groups of recovered jobs' unfinished
  // tasks, which a worker not back yet may still be running. No task takes
  // them until the hold ends.
  absl::flat_hash_set<GroupId> recovery_groups_;
  ResultAcks acks_;
  // Over connected workers' last heartbeats (CountTransfers).
  double fetched_bytes_ = 0;
  double transfer_seconds_ = 0;
  // Connected workers by HolderKey (a process may briefly have two
  // streams), and the results of jobs in memory each holder holds.
  absl::flat_hash_map<std::string, std::vector<WorkerId>> holders_;
  // Drained workers removed with keep_holder: still among holders_ streams
  // until removed again.
  absl::flat_hash_map<WorkerId, std::string> leaving_holders_;
  absl::flat_hash_map<std::string, absl::flat_hash_set<TaskRef>> held_by_;
  // Workers with attempts in Worker::unsettled_running.
  absl::flat_hash_set<WorkerId> unsettled_workers_;
  TurnOutput out_;
};

}  // namespace dagd

#endif  // DAGD_SERVER_SCHEDULER_H_
