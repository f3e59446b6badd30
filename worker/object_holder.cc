#include "worker/object_holder.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "storage/crc32c.h"

namespace dagd {

ObjectHolder::ObjectHolder(uint64_t memory_limit,
                           std::unique_ptr<SpillFiles> spill)
    : memory_limit_(memory_limit),
      spill_(std::move(spill)),
      spill_location_(spill_->Describe()) {}

ObjectHolder::~ObjectHolder() {
  absl::MutexLock lock(&mu_);
  for (const auto& [key, entry] : entries_) {
    if (entry.on_disk) spill_->Remove(entry.id);
  }
}

absl::StatusOr<HeldObject> ObjectHolder::Put(const std::string& key,
                                             std::string data,
                                             std::string content_type) {
  Entry entry;
  entry.size = data.size();
  entry.crc32c = crc32c::Value(data);
  entry.content_type = std::move(content_type);
  auto shared = std::make_shared<const std::string>(std::move(data));
  HeldObject object{shared, entry.content_type, entry.crc32c};
  {
    absl::MutexLock lock(&mu_);
    entry.id = next_id_++;
  }
  const uint64_t id = entry.id;
  if (entry.size > memory_limit_) {
    // It could never stay in memory: spilling everything else first would
    // only make room that it cannot use.
    if (absl::Status written = spill_->Write(id, *shared); !written.ok()) {
      return absl::ResourceExhaustedError(
          absl::StrCat("cannot hold '", key, "' (", entry.size,
                       " bytes, more than the object memory of ", memory_limit_,
                       " bytes): spilling it to ", spill_location_,
                       " failed: ", written.message()));
    }
    entry.on_disk = true;
  } else {
    entry.data = shared;
  }
  std::optional<uint64_t> replaced_file;
  {
    absl::MutexLock lock(&mu_);
    // A replaced object goes, file and all, in the same critical section
    // as the insertion: two Puts of one key must not both insert (the
    // loser's LRU node would outlive its entry).
    replaced_file = Forget(key);
    held_bytes_ += entry.size;
    if (entry.on_disk) {
      spilled_bytes_ += entry.size;
      ++spills_;
    } else {
      memory_bytes_ += entry.size;
      entry.lru = lru_.insert(lru_.begin(), key);
    }
    entries_[key] = std::move(entry);
  }
  if (replaced_file.has_value()) spill_->Remove(*replaced_file);
  const absl::Status evicted = Evict();
  if (evicted.ok()) return object;
  // Memory stays over the budget: refuse this object rather than grow
  // without bound, unless it left memory meanwhile.
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(key);
  if (memory_bytes_ - spilling_bytes_ > memory_limit_ && it != entries_.end() &&
      it->second.id == id && it->second.data && !it->second.spilling &&
      !it->second.on_disk) {
    DropFromMemory(it->second);
    held_bytes_ -= it->second.size;
    entries_.erase(it);
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot hold '", key, "': the worker's object memory (",
                     memory_limit_, " bytes) is full and ", evicted.message()));
  }
  return object;
}

absl::StatusOr<HeldObject> ObjectHolder::Get(const std::string& key) {
  uint64_t id = 0;
  uint64_t size = 0;
  uint32_t crc = 0;
  std::string content_type;
  std::shared_ptr<Load> load;
  bool reads = false;  // this call reads the file; others wait for it
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) {
      return absl::NotFoundError(
          absl::StrCat("no object '", key, "' is held here"));
    }
    Entry& entry = it->second;
    if (entry.data) {
      Touch(entry);
      return ObjectOf(entry);
    }
    // Out of memory, but a reader still has its bytes: those.
    if (std::optional<HeldObject> shared = SharedOf(entry)) return *shared;
    if (entry.loading != nullptr) {
      // Read back by another reader now: its bytes are these.
      load = entry.loading;
    } else {
      entry.loading = load = std::make_shared<Load>();
      reads = true;
      id = entry.id;
      size = entry.size;
      crc = entry.crc32c;
      content_type = entry.content_type;
    }
  }
  if (!reads) {
    load->done.WaitForNotification();
    return load->object;
  }
  bool restored = false;
  load->object =
      ReadBack(key, id, size, crc, std::move(content_type), &restored);
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(key);
    if (it != entries_.end() && it->second.loading == load) {
      it->second.loading.reset();
    }
  }
  // The readers waiting go first; then what made room for the object is
  // spilled (a failure leaves memory over the budget until the next Put or
  // read tries again).
  load->done.Notify();
  if (restored) Evict().IgnoreError();
  return load->object;
}

