#include "worker/python_kept.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace dagd {

std::string KeptName(absl::string_view key, uint64_t size, uint32_t crc32c) {
  return absl::StrCat(key, "#", size, "#", crc32c);
}

uint64_t KeptObjects::BytesOf(const std::vector<KeptInput>& inputs) const {
  uint64_t bytes = 0;
  for (const KeptInput& input : inputs) {
    if (!input.name.empty() && by_name_.contains(input.name)) {
      bytes += input.size;
    }
  }
  return bytes;
}

KeptPlan KeptObjects::Plan(const std::vector<KeptInput>& inputs,
                           bool keep_result) {
  KeptPlan plan;
  plan.use.assign(inputs.size(), 0);
  plan.keep.assign(inputs.size(), 0);
  std::vector<std::string> pinned;
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto it = by_name_.find(inputs[i].name);
    if (inputs[i].name.empty() || it == by_name_.end()) continue;
    plan.use[i] = it->second.id;
    lru_.splice(lru_.end(), lru_, it->second.lru);
    pinned.push_back(inputs[i].name);
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    const KeptInput& input = inputs[i];
    // The same object twice in one task: the interpreter has it only once
    // the task has run, so the second is sent too.
    if (input.name.empty() || input.size < kMinKeptBytes ||
        std::find(pinned.begin(), pinned.end(), input.name) != pinned.end()) {
      continue;
    }
    const uint64_t id = next_id_++;
    if (!Add(input.name, id, input.size, pinned)) continue;
    plan.keep[i] = id;
    pinned.push_back(input.name);
  }
  if (keep_result && budget_ >= kMinKeptBytes) {
    plan.result = next_id_++;
    plan.result_max = budget_;
  }
  plan.drop = std::move(drops_);
  drops_.clear();
  return plan;
}

void KeptObjects::NotKept(uint64_t id) {
  for (const auto& [name, entry] : by_name_) {
    if (entry.id == id) {
      const std::string forgotten = name;
      Forget(forgotten);
      return;
    }
  }
}

void KeptObjects::ResultKept(uint64_t id, std::string name, uint64_t size) {
  // Kept already under another id (the task returned an input it was
  // given): one of the two is enough.
  if (by_name_.contains(name) || !Add(name, id, size, {})) {
    drops_.push_back(id);
  }
}

bool KeptObjects::Add(const std::string& name, uint64_t id, uint64_t size,
                      const std::vector<std::string>& pinned) {
  if (size > budget_) return false;
  uint64_t freeable = budget_ - bytes_;
  for (const std::string& old : lru_) {
    if (freeable >= size) break;
    if (std::find(pinned.begin(), pinned.end(), old) == pinned.end()) {
      freeable += by_name_.at(old).size;
    }
  }
  if (freeable < size) return false;
  for (auto it = lru_.begin(); bytes_ + size > budget_;) {
    const std::string old = *it++;
    if (std::find(pinned.begin(), pinned.end(), old) == pinned.end()) {
      Forget(old);
    }
  }
  lru_.push_back(name);
  by_name_[name] = Entry{id, size, std::prev(lru_.end())};
  bytes_ += size;
  return true;
}

void KeptObjects::Forget(const std::string& name) {
  auto it = by_name_.find(name);
  drops_.push_back(it->second.id);
  bytes_ -= it->second.size;
  lru_.erase(it->second.lru);
  by_name_.erase(it);
}

}  // namespace dagd
