#include "server/output_keeper.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "proto/object_location.h"

namespace dagd {
namespace {
constexpr absl::string_view kStaleCopyUrl = "type.dagd.dev/stale-copy";
}  // namespace

bool IsStaleCopy(const absl::Status& status) {
  return absl::IsAborted(status) && status.GetPayload(kStaleCopyUrl);
}

namespace {
// Whether `recorded` (a stored result's reference; null: none) names the
// object `held`, on the same holder process.
bool NamesHeld(const v1::ObjectRef* recorded, const v1::ObjectRef& held) {
  return recorded != nullptr && IsHeld(*recorded) &&
         recorded->key() == held.key() &&
         recorded->holder().instance() == held.holder().instance();
}
}  // namespace

OutputKeeper::OutputKeeper(MetaStore* store, DataClient* holders,
                           uint64_t max_bytes, int threads)
    : store_(store),
      holders_(holders),
      max_bytes_(max_bytes),
      queue_(threads) {}

void OutputKeeper::Keep(OutputToKeep output, Done done) {
  {
    absl::MutexLock lock(&mu_);
    auto [it, first] = copying_.try_emplace(TaskKey(output.seq, output.index));
    if (!first) {
      it->second.push_back({std::move(output), std::move(done)});
      return;
    }
  }
  Start(std::move(output), std::move(done));
}

void OutputKeeper::Start(OutputToKeep output, Done done) {
  queue_.Post([this, output = std::move(output),
               done = std::move(done)](bool abandoned) mutable {
    const TaskKey task(output.seq, output.index);
    if (abandoned) {
      // The queue is stopping: this task's copies waiting are answered now,
      // none is posted to it any more.
      std::deque<Pending> waiting;
      {
        absl::MutexLock lock(&mu_);
        auto it = copying_.find(task);
        waiting.swap(it->second);
        copying_.erase(it);
      }
      const absl::Status stopping = absl::UnavailableError("dagd is stopping");
      done(output, stopping);
      for (Pending& next : waiting) next.done(next.output, stopping);
      return;
    }
    absl::StatusOr<KeptOutput> kept = Copy(output);
    done(output, std::move(kept));
    std::optional<Pending> next;
    {
      absl::MutexLock lock(&mu_);
      auto it = copying_.find(task);
      if (it->second.empty()) {
        copying_.erase(it);
      } else {
        next = std::move(it->second.front());
        it->second.pop_front();
      }
    }
    // After the copies queued meanwhile (a stopping queue answers it).
    if (next) Start(std::move(next->output), std::move(next->done));
  });
}

absl::StatusOr<v1::ObjectRef> OutputKeeper::Recorded(
    const OutputToKeep& output) {
  if (!output.check_record) return output.ref;
  absl::StatusOr<StoredResult> result =
      store_->GetResult(output.seq, output.index);
  if (absl::IsNotFound(result.status())) {
    return absl::NotFoundError("no such result stored");
  }
  if (!result.ok()) return result.status();
  const v1::ObjectRef* ref = result->ref.get();
  if (!NamesHeld(ref, output.ref) || !ref->output() ||
      ref->holder().name() != output.ref.holder().name()) {
    return absl::NotFoundError(
        "the stored result is not this output waiting to be copied");
  }
  v1::ObjectRef recorded = *ref;
  // Where the holder serves now (the same process, perhaps a new address).
  *recorded.mutable_holder() = output.ref.holder();
  return recorded;
}

absl::Status OutputKeeper::StillRecorded(const OutputToKeep& output,
                                         const v1::ObjectRef& held) {
  absl::StatusOr<StoredResult> result =
      store_->GetResult(output.seq, output.index);
  if (!result.ok() && !absl::IsNotFound(result.status())) {
    return result.status();
  }
  if (!NamesHeld(result.ok() ? result->ref.get() : nullptr, held)) {
    absl::Status stale = absl::AbortedError(absl::StrCat(
        "the task's result was made again while its copy from ",
        DescribeHeld(held), " went on: that copy is of an older attempt"));
    stale.SetPayload(kStaleCopyUrl, absl::Cord());
    return stale;
  }
  return absl::OkStatus();
}

absl::StatusOr<KeptOutput> OutputKeeper::Copy(const OutputToKeep& output) {
  absl::StatusOr<v1::ObjectRef> held = Recorded(output);
  if (!held.ok()) return held.status();
  if (held->size() > max_bytes_) {
    return absl::FailedPreconditionError(
        absl::StrCat("its ", held->size(),
                     " bytes are over --max_stored_result_bytes=", max_bytes_));
  }
  // Chunks of exactly kResultChunkBytes whatever size the holder's pieces
  // are, so that a range read knows which chunk holds an offset.
  std::string chunk;
  uint32_t next_chunk = 0;
  uint64_t copied = 0;
  auto flush = [&]() -> absl::Status {
    absl::Status s =
        store_->PutResultChunk(output.seq, output.index, next_chunk++, chunk);
    chunk.clear();
    return s;
  };
  absl::Status read =
      holders_->Read(*held, 0, 0, [&](absl::string_view data) -> absl::Status {
        // A holder that sends past the size it said is stopped there, not
        // written to dagd's store without end.
        if (data.size() > held->size() - copied) {
          return absl::DataLossError(absl::StrCat(
              "its holder sent more than its ", held->size(), " bytes"));
        }
        copied += data.size();
        while (!data.empty()) {
          const size_t take = std::min<size_t>(
              data.size(), MetaStore::kResultChunkBytes - chunk.size());
          chunk.append(data.data(), take);
          data.remove_prefix(take);
          if (chunk.size() == MetaStore::kResultChunkBytes) {
            if (absl::Status s = flush(); !s.ok()) return s;
          }
        }
        return absl::OkStatus();
      });
  if (!read.ok()) return read;
  if (!chunk.empty()) {
    if (absl::Status s = flush(); !s.ok()) return s;
  }
  // A long copy may be of a result replaced meanwhile; the scheduler
  // catches that while the job is in memory, not once it has finished.
  if (absl::Status current = StillRecorded(output, *held); !current.ok()) {
    return current;
  }
  KeptOutput kept;
  v1::ObjectRef& stored = kept.stored;
  stored.set_key(held->key());
  stored.set_size(held->size());
  stored.set_crc32c(held->crc32c());
  stored.set_content_type(held->content_type());
  stored.set_stored(true);
  // The task's status as stored, with the new location: what queries of a
  // finished job read. (A job still in memory has the scheduler build it.)
  if (absl::StatusOr<v1::TaskStatus> status =
          store_->GetTaskStatus(output.seq, output.index);
      status.ok() && status->has_result()) {
    status->mutable_result()->set_location("stored");
    kept.status = *std::move(status);
  }
  return kept;
}

}  // namespace dagd
