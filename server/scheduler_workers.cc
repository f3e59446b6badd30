// Workers coming and going: what the scheduler knows of each connected
// worker, what it can run (the demands it is capable of), and the transfer
// figures its heartbeats carry; workers that drain, and what they give back.

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/scheduler.h"
#include "server/scheduler_internal.h"

namespace dagd {

void Scheduler::AddWorker(WorkerId id, WorkerSpec spec) {
  auto worker = std::make_unique<Worker>();
  worker->id = id;
  worker->spec = std::move(spec);
  if (worker->spec.slots == 0) worker->spec.slots = 1;
  worker->name = std::make_shared<const std::string>(worker->spec.name);
  WorkerResources& resources = worker->resources;
  resources.slots = worker->spec.slots;
  worker->connected_at = worker->last_seen = clock_->Now();
  for (const std::string& fn : worker->spec.functions) {
    worker->fns.push_back(functions_.Intern(fn));
  }
  for (const auto& [name, amount] : worker->spec.resources) {
    const uint32_t resource = resource_names_.Intern(name);
    if (resource >= resources.capacity.size()) {
      resources.capacity.resize(resource + 1);
    }
    resources.capacity[resource] += amount;
  }
  resources.free_amounts = resources.capacity;
  resources.draining = worker->spec.draining;
  ledger_.AddWorker(resources);
  for (uint32_t d = 0; d < demands_.size(); ++d) {
    if (demands_[d] != nullptr && Fits(*worker, *demands_[d])) {
      AddCapable(d, *worker);
    }
  }
  Worker& added = *worker;
  workers_.emplace(id, std::move(worker));
  AddHolder(added);
  added.spec.held.clear();
  const std::vector<v1::TaskRef> running = std::move(added.spec.running);
  added.spec.running.clear();
  for (const v1::TaskRef& ref : running) AdoptRunning(added, ref);
}

void Scheduler::RemoveWorker(WorkerId id, bool keep_holder) {
  auto it = workers_.find(id);
  if (it == workers_.end()) {
    auto leaving = leaving_holders_.find(id);
    if (leaving == leaving_holders_.end()) return;
    const std::string holder = std::move(leaving->second);
    leaving_holders_.erase(leaving);
    RemoveHolder(holder, id);
    return;
  }
  Worker& worker = *it->second;
  CountTransfers(worker.stats, -1);
  // In no demand's lists now: a demand retired below (as what the
  // stopping attempts held is released) must not be looked up through it.
  ForgetCapabilities(worker);
  const absl::Time now = clock_->Now();
  const std::vector<TaskRef> running(worker.running.begin(),
                                     worker.running.end());
  for (const TaskRef& ref : running) {
    Job* job = FindJob(ref.seq);
    if (job == nullptr) continue;
    TaskRecord& t = job->tasks[ref.task];
    if (t.worker != id) continue;
    AttemptRecord& attempt = t.attempts.back();
    attempt.error = absl::StrCat("worker '", worker.spec.name, "' was lost");
    attempt.finished_at = now;
    EndAttempt(*job, ref.task);
    // A task granted ahead may still wait for its predecessor.
    if (t.remaining == 0) {
      MakeReady(*job, ref.task);
    } else {
      SetState(*job, ref.task, v1::TASK_PENDING);
    }
  }
  // Cancelled attempts still stopping there hold nothing once it is gone.
  for (const auto& [ref, stopped] : worker.stopping) {
    ReleaseStopped(worker, stopped, ref);
  }
  worker.stopping.clear();
  if (std::string holder = HolderKey(worker.spec); !holder.empty()) {
    if (keep_holder) {
      leaving_holders_.emplace(id, std::move(holder));
    } else {
      RemoveHolder(holder, id);
    }
  }
  unsettled_workers_.erase(id);
  ledger_.RemoveWorker(worker.resources);
  out_.sends.erase(id);
  acks_.Forget(id);
  workers_.erase(it);
}

void Scheduler::ForgetCapabilities(Worker& worker) {
  for (uint32_t d : worker.demands) {
    Demand& demand = *demands_[d];
    for (std::vector<Worker*>* list : {&demand.capable, &demand.lambdas}) {
      list->erase(std::remove(list->begin(), list->end(), &worker),
                  list->end());
    }
    demand.by_free.Remove(worker.id);
  }
  worker.demands.clear();
}

std::string Scheduler::HolderOf(WorkerId id) const {
  auto it = workers_.find(id);
  return it == workers_.end() ? std::string() : HolderKey(it->second->spec);
}

void Scheduler::OnHeartbeat(WorkerId id, const v1::Heartbeat& heartbeat) {
  Worker* worker = Touch(id);
  if (worker == nullptr) return;
  acks_.Requested(id);
  CountTransfers(worker->stats, -1);
  worker->stats = heartbeat;
  // Transfer time that is no amount (a broken or hostile worker) would
  // make the rate every placement reads zero, then NaN, for good.
  if (!std::isfinite(heartbeat.transfer_seconds()) ||
      heartbeat.transfer_seconds() < 0) {
    worker->stats.set_transfer_seconds(0);
    worker->stats.set_fetched_bytes(0);
  }
  CountTransfers(worker->stats, +1);
  if (heartbeat.draining()) StopPlacingOn(*worker);
}

void Scheduler::StopPlacingOn(Worker& worker) {
  if (worker.spec.draining) return;
  // Capable of nothing from now on (Fits): no placement, grant or burst
  // looks at it, and its free slots are no one's. What runs there reports
  // as before, and its results are still read from it.
  worker.spec.draining = true;
  ledger_.SetDraining(worker.resources);
  ForgetCapabilities(worker);
}

void Scheduler::GiveBack(Job& job, uint32_t task, Worker& worker) {
  // It takes no work: nothing more goes there (its heartbeat saying it
  // drains may be yet to come, or never: a worker that gives tasks back
  // would otherwise be given them again, for ever).
  StopPlacingOn(worker);
  TaskRecord& t = job.tasks[task];
  AttemptRecord& attempt = t.attempts.back();
  attempt.error = absl::StrCat("not started: worker '", worker.spec.name,
                               "' drains (not counted as a failure)");
  attempt.finished_at = clock_->Now();
  // Its followers granted there were given back with it.
  RevokeGrants(job, task);
  EndAttempt(job, task);
  WaitAgain(job, task);
}

void Scheduler::CountTransfers(const v1::Heartbeat& stats, int sign) {
  fetched_bytes_ += sign * static_cast<double>(stats.fetched_bytes());
  transfer_seconds_ += sign * stats.transfer_seconds();
}

double Scheduler::TransferRate() const {
  // Until workers have fetched for a while, a rate such a fetch reaches on
  // one host (loopback, 2 cores).
  constexpr double kAssumed = 500e6;
  constexpr double kEnoughSeconds = 0.5;
  return transfer_seconds_ >= kEnoughSeconds
             ? fetched_bytes_ / transfer_seconds_
             : kAssumed;
}

Scheduler::Worker* Scheduler::Touch(WorkerId id) {
  auto it = workers_.find(id);
  if (it == workers_.end()) return nullptr;
  it->second->last_seen = clock_->Now();
  return it->second.get();
}

}  // namespace dagd
