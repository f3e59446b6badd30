// The coordinator's side of worker streams: registration (with what a
// reconnecting worker still holds), reports, and departures. Part of
// Coordinator; every function posts to the loop thread.

#include <cmath>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "server/control_chars.h"
#include "server/coordinator.h"
#include "server/log.h"

namespace dagd {
namespace {

WorkerSpec SpecOf(WorkerId id, v1::Register& registration, std::string peer) {
  WorkerSpec spec;
  spec.name =
      registration.name().empty() ? WorkerIdName(id) : registration.name();
  spec.slots = registration.slots();
  spec.pool = registration.pool();
  for (const auto& [key, value] : registration.labels()) {
    spec.labels.emplace_back(key, value);
  }
  for (const auto& [name, amount] : registration.resources()) {
    spec.resources.emplace_back(name, amount);
  }
  spec.functions.assign(registration.functions().begin(),
                        registration.functions().end());
  spec.runtimes.assign(registration.runtimes().begin(),
                       registration.runtimes().end());
  spec.peer = std::move(peer);
  spec.accepts_grants = registration.accepts_grants();
  spec.data_address = registration.data_address();
  spec.instance = registration.instance();
  spec.held.assign(
      std::make_move_iterator(registration.mutable_held()->begin()),
      std::make_move_iterator(registration.mutable_held()->end()));
  for (const v1::TaskResult& result : registration.results()) {
    if (result.has_output_ref()) {
      spec.reporting.push_back(result.output_ref().key());
    }
  }
  spec.running.assign(
      std::make_move_iterator(registration.mutable_running()->begin()),
      std::make_move_iterator(registration.mutable_running()->end()));
  spec.kept_complete = registration.kept_complete();
  spec.draining = registration.draining();
  return spec;
}

// What a worker may register: names that show in logs, metrics and
// dagctl are printable and bounded, and one worker cannot make dagd keep
// (and export) thousands of function names.
constexpr size_t kMaxWorkerFunctions = 1024;
constexpr size_t kMaxNameBytes = 256;

bool Printable(absl::string_view s) {
  return s.size() <= kMaxNameBytes && !HasControl(s);
}

// Why `registration` is refused; empty when it is not.
std::string RegistrationProblem(const v1::Register& registration) {
  if (registration.functions_size() > static_cast<int>(kMaxWorkerFunctions)) {
    return absl::StrCat("a worker may offer at most ", kMaxWorkerFunctions,
                        " functions, not ", registration.functions_size());
  }
  std::vector<std::pair<absl::string_view, std::string>> names = {
      {"name", registration.name()},
      {"pool", registration.pool()},
      {"instance", registration.instance()}};
  for (const std::string& fn : registration.functions()) {
    names.emplace_back("function", fn);
  }
  for (const auto& [key, value] : registration.labels()) {
    names.emplace_back("label", key);
    names.emplace_back("label value", value);
  }
  for (const std::string& runtime : registration.runtimes()) {
    names.emplace_back("runtime", runtime);
  }
  for (const auto& [resource, amount] : registration.resources()) {
    names.emplace_back("resource", resource);
    // A capacity that is not a number would pass every fit check.
    if (!std::isfinite(amount) || amount < 0) {
      return absl::StrCat("the worker's resource '",
                          absl::CHexEscape(resource.substr(0, 64)), "' is ",
                          amount, "; a capacity is a finite number, 0 or more");
    }
  }
  for (const auto& [what, text] : names) {
    if (!Printable(text)) {
      return absl::StrCat(
          "the worker's ", what, " '", absl::CHexEscape(text.substr(0, 64)),
          "' holds control characters or is over ", kMaxNameBytes, " bytes");
    }
  }
  return "";
}

}  // namespace

void Coordinator::WorkerConnected(WorkerId id,
                                  std::shared_ptr<Dispatcher> dispatcher,
                                  v1::Register registration, std::string peer,
                                  bool certified) {
  Post([this, id, dispatcher = std::move(dispatcher),
        registration = std::move(registration), peer = std::move(peer),
        certified]() mutable {
    const v1::ObjectStoreConfig& objects = options_.scheduler.object_store;
    if (!objects.bucket().empty() && !registration.reads_object_refs()) {
      LOG(WARNING) << "refused worker '" << registration.name()
                   << "': it cannot read results kept in the object store";
      dispatcher->Close(absl::FailedPreconditionError(absl::StrCat(
          "dagd keeps results over ", objects.inline_max_bytes(),
          " bytes in s3://", objects.bucket(),
          " and this worker cannot read them (Register.reads_object_refs): "
          "upgrade dagd-worker")));
      return;
    }
    // Older streams of the same process go as this one joins: a process
    // reconnecting over its half-open stream is no new worker.
    if (scheduler_.worker_count() -
            scheduler_.StreamsOfProcess(registration.name(),
                                        registration.instance()) >=
        options_.max_workers) {
      LOG(WARNING) << "refused worker " << WorkerIdName(id) << ": "
                   << options_.max_workers << " are connected (--max_workers)";
      dispatcher->Close(absl::ResourceExhaustedError(absl::StrCat(
          "dagd has ", options_.max_workers,
          " workers connected, its limit (--max_workers); try again later")));
      return;
    }
    if (std::string problem = RegistrationProblem(registration);
        !problem.empty()) {
      LOG(WARNING) << "refused worker " << WorkerIdName(id) << ": " << problem;
      dispatcher->Close(absl::InvalidArgumentError(problem));
      return;
    }
    WorkerSpec spec = SpecOf(id, registration, std::move(peer));
    if (spec.slots > options_.max_worker_slots) {
      LOG(WARNING) << "worker " << WorkerIdName(id) << " (" << spec.name
                   << ") asked for " << spec.slots << " slots; it gets "
                   << options_.max_worker_slots << " (--max_worker_slots)";
      spec.slots = options_.max_worker_slots;
    }
    // Attempts and results from another store name other jobs.
    spec.foreign = !registration.store_id().empty() &&
                   registration.store_id() != store_id_;
    if (spec.foreign) spec.running.clear();
    LOG(INFO) << "worker " << WorkerIdName(id) << " (" << spec.name << ", "
              << spec.slots << " slots, " << spec.functions.size()
              << " functions) joined"
              << (spec.running.empty()
                      ? ""
                      : absl::StrCat(", still running ", spec.running.size(),
                                     " tasks"))
              << (registration.results().empty()
                      ? ""
                      : absl::StrCat(", with ", registration.results_size(),
                                     " results kept"))
              << (spec.foreign ? ", holding work of another data directory "
                                 "(ignored)"
                               : "");
    roster_.Joined(id, spec.instance, spec.name, certified);
    JoinWorker(id, dispatcher, std::move(spec));
    // Kept results count before this turn hands anything out.
    for (v1::TaskResult& result : *registration.mutable_results()) {
      turn_result_bytes_ += result.output().data().size();
      scheduler_.OnTaskResult(id, std::move(result));
    }
    if (registration.kept_complete()) {
      scheduler_.OnKeptComplete(id);
      CaughtUp(id);
    }
    DropOlderStreams(id);
    v1::CoordinatorMessage message;
    message.mutable_registered()->set_worker_id(WorkerIdName(id));
    message.mutable_registered()->set_heartbeat_interval_ms(
        absl::ToInt64Milliseconds(options_.heartbeat_interval));
    message.mutable_registered()->set_store_id(store_id_);
    *message.mutable_registered()->mutable_object_store() =
        options_.scheduler.object_store;
    message.mutable_registered()->set_inline_max_bytes(
        options_.inline_max_bytes);
    message.mutable_registered()->set_max_result_bytes(
        options_.scheduler.max_result_bytes);
    message.mutable_registered()->set_data_secret(options_.data_secret);
    // By the outbox, ahead of this turn's batches: a fleet registering
    // again after a restart is answered off the loop thread.
    AfterCommit([this, dispatcher,
                 message = std::move(message)](const absl::Status& s) mutable {
      if (s.ok()) turn_letters_.push_back({dispatcher, std::move(message), {}});
    });
  });
}

void Coordinator::ConnectLocalWorker(
    WorkerId id, std::shared_ptr<InProcessDispatcher> dispatcher) {
  WorkerSpec spec = dispatcher->Spec();
  Post([this, id, dispatcher = std::move(dispatcher),
        spec = std::move(spec)]() mutable {
    LOG(INFO) << "worker " << WorkerIdName(id) << " (" << spec.name << ", "
              << spec.slots << " slots, pool " << spec.pool << ") joined";
    JoinWorker(id, std::move(dispatcher), std::move(spec));
  });
}

void Coordinator::JoinWorker(WorkerId id,
                             std::shared_ptr<Dispatcher> dispatcher,
                             WorkerSpec spec) {
  scheduler_.AddWorker(id, std::move(spec));
  ++turn_registrations_;
  dispatchers_[id] = std::move(dispatcher);
}

void Coordinator::WorkerMessage(WorkerId id, v1::WorkerMessage message,
                                std::shared_ptr<ReadGate> gate,
                                uint64_t bytes) {
  Post([this, id, message = std::move(message), gate = std::move(gate),
        bytes]() mutable {
    absl::Cleanup handled = [&] {
      if (gate != nullptr) gate->Handled(bytes);
    };
    if (!scheduler_.HasWorker(id)) return;  // declared lost already
    switch (message.msg_case()) {
      case v1::WorkerMessage::kHeartbeat:
        scheduler_.OnHeartbeat(id, message.heartbeat());
        break;
      case v1::WorkerMessage::kBatch:
        for (const auto& started : message.batch().started()) {
          scheduler_.OnTaskStarted(id, started);
        }
        for (auto& result : *message.mutable_batch()->mutable_results()) {
          turn_result_bytes_ += result.output().data().size();
          scheduler_.OnTaskResult(id, std::move(result));
        }
        if (message.batch().kept_complete()) {
          scheduler_.OnKeptComplete(id);
          CaughtUp(id);
        }
        break;
      case v1::WorkerMessage::kRegister:
        LOG(WARNING) << "worker " << WorkerIdName(id)
                     << " sent a second Register on its stream; ignored";
        break;
      default:
        LOG(WARNING) << "worker " << WorkerIdName(id)
                     << " sent an empty message, or one of a kind dagd does "
                        "not know; ignored";
    }
  });
}

void Coordinator::DropOlderStreams(WorkerId id) {
  // The process is here now: an older stream of it that dagd has not seen
  // end is a half-open connection. What the process still runs moved to
  // the new stream as it joined (Scheduler::MoveFromOldStream); nothing
  // more goes to the old one, which would hold it until its heartbeats
  // were missed.
  for (WorkerId old : scheduler_.OtherStreamsOf(id)) {
    LOG(INFO) << "worker " << WorkerIdName(old) << " is back as "
              << WorkerIdName(id) << "; its older stream is dropped";
    scheduler_.RemoveWorker(old);
    roster_.Left(old, clock_->Now());
    if (auto leaving = leaving_.find(old); leaving != leaving_.end()) {
      // Its reads had ended, and it waited for copies from the process,
      // which is back: nothing of it is lost.
      EndStream(std::move(leaving->second.dispatcher));
      leaving_.erase(leaving);
      continue;
    }
    auto it = dispatchers_.find(old);
    if (it == dispatchers_.end()) continue;
    std::vector<Outbox::Letter> drop;
    drop.push_back({std::move(it->second),
                    {},
                    absl::FailedPreconditionError(
                        "a newer stream of this worker process registered"),
                    /*drop=*/true});
    dispatchers_.erase(it);
    outbox_.Post(std::move(drop));
  }
}

void Coordinator::WorkerDisconnected(WorkerId id) {
  Post([this, id] {
    if (auto it = leaving_.find(id); it != leaving_.end()) {
      // It ended before the copies from it did (the worker stopped
      // waiting): what it held is lost now.
      leaving_.erase(it);
      scheduler_.RemoveWorker(id);
      return;
    }
    if (!scheduler_.HasWorker(id)) return;
    LOG(INFO) << "worker " << WorkerIdName(id)
              << " left; its tasks go back to the queue";
    scheduler_.RemoveWorker(id);
    dispatchers_.erase(id);
    roster_.Left(id, clock_->Now());
  });
}

void Coordinator::WorkerReadsEnded(WorkerId id) {
  Post([this, id] {
    if (!scheduler_.HasWorker(id)) return;
    auto dispatcher = dispatchers_.find(id);
    std::string holder = scheduler_.HolderOf(id);
    roster_.Left(id, clock_->Now());
    // Its process leaves with it: what is copied from it (this turn's last
    // results' outputs too, queued after the turn's commit) must be done
    // and its record synced first, which EndStreamsOfLeftWorkers sees
    // after the turn. After a failed commit nothing more is.
    if (dispatcher == dispatchers_.end() || holder.empty() || !fatal_.ok()) {
      LOG(INFO) << "worker " << WorkerIdName(id)
                << " left; its tasks go back to the queue";
      scheduler_.RemoveWorker(id);
      if (dispatcher == dispatchers_.end()) return;
      EndStream(std::move(dispatcher->second));
      dispatchers_.erase(dispatcher);
      return;
    }
    LOG(INFO) << "worker " << WorkerIdName(id)
              << " left; its tasks go back to the queue, and its stream ends "
                 "once the outputs it holds are copied";
    scheduler_.RemoveWorker(id, /*keep_holder=*/true);
    leaving_[id] = Leaving{std::move(dispatcher->second), std::move(holder)};
    dispatchers_.erase(dispatcher);
  });
}

void Coordinator::EndStreamsOfLeftWorkers() {
  // The copies' records must be synced: the worker frees nothing, but it
  // exits once its stream ends. After a failed commit nothing more is
  // recorded: there is nothing to wait for.
  const bool fatal = !fatal_.ok();
  if (leaving_.empty() || (unsynced_ && !fatal)) return;
  std::vector<WorkerId> done;
  for (const auto& [id, leaving] : leaving_) {
    if (fatal || !copying_from_.contains(leaving.holder)) done.push_back(id);
  }
  if (done.empty()) return;
  // In a turn of their own: what their processes held and is lost now is
  // made again there.
  Post([this, done = std::move(done)] {
    for (WorkerId id : done) {
      auto it = leaving_.find(id);
      if (it == leaving_.end()) continue;
      LOG(INFO) << "worker " << WorkerIdName(id)
                << ": the outputs it held are copied; its stream ends";
      EndStream(std::move(it->second.dispatcher));
      leaving_.erase(it);
      scheduler_.RemoveWorker(id);
    }
  });
}

void Coordinator::EndStream(std::shared_ptr<Dispatcher> dispatcher) {
  std::vector<Outbox::Letter> close;
  close.push_back({std::move(dispatcher), {}, absl::OkStatus()});
  outbox_.Post(std::move(close));
}

}  // namespace dagd
