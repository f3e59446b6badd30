#include "worker/fleet/sim_worker.h"

#include <algorithm>
#include <atomic>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "storage/flow_control.h"
#include "worker/cancellation.h"
#include "worker/data_plane.h"

namespace dagd {

// One Connect stream. Deletes itself when gRPC is done with it.
class SimWorker::Stream
    : public grpc::ClientBidiReactor<v1::WorkerMessage,
                                     v1::CoordinatorMessage> {
 public:
  Stream(SimWorker* owner, v1::WorkerMessage hello) : owner_(owner) {
    owner_->stub_->async()->Connect(&context_, this);
    // Held until the reading side has ended and no write is in flight: a
    // write started after gRPC finished the call would be a misuse (and
    // aborts), and Send may come from any thread at any time.
    AddHold();
    Send(std::move(hello));
    StartRead(&in_);
    StartCall();
  }

  // Queues `message`; messages go out one write at a time, in order.
  void Send(v1::WorkerMessage message) {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    out_.push_back(std::move(message));
    if (!writing_) {
      writing_ = true;
      StartWrite(&out_.front());
    }
  }

  void Cancel() { context_.TryCancel(); }

  // Messages read so far (Heartbeat.messages_read).
  uint64_t messages_read() const {
    return read_.load(std::memory_order_relaxed);
  }

  // Whether a heartbeat is due at `now` (and, if so, counts it as sent).
  bool HeartbeatDue(absl::Time now) {
    absl::MutexLock lock(&mu_);
    if (interval_ == absl::ZeroDuration() ||
        now - last_heartbeat_ < interval_) {
      return false;
    }
    last_heartbeat_ = now;
    return true;
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    out_.pop_front();
    if (!ok) {
      closed_ = true;
      out_.clear();
    }
    if (out_.empty() || closed_) {
      writing_ = false;
      out_.clear();
      MaybeRelease();
    } else {
      StartWrite(&out_.front());
    }
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The stream ends: nothing more is written, and OnDone follows once
      // a write in flight is done.
      absl::MutexLock lock(&mu_);
      closed_ = true;
      reading_ended_ = true;
      MaybeRelease();
      return;
    }
    read_.fetch_add(1, std::memory_order_relaxed);
    // Handled before the next read, as dagd-worker's read loop does: the
    // results that end at once are queued by then, and gRPC sends the
    // window update for the message read with their write instead of in a
    // write of its own (README, Measured: the fleet).
    Handle(in_);
    in_.Clear();
    StartRead(&in_);
  }

  void OnDone(const grpc::Status&) override {
    owner_->StreamEnded(registered_);
    delete this;
  }

 private:
  // What a message from dagd asks for; results that end at once are
  // queued to go back before the next read starts.
  void Handle(const v1::CoordinatorMessage& message) {
    if (message.has_registered()) {
      {
        absl::MutexLock lock(&mu_);
        interval_ = absl::Milliseconds(std::max<uint32_t>(
            message.registered().heartbeat_interval_ms(), 100));
        last_heartbeat_ = absl::Now();
      }
      registered_ = true;
      ++owner_->shared_->registered;
      ++owner_->shared_->registrations;
      absl::MutexLock lock(&owner_->mu_);
      owner_->failed_connects_ = 0;
      return;
    }
    if (!message.has_batch()) return;
    const v1::CoordinatorBatch& batch = message.batch();
    if (batch.acked_up_to() != 0) owner_->Acked(batch.acked_up_to());
    // What ends at once goes back in one batch, as dagd-worker's outbox
    // sends what is ready together.
    std::vector<v1::TaskResult> done;
    for (const v1::Assignment& a : batch.assignments()) owner_->Run(a, &done);
    if (!done.empty()) owner_->Report(std::move(done));
  }

  void MaybeRelease() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (reading_ended_ && !writing_ && !released_) {
      released_ = true;
      RemoveHold();
    }
  }

  SimWorker* const owner_;
  grpc::ClientContext context_;
  v1::CoordinatorMessage in_;
  std::atomic<uint64_t> read_{0};
  bool registered_ = false;  // read and written on the reading thread only
  absl::Mutex mu_;
  std::deque<v1::WorkerMessage> out_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;  // no more writes start
  bool reading_ended_ ABSL_GUARDED_BY(mu_) = false;
  bool released_ ABSL_GUARDED_BY(mu_) = false;  // the hold is removed
  absl::Duration interval_ ABSL_GUARDED_BY(mu_);
  absl::Time last_heartbeat_ ABSL_GUARDED_BY(mu_);
};

SimWorker::SimWorker(FleetShared* shared, std::string name,
                     std::shared_ptr<grpc::ChannelCredentials> credentials)
    : shared_(shared), name_(std::move(name)), instance_(NewInstanceId()) {
  if (credentials == nullptr) credentials = shared_->credentials;
  if (shared_->connection_per_worker) {
    grpc::ChannelArguments args;
    // A subchannel (connection) of its own, not the process's shared one.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetString("dagd.fleet.worker", name_);
    SetFlowControl(args);  // as dagd-worker's channel
    channel_ =
        grpc::CreateCustomChannel(shared_->coordinator, credentials, args);
  } else {
    channel_ = shared_->channel;
  }
  stub_ = v1::WorkerService::NewStub(channel_);
}

