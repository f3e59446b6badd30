#include "server/dashboard/task_cache.h"

#include <algorithm>
#include <utility>

#include "proto/states.h"

namespace dagd {

TaskCache::TaskCache(DashboardSource* source, Clock* clock, Options options)
    : source_(source), clock_(clock), options_(options) {}

size_t TaskCache::fetches() const {
  absl::MutexLock lock(&mu_);
  return fetches_;
}

TaskCache::Result TaskCache::Get(const std::string& job_id) {
  std::shared_ptr<Fetching> fetching;
  std::shared_ptr<const TaskSnapshot> snapshot;
  bool fetch = false;
  {
    absl::MutexLock lock(&mu_);
    auto [it, added] = entries_.try_emplace(job_id);
    Entry& entry = it->second;
    if (added) {
      lru_.push_front(job_id);
      entry.lru = lru_.begin();
    } else {
      lru_.splice(lru_.begin(), lru_, entry.lru);
    }
    const absl::Time now = clock_->Now();
    if (entry.snapshot != nullptr && entry.snapshot->final) {
      if (now - entry.seen < options_.max_age) return entry.snapshot;
      // One asker checks; the others meanwhile take the snapshot as it is.
      entry.seen = now;
      snapshot = entry.snapshot;
    } else if (entry.snapshot != nullptr &&
               now - entry.snapshot->fetched <
                   std::max(options_.max_age,
                            options_.max_age_per_task *
                                static_cast<int64_t>(
                                    entry.snapshot->tasks.size()))) {
      return entry.snapshot;
    } else {
      if (entry.fetching == nullptr) {
        entry.fetching = std::make_shared<Fetching>();
        fetch = true;
        ++fetches_;
      }
      fetching = entry.fetching;
    }
  }
  // A finished job's tasks will not change, but it may have been deleted.
  if (snapshot != nullptr) return StillThere(job_id, std::move(snapshot));
  if (fetch) {
    Fetch(job_id, *fetching);
  } else if (!fetching->done.WaitForNotificationWithTimeout(options_.timeout)) {
    return absl::DeadlineExceededError(
        "dagd did not list the job's tasks in time");
  }
  return fetching->result;
}

void TaskCache::Fetch(const std::string& job_id, Fetching& fetching) {
  absl::StatusOr<v1::ListTasksResponse> listed =
      AwaitReply<v1::ListTasksResponse>(
          [&](auto done) { source_->ListTasks(job_id, std::move(done)); },
          options_.timeout);
  std::shared_ptr<const JobLayout> layout;
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(job_id);
    if (it != entries_.end() && it->second.snapshot != nullptr) {
      layout = it->second.snapshot->layout;
    }
  }
  std::shared_ptr<TaskSnapshot> snapshot;
  if (listed.ok()) {
    // Built here, on the asking thread: never on the coordinator's.
    snapshot = std::make_shared<TaskSnapshot>();
    snapshot->tasks.assign(
        std::make_move_iterator(listed->mutable_tasks()->begin()),
        std::make_move_iterator(listed->mutable_tasks()->end()));
    if (layout == nullptr || layout->size() != snapshot->tasks.size()) {
      layout = std::make_shared<JobLayout>(snapshot->tasks);
    }
    snapshot->layout = std::move(layout);
    snapshot->fetched = clock_->Now();
    snapshot->final = true;
    for (const v1::TaskStatus& task : snapshot->tasks) {
      if (!IsFinal(task.state())) {
        snapshot->final = false;
        break;
      }
    }
    fetching.result = std::shared_ptr<const TaskSnapshot>(snapshot);
  } else {
    fetching.result = listed.status();
  }
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(job_id);
    if (it != entries_.end()) {
      Entry& entry = it->second;
      entry.fetching = nullptr;
      if (snapshot != nullptr) {
        if (entry.snapshot != nullptr) {
          cached_tasks_ -= entry.snapshot->tasks.size();
        }
        entry.snapshot = snapshot;
        entry.seen = snapshot->fetched;
        cached_tasks_ += snapshot->tasks.size();
      } else if (entry.snapshot == nullptr) {
        // An unknown job is not kept: ids are not worth remembering.
        lru_.erase(entry.lru);
        entries_.erase(it);
      }
      EvictLocked(job_id);
    }
  }
  fetching.done.Notify();
}

TaskCache::Result TaskCache::StillThere(
    const std::string& job_id, std::shared_ptr<const TaskSnapshot> snapshot) {
  absl::StatusOr<v1::JobStatus> job = AwaitReply<v1::JobStatus>(
      [&](auto done) { source_->GetJob(job_id, std::move(done)); },
      options_.timeout);
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(job_id);
  if (absl::IsNotFound(job.status())) {
    if (it != entries_.end() && it->second.snapshot == snapshot &&
        it->second.fetching == nullptr) {
      cached_tasks_ -= snapshot->tasks.size();
      lru_.erase(it->second.lru);
      entries_.erase(it);
    }
    return job.status();
  }
  // Any other answer (a slow dagd) leaves the snapshot as it was.
  return snapshot;
}

void TaskCache::EvictLocked(const std::string& keep) {
  while (cached_tasks_ > options_.max_tasks && !lru_.empty()) {
    const std::string& oldest = lru_.back();
    if (oldest == keep) break;
    auto it = entries_.find(oldest);
    if (it->second.fetching != nullptr) break;  // its fetcher finishes it
    if (it->second.snapshot != nullptr) {
      cached_tasks_ -= it->second.snapshot->tasks.size();
    }
    entries_.erase(it);
    lru_.pop_back();
  }
}

}  // namespace dagd
