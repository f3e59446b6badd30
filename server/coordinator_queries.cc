// The Coordinator's client-facing calls past submission: reads of jobs,
// tasks, results and workers, cancellation, deletion and watches. Each is
// answered only after the turn that saw it commits; reads of finished jobs
// run on the query threads against a store snapshot (ReadAfterCommit), never
// on the scheduler thread. The loop and submission are in coordinator.cc.
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "proto/object_location.h"
#include "proto/states.h"
#include "server/coordinator.h"
#include "server/log.h"

namespace dagd {
namespace {

// A finished job's watch: its snapshot, then its end.
void SendEnd(WatchSink& sink, const v1::JobStatus& ended) {
  v1::JobEvent snapshot;
  *snapshot.mutable_snapshot() = ended;
  sink.Send(std::move(snapshot));
  v1::JobEvent finished;
  *finished.mutable_finished() = ended;
  sink.Send(std::move(finished));
}

}  // namespace

// ---- Queries --------------------------------------------------------------

template <typename T>
void Coordinator::AnswerAfterCommit(absl::StatusOr<T> result, Reply<T> done) {
  AfterCommit([result = std::move(result),
               done = std::move(done)](const absl::Status& s) mutable {
    if (!s.ok()) return done(s);
    done(std::move(result));
  });
}

template <typename T>
void Coordinator::ReadAfterCommit(
    absl::AnyInvocable<absl::StatusOr<T>(MetaReadView&)> read, Reply<T> done) {
  AfterCommit([this, read = std::move(read),
               done = std::move(done)](const absl::Status& s) mutable {
    if (!s.ok()) return done(s);
    queries_.Post([store = store_, read = std::move(read),
                   done =
                       std::move(done)](const absl::Status& refused) mutable {
      if (!refused.ok()) return done(refused);
      absl::StatusOr<std::unique_ptr<MetaReadView>> view = store->NewReadView();
      if (!view.ok()) return done(view.status());
      done(read(**view));
    });
  });
}

void Coordinator::GetJob(std::string job_id, Reply<v1::JobStatus> done) {
  Post([this, job_id = std::move(job_id), done = std::move(done)]() mutable {
    absl::StatusOr<uint64_t> seq = ParseJobId(job_id);
    if (!seq.ok())
      return AnswerAfterCommit<v1::JobStatus>(seq.status(), std::move(done));
    if (std::optional<v1::JobStatus> live = scheduler_.JobStatusOf(*seq)) {
      return AnswerAfterCommit<v1::JobStatus>(*std::move(live),
                                              std::move(done));
    }
    ReadAfterCommit<v1::JobStatus>(
        [seq = *seq, job_id](MetaReadView& view) {
          return StoredJobStatus(view, seq, job_id);
        },
        std::move(done));
  });
}

void Coordinator::ListJobs(v1::ListJobsRequest request,
                           Reply<v1::ListJobsResponse> done) {
  Post([this, request = std::move(request), done = std::move(done)]() mutable {
    absl::StatusOr<JobsPage> page = ParseJobsPage(request);
    if (!page.ok()) {
      return AnswerAfterCommit<v1::ListJobsResponse>(page.status(),
                                                     std::move(done));
    }
    // The page is read on a query thread; the statuses of jobs in memory
    // are laid over it back on the loop.
    ReadAfterCommit<std::vector<v1::JobStatus>>(
        [page = *page](MetaReadView& view) {
          return StoredJobsPage(view, page);
        },
        [this, size = page->size, done = std::move(done)](
            absl::StatusOr<std::vector<v1::JobStatus>> stored) mutable {
          if (!stored.ok()) return done(stored.status());
          Post([this, size, stored = *std::move(stored),
                done = std::move(done)]() mutable {
            AnswerJobsPage(size, std::move(stored), std::move(done));
          });
        });
  });
}

void Coordinator::AnswerJobsPage(uint32_t size,
                                 std::vector<v1::JobStatus> stored,
                                 Reply<v1::ListJobsResponse> done) {
  v1::ListJobsResponse response;
  // Jobs stored unfinished that left memory since the page was read: they
  // finished, in a turn committed before this one. Read again below.
  std::vector<int> finished_since;
  for (size_t i = 0; i < stored.size() && i < size; ++i) {
    const uint64_t seq = SeqFromJobId(stored[i].job_id()).value_or(0);
    std::optional<v1::JobStatus> live = scheduler_.JobStatusOf(seq);
    if (!live && !IsFinal(stored[i].state())) {
      finished_since.push_back(response.jobs_size());
    }
    *response.add_jobs() = live ? *std::move(live) : std::move(stored[i]);
  }
  if (stored.size() > size) {
    response.set_next_page_token(absl::StrCat(
        SeqFromJobId(response.jobs(size - 1).job_id()).value_or(0)));
  }
  if (finished_since.empty()) {
    return AnswerAfterCommit<v1::ListJobsResponse>(std::move(response),
                                                   std::move(done));
  }
  ReadAfterCommit<v1::ListJobsResponse>(
      [response = std::move(response),
       finished_since = std::move(finished_since)](
          MetaReadView& view) mutable -> absl::StatusOr<v1::ListJobsResponse> {
        for (int i : finished_since) {
          v1::JobStatus* job = response.mutable_jobs(i);
          absl::StatusOr<v1::JobStatus> now =
              view.GetJobStatus(SeqFromJobId(job->job_id()).value_or(0));
          // NOT_FOUND: deleted meanwhile; it is shown as it was.
          if (now.ok()) {
            *job = *std::move(now);
          } else if (!absl::IsNotFound(now.status())) {
            return now.status();
          }
        }
        return std::move(response);
      },
      std::move(done));
}

void Coordinator::GetTask(std::string job_id, std::string task_id,
                          Reply<v1::TaskStatus> done) {
  Post([this, job_id = std::move(job_id), task_id = std::move(task_id),
        done = std::move(done)]() mutable {
    absl::StatusOr<uint64_t> seq = ParseJobId(job_id);
    if (!seq.ok())
      return AnswerAfterCommit<v1::TaskStatus>(seq.status(), std::move(done));
    if (scheduler_.HasJob(*seq)) {
      return AnswerAfterCommit(scheduler_.TaskStatusOf(*seq, task_id),
                               std::move(done));
    }
    ReadAfterCommit<v1::TaskStatus>(
        [seq = *seq, task_id](MetaReadView& view) {
          return StoredTaskStatus(view, seq, task_id);
        },
        std::move(done));
  });
}

void Coordinator::ListTasks(std::string job_id,
                            Reply<v1::ListTasksResponse> done, TasksPage page) {
  Post([this, job_id = std::move(job_id), done = std::move(done),
        page]() mutable {
    absl::StatusOr<uint64_t> seq = ParseJobId(job_id);
    if (!seq.ok()) {
      return AnswerAfterCommit<v1::ListTasksResponse>(seq.status(),
                                                      std::move(done));
    }
    if (std::optional<uint32_t> total = scheduler_.TaskCountOf(*seq)) {
      absl::StatusOr<std::pair<uint32_t, uint32_t>> range =
          TaskPageRange(page, *total, job_id);
      if (!range.ok()) {
        return AnswerAfterCommit<v1::ListTasksResponse>(range.status(),
                                                        std::move(done));
      }
      std::optional<std::vector<v1::TaskStatus>> tasks =
          scheduler_.TaskStatusesOf(*seq, range->first, range->second);
      v1::ListTasksResponse response;
      for (v1::TaskStatus& task : *tasks)
        *response.add_tasks() = std::move(task);
      response.set_next_page_token(NextTasksPageToken(range->second, *total));
      return AnswerAfterCommit<v1::ListTasksResponse>(std::move(response),
                                                      std::move(done));
    }
    ReadAfterCommit<v1::ListTasksResponse>(
        [seq = *seq, job_id, page](MetaReadView& view) {
          return StoredTaskStatuses(view, seq, job_id, page);
        },
        std::move(done));
  });
}

void Coordinator::GetResult(std::string job_id, std::string task_id,
                            Reply<v1::GetResultResponse> done) {
  FindResult(
      std::move(job_id), task_id,
      [objects = objects_, task_id,
       done = std::move(done)](absl::StatusOr<StoredResult> result) mutable {
        if (!result.ok() || result->ref == nullptr) {
          return done(ToResultResponse(std::move(result)));
        }
        if (result->ref->size() > kMaxGetResultBytes) {
          // Read whole, it would sit in dagd's memory, and over 2 GiB
          // it cannot be one message at all.
          return done(absl::FailedPreconditionError(absl::StrCat(
              "the result of task '", task_id, "' is ", result->ref->size(),
              " bytes, more than GetResult answers in one message (",
              kMaxGetResultBytes,
              "): read it with ReadResult (dagctl result)")));
        }
        // Read once the result is stored (FindResult answers after
        // the commit): an answer never shows more than a restart
        // would keep.
        objects->Read(
            *result->ref, [done = std::move(done)](
                              absl::StatusOr<StoredObject> object) mutable {
              if (!object.ok()) return done(object.status());
              done(ToResultResponse(
                  StoredResult{std::move(object->data),
                               std::move(object->content_type), nullptr}));
            });
      });
}

void Coordinator::OpenResult(std::string job_id, std::string task_id,
                             Reply<StoredResult> done) {
  FindResult(std::move(job_id), std::move(task_id), std::move(done));
}

void Coordinator::FindResult(std::string job_id, std::string task_id,
                             Reply<StoredResult> done) {
  Post([this, job_id = std::move(job_id), task_id = std::move(task_id),
        done = std::move(done)]() mutable {
    absl::StatusOr<uint64_t> seq = ParseJobId(job_id);
    if (!seq.ok())
      return AnswerAfterCommit<StoredResult>(seq.status(), std::move(done));
    if (scheduler_.HasJob(*seq)) {
      return AnswerAfterCommit(
          Readable(scheduler_.ResultOf(*seq, task_id), task_id),
          std::move(done));
    }
    ReadAfterCommit<StoredResult>(
        [this, seq = *seq, task_id](MetaReadView& view) {
          return Readable(StoredResultOf(view, seq, task_id), task_id);
        },
        std::move(done));
  });
}

absl::StatusOr<StoredResult> Coordinator::Readable(
    absl::StatusOr<StoredResult> result, const std::string& task_id) const {
  if (result.ok() && result->ref != nullptr &&
      LocationOf(*result->ref) == ObjectLocation::kBucket &&
      (objects_ == nullptr || !objects_->has_store())) {
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

void Coordinator::Cancel(std::string job_id,
                         Reply<v1::CancelJobResponse> done) {
  Post([this, job_id = std::move(job_id), done = std::move(done)]() mutable {
    DoCancel(job_id, std::move(done));
  });
}

void Coordinator::DoCancel(const std::string& job_id,
                           Reply<v1::CancelJobResponse> done) {
  absl::StatusOr<uint64_t> seq = ParseJobId(job_id);
  if (!seq.ok()) {
    return AnswerAfterCommit<v1::CancelJobResponse>(seq.status(),
                                                    std::move(done));
  }
  if (scheduler_.HasJob(*seq)) {
    return AnswerAfterCommit(scheduler_.CancelJob(*seq), std::move(done));
  }
  ReadAfterCommit<v1::CancelJobResponse>(
      [seq = *seq, job_id](MetaReadView& view) {
        return StoredCancel(view, seq, job_id);
      },
      std::move(done));
}

// ---- Deletion -------------------------------------------------------------

void Coordinator::DeleteJob(std::string job_id,
                            Reply<v1::DeleteJobResponse> done) {
  Post([this, job_id = std::move(job_id), done = std::move(done)]() mutable {
    DoDelete(job_id, std::move(done));
  });
}

void Coordinator::DoDelete(const std::string& job_id,
                           Reply<v1::DeleteJobResponse> done) {
  if (!fatal_.ok()) {
    return AnswerAfterCommit<v1::DeleteJobResponse>(fatal_, std::move(done));
  }
  absl::StatusOr<uint64_t> seq = ParseJobId(job_id);
  if (!seq.ok()) {
    return AnswerAfterCommit<v1::DeleteJobResponse>(seq.status(),
                                                    std::move(done));
  }
  std::string cancel_first =
      absl::StrCat("; cancel it first (dagctl cancel ", job_id, ")");
  if (std::optional<v1::JobStatus> live = scheduler_.JobStatusOf(*seq)) {
    return AnswerAfterCommit<v1::DeleteJobResponse>(
        absl::FailedPreconditionError(absl::StrCat(
            "job '", job_id, "' is ",
            absl::StripPrefix(v1::JobState_Name(live->state()), "JOB_"),
            ": only a finished job can be deleted", cancel_first)),
        std::move(done));
  }
  DeleteStored(*seq, /*on_request=*/true,
               [job_id, cancel_first = std::move(cancel_first),
                done = std::move(done)](absl::Status s) mutable {
                 if (absl::IsNotFound(s)) {
                   return done(NoJobError(job_id));
                 }
                 if (absl::IsFailedPrecondition(s)) {
                   return done(absl::FailedPreconditionError(
                       absl::StrCat(s.message(), cancel_first)));
                 }
                 if (!s.ok()) return done(s);
                 LOG(INFO).Job(job_id) << "deleted on request";
                 done(v1::DeleteJobResponse());
               });
}

void Coordinator::DeleteStoredJob(uint64_t seq,
                                  absl::AnyInvocable<void(absl::Status)> done) {
  Post([this, seq, done = std::move(done)]() mutable {
    if (!fatal_.ok()) return done(fatal_);
    DeleteStored(seq, /*on_request=*/false, std::move(done));
  });
}

void Coordinator::DeleteStored(uint64_t seq, bool on_request,
                               absl::AnyInvocable<void(absl::Status)> done) {
  if (auto keeping = keeping_.find(seq); keeping != keeping_.end()) {
    keeping->second.deletions.push_back(
        [this, seq, on_request, done = std::move(done)]() mutable {
          DeleteStored(seq, on_request, std::move(done));
        });
    return;
  }
  auto [it, first] = deleting_.try_emplace(seq);
  if (!first) {
    it->second.push_back(
        [this, seq, on_request, done = std::move(done)]() mutable {
          DeleteStored(seq, on_request, std::move(done));
        });
    return;
  }
  AfterCommit([this, seq, on_request,
               done = std::move(done)](const absl::Status& s) mutable {
    if (!s.ok()) {
      EndDeletion(seq);
      return done(s);
    }
    queries_.Post([this, seq, on_request, done = std::move(done)](
                      const absl::Status& refused) mutable {
      absl::StatusOr<PlannedDeletion> plan = absl::UnknownError("unset");
      if (!refused.ok()) {
        plan = refused;
      } else if (absl::StatusOr<std::unique_ptr<MetaReadView>> view =
                     store_->NewReadView();
                 view.ok()) {
        // The sweep deletes the job's stored objects itself, but what its
        // workers hold only they can free: the plan lists them either way.
        plan = PlanDeletion(**view, seq, /*with_objects=*/true);
        if (!on_request && absl::IsDataLoss(plan.status())) {
          // As the sweep does: a bad result record does not stop it.
          plan = PlanDeletion(**view, seq, /*with_objects=*/false);
        }
      } else {
        plan = view.status();
      }
      Post([this, seq, on_request, plan = std::move(plan),
            done = std::move(done)]() mutable {
        ApplyDeletion(seq, on_request, std::move(plan), std::move(done));
      });
    });
  });
}

void Coordinator::ApplyDeletion(uint64_t seq, bool on_request,
                                absl::StatusOr<PlannedDeletion> plan,
                                absl::AnyInvocable<void(absl::Status)> done) {
  if (fatal_.ok() && plan.ok()) {
    turn_writes_.deleted_jobs.push_back(std::move(plan->job));
    // Answered at this turn's commit, which then fsyncs.
    if (on_request) {
      ++turn_deleted_jobs_;
      DeleteObjectsAfterCommit(std::move(plan->objects));
    } else {
      // Retention: releases go out with this turn's sends, after its commit.
      scheduler_.ReleaseObjects(plan->objects);
    }
  }
  AfterCommit([this, seq, planned = plan.status(),
               done = std::move(done)](const absl::Status& s) mutable {
    EndDeletion(seq);
    done(s.ok() ? planned : s);
  });
}

void Coordinator::EndDeletion(uint64_t seq) {
  auto it = deleting_.find(seq);
  if (it == deleting_.end()) return;
  std::vector<Event> waiting = std::move(it->second);
  deleting_.erase(it);
  for (Event& event : waiting) Post(std::move(event));
}

void Coordinator::DeleteObjectsAfterCommit(std::vector<v1::ObjectRef> refs) {
  // Results workers hold are freed by their holders: the releases go out
  // with this turn's sends, after its commit.
  scheduler_.ReleaseObjects(refs);
  // Stored ones go with the job's records.
  refs.erase(std::remove_if(refs.begin(), refs.end(),
                            [](const v1::ObjectRef& ref) {
                              return LocationOf(ref) != ObjectLocation::kBucket;
                            }),
             refs.end());
  if (refs.empty()) return;
  if (objects_ == nullptr || !objects_->has_store()) {
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
  absl::StatusOr<uint64_t> seq = ParseJobId(job_id);
  if (!seq.ok()) return sink->Fail(seq.status());
  std::optional<v1::JobStatus> status = scheduler_.JobStatusOf(*seq);
  if (!status) {
    // Not in memory: finished, or unknown. Read on a query thread, the
    // snapshot and the end go out from there.
    return ReadAfterCommit<v1::JobStatus>(
        [seq = *seq, job_id](MetaReadView& view) {
          return StoredJobStatus(view, seq, job_id);
        },
        [sink](absl::StatusOr<v1::JobStatus> ended) {
          if (!ended.ok()) return sink->Fail(ended.status());
          SendEnd(*sink, *ended);
        });
  }
  const v1::JobState state = status->state();
  if (!IsFinal(state)) {
    watchers_[*seq].push_back(Watcher{sink, end_only});
    UpdateWatch(*seq);
    v1::JobEvent snapshot;
    *snapshot.mutable_snapshot() = *std::move(status);
    AfterCommit(
        [sink, snapshot = std::move(snapshot)](const absl::Status& s) mutable {
          if (!s.ok()) return sink->Fail(s);
          sink->Send(std::move(snapshot));
        });
    return;
  }
  // The job ended in this turn: its snapshot and its end, at once.
  AfterCommit([sink, ended = *std::move(status)](const absl::Status& s) {
    if (!s.ok()) return sink->Fail(s);
    SendEnd(*sink, ended);
  });
}

void Coordinator::Unwatch(std::shared_ptr<WatchSink> sink,
                          std::optional<absl::Status> fail) {
  Post([this, sink = std::move(sink), fail = std::move(fail)]() {
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
      if (fail) sink->Fail(*fail);
      return;
    }
  });
}

}  // namespace dagd