absl::StatusOr<HeldObject> ObjectHolder::ReadBack(const std::string& key,
                                                  uint64_t id, uint64_t size,
                                                  uint32_t crc,
                                                  std::string content_type,
                                                  bool* restored) {
  absl::StatusOr<std::string> bytes;
  // Its size was held before: memory may not have room for it now, which
  // fails this read, not the worker (a std::bad_alloc would end it, and
  // leave the readers waiting for this one waiting for ever).
  try {
    bytes = spill_->Read(id, size);
  } catch (const std::exception& e) {  // bad_alloc, length_error
    return absl::ResourceExhaustedError(
        absl::StrCat("object '", key, "' (", size,
                     " bytes) cannot be read back into memory: ", e.what()));
  }
  if (!bytes.ok()) return SpillReadError(key, id, bytes.status());
  if (const uint32_t read = crc32c::Value(*bytes); read != crc) {
    return absl::DataLossError(absl::StrCat(
        "object '", key, "' read back from ", spill_location_,
        " does not match its CRC-32C (held ", crc, ", read ", read, ")"));
  }
  HeldObject object{std::make_shared<const std::string>(*std::move(bytes)),
                    std::move(content_type), crc};
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(key);
  // Released meanwhile: the bytes read are still the object asked for.
  if (it == entries_.end() || it->second.id != id) return object;
  Entry& entry = it->second;
  if (entry.data) {  // in memory again by some other way
    Touch(entry);
    return ObjectOf(entry);
  }
  if (size <= memory_limit_) {
    entry.data = object.data;
    entry.lru = lru_.insert(lru_.begin(), key);
    memory_bytes_ += size;
    ++restores_;
    *restored = true;
  } else {
    // Over the whole budget: never kept, but shared while read.
    entry.shared = object.data;
  }
  return object;
}

std::optional<HeldObject> ObjectHolder::GetIfInMemory(const std::string& key) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  Entry& entry = it->second;
  // A reader's bytes are in memory too.
  if (!entry.data) return SharedOf(entry);
  Touch(entry);
  return ObjectOf(entry);
}

absl::StatusOr<HeldInfo> ObjectHolder::Stat(const std::string& key) const {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    return absl::NotFoundError(
        absl::StrCat("no object '", key, "' is held here"));
  }
  return HeldInfo{it->second.size, it->second.content_type, it->second.crc32c};
}

absl::StatusOr<std::string> ObjectHolder::ReadRange(const std::string& key,
                                                    uint64_t offset,
                                                    uint64_t length) {
  uint64_t id = 0;
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) {
      return absl::NotFoundError(
          absl::StrCat("no object '", key, "' is held here"));
    }
    const Entry& entry = it->second;
    if (offset > entry.size) {
      return absl::OutOfRangeError(absl::StrCat("offset ", offset,
                                                " is past the end of '", key,
                                                "' (", entry.size, " bytes)"));
    }
    length = std::min(length, entry.size - offset);
    if (entry.data) return entry.data->substr(offset, length);
    id = entry.id;
  }
  absl::StatusOr<std::string> bytes = spill_->ReadAt(id, offset, length);
  if (bytes.ok()) return bytes;
  return SpillReadError(key, id, bytes.status());
}

absl::Status ObjectHolder::SpillReadError(const std::string& key, uint64_t id,
                                          const absl::Status& read) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.id != id) {
    return absl::NotFoundError(
        absl::StrCat("no object '", key, "' is held here (just released)"));
  }
  return absl::Status(read.code(),
                      absl::StrCat("cannot read '", key,
                                   "' from its spill file: ", read.message()));
}

void ObjectHolder::Release(const std::string& key) {
  std::optional<uint64_t> file;
  {
    absl::MutexLock lock(&mu_);
    file = Forget(key);
  }
  if (file.has_value()) spill_->Remove(*file);
}

std::optional<uint64_t> ObjectHolder::Forget(const std::string& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  Entry& entry = it->second;
  std::optional<uint64_t> file;
  // One being spilled: its spiller finds it gone and removes the file.
  if (entry.spilling) spilling_bytes_ -= entry.size;
  if (entry.data) DropFromMemory(entry);
  if (entry.on_disk) {
    spilled_bytes_ -= entry.size;
    file = entry.id;
  }
  held_bytes_ -= entry.size;
  entries_.erase(it);
  return file;
}

