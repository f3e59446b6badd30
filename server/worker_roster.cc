#include "server/worker_roster.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace dagd {

void WorkerRoster::Restore(StoredRoster stored, uint64_t incarnation) {
  incarnation_ = incarnation;
  // A start in between that kept no roster (an older dagd) may have let
  // workers join unrecorded: then the grace decides, and those stored come
  // off like any worker not back. The first start of a store has no one
  // before it.
  whole_ = incarnation == 1 ||
           (stored.whole_as_of != 0 && stored.whole_as_of + 1 == incarnation);
  if (whole_) whole_due_ = absl::InfinitePast();  // said again at once
  for (auto& [key, name] : stored.workers) {
    members_[key].name = std::move(name);
    awaited_.insert(key);
  }
}

std::string WorkerRoster::AwaitedNames(size_t limit) const {
  std::vector<std::string> names;
  for (const std::string& key : awaited_) {
    if (names.size() == limit) {
      names.push_back("...");
      break;
    }
    auto it = members_.find(key);
    names.push_back(it == members_.end() ? key : it->second.name);
  }
  return absl::StrJoin(names, ", ");
}

void WorkerRoster::Joined(WorkerId id, const std::string& instance,
                          const std::string& name, bool certified) {
  // Prefixed, so that no instance can be taken for another key; under a
  // certificate its name is part of the key (length first, so no name and
  // instance spell another pair's key): a worker can answer only for the
  // processes of its own certificate.
  std::string key;
  if (instance.empty()) {
    key = absl::StrCat("a/", id);
  } else if (certified) {
    key = absl::StrCat("c/", ProcessKey(name, instance));
  } else {
    key = absl::StrCat("i/", instance);
  }
  keys_[id] = key;
  auto [it, added] = members_.try_emplace(key);
  Member& member = it->second;
  ++member.streams;
  member.left_at = absl::InfinitePast();
  if (!added) return;
  member.name = name;
  changes_[key] = name;
  grew_ = true;
}

bool WorkerRoster::CaughtUp(WorkerId id) {
  auto it = keys_.find(id);
  if (it == keys_.end()) return false;
  return awaited_.erase(it->second) > 0 && awaited_.empty() && whole_;
}

void WorkerRoster::Left(WorkerId id, absl::Time now) {
  auto it = keys_.find(id);
  if (it == keys_.end()) return;
  const std::string key = std::move(it->second);
  keys_.erase(it);
  if (frozen_) return;
  Member& member = members_[key];
  if (--member.streams == 0) Depart(key, member, now);
}

void WorkerRoster::Depart(const std::string& key, Member& member,
                          absl::Time since) {
  member.left_at = since;
  departures_.emplace_back(since + linger_, key);
}

void WorkerRoster::GraceEnded(absl::Time now) {
  for (const std::string& key : awaited_) {
    auto it = members_.find(key);
    if (it == members_.end() || it->second.streams > 0) continue;
    Member& member = it->second;
    if (member.left_at == absl::InfinitePast()) {
      Depart(key, member, now);  // never back
    } else {
      // Back and gone again: its own departure, kept while it was awaited.
      departures_.emplace_back(member.left_at + linger_, key);
    }
  }
  awaited_.clear();
  if (!whole_) {
    whole_ = true;
    whole_due_ = now + linger_;
  }
}

void WorkerRoster::ExpireDepartures(absl::Time now) {
  while (!frozen_ && !departures_.empty() && departures_.front().first <= now) {
    const std::string key = std::move(departures_.front().second);
    departures_.pop_front();
    auto it = members_.find(key);
    // Back since, or gone again later (a departure of its own follows), or
    // still awaited after a restart (GraceEnded queues it again).
    if (it == members_.end() || it->second.streams > 0 ||
        it->second.left_at + linger_ > now || awaited_.contains(key)) {
      continue;
    }
    members_.erase(it);
    changes_[key] = std::nullopt;
  }
}

bool WorkerRoster::TakeWrites(absl::Time now, WriteSet::RosterWrites& writes) {
  ExpireDepartures(now);
  if (!frozen_ && whole_due_ && *whole_due_ <= now) {
    whole_due_.reset();
    writes.whole_as_of = incarnation_;
  }
  for (auto& [key, name] : changes_) {
    if (name) {
      writes.added.emplace_back(key, std::move(*name));
    } else {
      writes.removed.push_back(key);
    }
  }
  changes_.clear();
  return std::exchange(grew_, false);
}

std::optional<absl::Time> WorkerRoster::NextDue() const {
  if (frozen_) return std::nullopt;
  std::optional<absl::Time> due = whole_due_;
  if (!departures_.empty() && (!due || departures_.front().first < *due)) {
    due = departures_.front().first;
  }
  return due;
}

}  // namespace dagd