SimWorker::~SimWorker() { Stop(); }

void SimWorker::Start() { Connect(); }

void SimWorker::Stop() {
  absl::MutexLock lock(&mu_);
  stopped_ = true;
  if (stream_ != nullptr) stream_->Cancel();
  while (stream_ != nullptr) ended_.Wait(&mu_);
}

void SimWorker::Connect() {
  v1::WorkerMessage hello;
  v1::Register* r = hello.mutable_register_();
  r->set_name(name_);
  r->set_instance(instance_);
  r->set_slots(shared_->slots);
  for (const char* fn : {"const", "add", "identity"}) r->add_functions(fn);
  r->add_runtimes("builtin");
  r->set_counts_reads(true);  // heartbeats say messages_read
  absl::MutexLock lock(&mu_);
  if (stopped_ || stream_ != nullptr) return;
  // What it ran and dagd has not acknowledged: dagd takes it from here.
  for (const v1::TaskResult& kept : kept_) *r->add_results() = kept;
  r->set_kept_complete(true);  // all of them, however many
  for (const v1::TaskRef& ref : running_) *r->add_running() = ref;
  stream_ = new Stream(this, std::move(hello));
}

void SimWorker::StreamEnded(bool registered) {
  if (registered) --shared_->registered;
  absl::MutexLock lock(&mu_);
  stream_ = nullptr;
  ended_.SignalAll();
  if (stopped_) return;
  // As dagd-worker: from 100 ms, doubling to 1 s, with jitter, so that a
  // fleet whose coordinator restarted does not come back in one instant.
  const int tries = std::min(failed_connects_++, 4);
  thread_local std::mt19937 random(std::random_device{}());
  const double jitter =
      std::uniform_real_distribution<double>(0.5, 1.0)(random);
  const absl::Duration delay =
      std::min(absl::Milliseconds(100) * (1 << tries), absl::Seconds(1)) *
      jitter;
  shared_->timers->ScheduleAfter(delay, [this] { Connect(); });
}

void SimWorker::MaybeHeartbeat(absl::Time now) {
  absl::MutexLock lock(&mu_);
  if (stream_ == nullptr || !stream_->HeartbeatDue(now)) return;
  v1::WorkerMessage beat;
  beat.mutable_heartbeat()->set_messages_read(stream_->messages_read());
  stream_->Send(std::move(beat));
}

void SimWorker::Run(const v1::Assignment& a,
                    std::vector<v1::TaskResult>* done) {
  ++shared_->attempts;
  v1::TaskResult result;
  *result.mutable_task() = a.task();
  const int64_t started = absl::ToUnixMillis(absl::Now());
  result.set_started_unix_ms(started);
  const TaskFunction* fn = shared_->functions->Find(a.fn());
  if (fn == nullptr) {
    result.set_error(
        absl::StrCat("dagd-fleet runs no function '", a.fn(), "'"));
    result.set_permanent(true);
  } else {
    std::vector<Payload> inputs;
    inputs.reserve(a.inputs_size());
    for (const v1::Payload& p : a.inputs()) {
      inputs.push_back(Payload{p.data(), p.content_type()});
    }
    CancellationToken token;
    TaskContext context(AttemptInfo{a.task().job_id(), a.task_id(),
                                    a.task().task_index(), a.task().attempt()},
                        a.args(), std::move(inputs), &token);
    absl::StatusOr<Payload> out = (*fn)(context);
    result.set_ok(out.ok());
    if (out.ok()) {
      result.mutable_output()->set_data(std::move(out->data));
      result.mutable_output()->set_content_type(std::move(out->content_type));
    } else {
      result.set_error(std::string(out.status().message()));
    }
  }
  if (shared_->task_duration <= absl::ZeroDuration()) {
    result.set_finished_unix_ms(started);
    done->push_back(std::move(result));
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    running_.push_back(result.task());
  }
  shared_->timers->ScheduleAfter(
      shared_->task_duration, [this, result = std::move(result)]() mutable {
        result.set_finished_unix_ms(absl::ToUnixMillis(absl::Now()));
        std::vector<v1::TaskResult> done;
        done.push_back(std::move(result));
        Report(std::move(done));
      });
}

void SimWorker::Report(std::vector<v1::TaskResult> results) {
  shared_->results += results.size();
  absl::MutexLock lock(&mu_);
  v1::WorkerMessage message;
  v1::WorkerBatch* batch = message.mutable_batch();
  for (v1::TaskResult& result : results) {
    // No longer running: reported (or kept to be) from here on.
    auto ran = std::find_if(
        running_.begin(), running_.end(), [&](const v1::TaskRef& r) {
          return r.job_id() == result.task().job_id() &&
                 r.task_index() == result.task().task_index() &&
                 r.attempt() == result.task().attempt();
        });
    if (ran != running_.end()) running_.erase(ran);
    result.set_report_order(next_report_++);
    kept_.push_back(result);
    *batch->add_results() = std::move(result);
  }
  // Without a stream, the next Register carries them.
  if (stream_ != nullptr) stream_->Send(std::move(message));
}

void SimWorker::Acked(uint64_t up_to) {
  absl::MutexLock lock(&mu_);
  while (!kept_.empty() && kept_.front().report_order() <= up_to) {
    kept_.pop_front();
  }
}

}  // namespace dagd
