#include "server/retention.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "proto/states.h"
#include "server/log.h"

namespace dagd {
namespace {

using google::protobuf::util::TimeUtil;

// Job statuses read per store call during a sweep.
constexpr size_t kPageSize = 256;

absl::Time FromTimestamp(const google::protobuf::Timestamp& t) {
  return absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(t));
}

// When a finished job ended; jobs stored without finished_at count from
// their submission.
absl::Time FinishedAt(const v1::JobStatus& status) {
  return status.has_finished_at() ? FromTimestamp(status.finished_at())
                                  : FromTimestamp(status.submitted_at());
}

}  // namespace

RetentionSweeper::RetentionSweeper(absl::Duration retention, MetaStore* store,
                                   JobDeleter* deleter, Clock* clock,
                                   DeletedCallback on_deleted)
    : retention_(retention),
      store_(store),
      deleter_(deleter),
      clock_(clock),
      on_deleted_(std::move(on_deleted)) {}

RetentionSweeper::~RetentionSweeper() { Stop(); }

absl::Duration RetentionSweeper::IntervalFor(absl::Duration retention) {
  return std::clamp(retention / 10, absl::Seconds(1), absl::Minutes(10));
}

absl::Status RetentionSweeper::DeleteJob(uint64_t seq) {
  absl::StatusOr<std::vector<v1::ObjectRef>> objects =
      store_->ListResultObjects(seq);
  if (absl::IsDataLoss(objects.status())) {
    // One bad record must not stop every later sweep at this job: its
    // objects are left to the bucket's lifecycle rule.
    LOG(WARNING) << "job " << JobIdFromSeq(seq) << ": " << objects.status()
                 << "; deleting its records, leaving its result objects";
    objects = std::vector<v1::ObjectRef>();
  }
  if (!objects.ok()) return objects.status();
  absl::Status s = DeleteRecords(seq);
  if (!s.ok() || objects->empty()) return s;
  // The deletion is not fsynced: a power loss may bring the job's records
  // back without these objects. The next sweep deletes it again; until
  // then reading its large results fails, which is what deletion was to
  // do anyway.
  if (objects_ != nullptr) {
    objects_->Delete(*std::move(objects));
  } else {
    LOG(WARNING) << objects->size() << " result object(s) of deleted job "
                 << JobIdFromSeq(seq) << " are left in bucket '"
                 << objects->front().bucket()
                 << "': dagd runs without an object store (--s3_bucket)";
  }
  return s;
}

absl::Status RetentionSweeper::DeleteRecords(uint64_t seq) {
  auto pending = std::make_shared<Pending>();
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::UnavailableError("the sweep was stopped");
    pending_ = pending;
  }
  deleter_->DeleteStoredJob(seq, [pending](absl::Status s) {
    absl::MutexLock lock(&pending->mu);
    pending->status = std::move(s);
  });
  absl::Status result;
  {
    absl::MutexLock lock(&pending->mu);
    auto answered = [&pending]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(pending->mu) {
      return pending->status.has_value() || pending->abandoned;
    };
    pending->mu.Await(absl::Condition(&answered));
    result = pending->status.has_value()
                 ? *pending->status
                 : absl::UnavailableError("the sweep was stopped");
  }
  absl::MutexLock lock(&mu_);
  pending_ = nullptr;
  return result;
}

absl::StatusOr<uint64_t> RetentionSweeper::SweepOnce() {
  const absl::Time cutoff = clock_->Now() - retention_;
  uint64_t deleted = 0;
  absl::Status error;
  // Whether every job this sweep has seen so far is gone.
  bool all_gone = true;
  uint64_t from = first_kept_;
  bool done = false;
  while (!done && error.ok()) {
    absl::StatusOr<std::vector<v1::JobStatus>> page =
        store_->ListJobStatusesFrom(from, kPageSize);
    if (!page.ok()) {
      error = page.status();
      break;
    }
    if (page->empty()) break;
    for (const v1::JobStatus& status : *page) {
      const std::optional<uint64_t> seq = SeqFromJobId(status.job_id());
      if (!seq.has_value()) {
        error = absl::DataLossError(absl::StrCat(
            "a stored job has the malformed id '", status.job_id(), "'"));
        break;
      }
      from = *seq + 1;
      if (FromTimestamp(status.submitted_at()) > cutoff) {
        done = true;
        break;
      }
      bool gone = false;
      if (IsFinal(status.state()) && FinishedAt(status) < cutoff) {
        absl::Status s = DeleteJob(*seq);
        if (s.ok()) ++deleted;
        // NOT_FOUND: a DeleteJob call removed it meanwhile.
        gone = s.ok() || absl::IsNotFound(s);
        if (!gone) {
          error = s;
          break;
        }
      }
      all_gone = all_gone && gone;
      if (all_gone) first_kept_ = *seq + 1;
    }
  }
  if (deleted > 0) {
    LOG(INFO) << "deleted " << deleted << " job(s) finished over "
              << absl::FormatDuration(retention_) << " ago (--retention)";
    if (on_deleted_) on_deleted_(deleted);
  }
  if (!error.ok()) return error;
  return deleted;
}

void RetentionSweeper::Start() {
  thread_ = std::thread([this] { Run(); });
}

void RetentionSweeper::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (pending_ != nullptr) {
      absl::MutexLock abandon(&pending_->mu);
      pending_->abandoned = true;
    }
  }
  if (thread_.joinable()) thread_.join();
}

void RetentionSweeper::Run() {
  const absl::Duration interval = IntervalFor(retention_);
  while (true) {
    absl::StatusOr<uint64_t> swept = SweepOnce();
    if (!swept.ok()) {
      LOG(WARNING) << "the --retention sweep failed (tried again in "
                   << absl::FormatDuration(interval)
                   << "): " << swept.status().message();
    }
    absl::MutexLock lock(&mu_);
    // Wakes early only to stop.
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), interval)) return;
  }
}

}  // namespace dagd
