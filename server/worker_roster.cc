#include "server/worker_roster.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace dagd {

void WorkerRoster::Restore(std::optional<std::vector<Entry>> stored) {
  whole_ = stored.has_value();
  if (!stored) return;
  for (auto& [key, name] : *stored) {
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
                          const std::string& name) {
  // Prefixed, so that no instance can be taken for another key.
  const std::string key =
      instance.empty() ? absl::StrCat("a/", id) : absl::StrCat("i/", instance);
  keys_[id] = key;
  auto [it, added] = members_.try_emplace(key);
  Member& member = it->second;
  ++member.streams;
  member.left_at = absl::InfinitePast();
  if (!added) return;
  member.name = name;
  changes_[key] = name;
  sync_ = true;
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
  if (--member.streams > 0) return;
  member.left_at = now;
  departures_.emplace_back(now + linger_, key);
}

void WorkerRoster::GraceEnded() {
  for (const std::string& key : awaited_) {
    auto it = members_.find(key);
    if (it != members_.end() && it->second.streams == 0) Remove(key);
  }
  awaited_.clear();
  if (!whole_) {
    whole_ = true;
    store_whole_ = true;
  }
}

void WorkerRoster::Remove(const std::string& key) {
  members_.erase(key);
  changes_[key] = std::nullopt;
}

bool WorkerRoster::TakeWrites(absl::Time now, WriteSet::RosterWrites& writes) {
  while (!frozen_ && !departures_.empty() && departures_.front().first <= now) {
    const std::string key = std::move(departures_.front().second);
    departures_.pop_front();
    auto it = members_.find(key);
    // Back since, or gone again later (a departure of its own follows), or
    // still awaited after a restart (the grace decides).
    if (it == members_.end() || it->second.streams > 0 ||
        it->second.left_at + linger_ > now || awaited_.contains(key)) {
      continue;
    }
    Remove(key);
  }
  for (auto& [key, name] : changes_) {
    if (name) {
      writes.added.emplace_back(key, std::move(*name));
    } else {
      writes.removed.push_back(key);
    }
  }
  changes_.clear();
  writes.whole = std::exchange(store_whole_, false);
  return std::exchange(sync_, false);
}

std::optional<absl::Time> WorkerRoster::NextDue() const {
  if (frozen_ || departures_.empty()) return std::nullopt;
  return departures_.front().first;
}

}  // namespace dagd