std::vector<std::string> ObjectHolder::Keys() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> keys;
  keys.reserve(entries_.size());
  for (const auto& [key, entry] : entries_) keys.push_back(key);
  return keys;
}

ObjectHolderStats ObjectHolder::stats() const {
  absl::MutexLock lock(&mu_);
  ObjectHolderStats stats;
  stats.objects = entries_.size();
  stats.memory_bytes = memory_bytes_;
  stats.spilled_bytes = spilled_bytes_;
  stats.held_bytes = held_bytes_;
  stats.spills = spills_;
  stats.restores = restores_;
  return stats;
}

absl::Status ObjectHolder::Evict() {
  absl::Status failed;  // a spill the disk refused
  while (true) {
    std::string key;
    uint64_t id = 0;
    std::shared_ptr<const std::string> data;
    {
      absl::MutexLock lock(&mu_);
      // Objects being spilled are as good as gone: counting them would
      // make concurrent evictions spill more than needed.
      if (memory_bytes_ - spilling_bytes_ <= memory_limit_ || lru_.empty()) {
        return absl::OkStatus();
      }
      if (!failed.ok()) {
        // The disk refuses writes: what was read back still has its file
        // and leaves memory for free, wherever it is in line. Without
        // this, every spilled object read back while the disk was full
        // stayed in memory, past the budget, until the worker was killed.
        auto it = std::find_if(
            lru_.rbegin(), lru_.rend(),
            [this](const std::string& k) { return entries_.at(k).on_disk; });
        if (it == lru_.rend()) return failed;
        DropFromMemory(entries_.at(*it));
        continue;
      }
      key = lru_.back();
      Entry& entry = entries_.at(key);
      if (entry.on_disk) {  // read back earlier: its file is still there
        DropFromMemory(entry);
        continue;
      }
      lru_.erase(entry.lru);
      entry.spilling = true;
      spilling_bytes_ += entry.size;
      id = entry.id;
      data = entry.data;
    }
    if (absl::Status spilled = Spill(key, id, std::move(data)); !spilled.ok()) {
      failed = spilled;
    }
  }
}

absl::Status ObjectHolder::Spill(const std::string& key, uint64_t id,
                                 std::shared_ptr<const std::string> data) {
  const absl::Status written = spill_->Write(id, *data);
  bool orphan = false;
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.id != id) {
      // Released (or replaced) while it was written; Release already
      // took it out of the counts.
      orphan = written.ok();
    } else if (Entry& entry = it->second; written.ok()) {
      spilling_bytes_ -= entry.size;
      entry.spilling = false;
      entry.on_disk = true;
      entry.shared = entry.data;  // see DropFromMemory
      entry.data.reset();
      memory_bytes_ -= entry.size;
      spilled_bytes_ += entry.size;
      ++spills_;
    } else {
      // Stays in memory, first in line for the next try.
      spilling_bytes_ -= entry.size;
      entry.spilling = false;
      entry.lru = lru_.insert(lru_.end(), key);
    }
  }
  if (orphan) spill_->Remove(id);
  if (written.ok()) return absl::OkStatus();
  return absl::Status(
      written.code(),
      absl::StrCat("spilling '", key, "' (", data->size(), " bytes) to ",
                   spill_location_, " failed: ", written.message()));
}

void ObjectHolder::DropFromMemory(Entry& entry) {
  if (!entry.spilling) lru_.erase(entry.lru);
  memory_bytes_ -= entry.size;
  // Readers that still have the bytes are shared them until the last one
  // lets go, rather than each reading the file again.
  entry.shared = entry.data;
  entry.data.reset();
}

void ObjectHolder::Touch(Entry& entry) {
  if (entry.spilling) return;  // not in lru_ until its write is done
  lru_.splice(lru_.begin(), lru_, entry.lru);
}

std::optional<HeldObject> ObjectHolder::SharedOf(const Entry& entry) {
  std::shared_ptr<const std::string> data = entry.shared.lock();
  if (data == nullptr) return std::nullopt;
  return HeldObject{std::move(data), entry.content_type, entry.crc32c};
}

HeldObject ObjectHolder::ObjectOf(const Entry& entry) {
  return HeldObject{entry.data, entry.content_type, entry.crc32c};
}

}  // namespace dagd
