// SpillFiles in memory, with the faults tests need: a full disk, a file
// that reads back wrong, a read that waits until the test lets it go.
#ifndef DAGD_TESTS_WORKER_FAKE_SPILL_FILES_H_
#define DAGD_TESTS_WORKER_FAKE_SPILL_FILES_H_

#include <cstdint>
#include <map>
#include <new>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "worker/spill_files.h"

namespace dagd {

// Thread-safe. The test keeps a pointer to it after handing the
// unique_ptr to an ObjectHolder (which outlives no test).
class FakeSpillFiles : public SpillFiles {
 public:
  absl::Status Write(uint64_t id, absl::string_view data) override {
    absl::MutexLock lock(&mu_);
    if (!write_error_.ok()) return write_error_;
    files_[id] = std::string(data);
    ++writes_;
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> Read(uint64_t id, uint64_t size) override {
    absl::MutexLock lock(&mu_);
    ++whole_reads_;
    if (throw_on_read_) throw std::bad_alloc();
    ++reads_waiting_;
    mu_.Await(absl::Condition(&reads_open_));
    --reads_waiting_;
    auto it = files_.find(id);
    if (it == files_.end()) return absl::NotFoundError("no such file");
    if (it->second.size() != size) return absl::DataLossError("wrong size");
    std::string data = it->second;
    if (corrupt_reads_ && !data.empty()) data[0] ^= 0x01;
    return data;
  }

  absl::StatusOr<std::string> ReadAt(uint64_t id, uint64_t offset,
                                     uint64_t length) override {
    absl::MutexLock lock(&mu_);
    ++reads_waiting_;
    mu_.Await(absl::Condition(&reads_open_));
    --reads_waiting_;
    ++ranges_read_;
    auto it = files_.find(id);
    if (it == files_.end()) return absl::NotFoundError("no such file");
    if (offset + length > it->second.size()) {
      return absl::DataLossError("file too short");
    }
    return it->second.substr(offset, length);
  }

  void Remove(uint64_t id) override {
    absl::MutexLock lock(&mu_);
    files_.erase(id);
  }

  std::string Describe() const override { return "/fake/spill"; }

  // Writes fail with `error` from now on (OK: they work again).
  void FailWrites(absl::Status error) {
    absl::MutexLock lock(&mu_);
    write_error_ = std::move(error);
  }
  // Reads return the file with its first byte flipped.
  void CorruptReads() {
    absl::MutexLock lock(&mu_);
    corrupt_reads_ = true;
  }
  // Whole reads throw std::bad_alloc, as an allocator out of memory does.
  void ThrowOnRead() {
    absl::MutexLock lock(&mu_);
    throw_on_read_ = true;
  }
  // Reads (whole or ranges) wait until OpenReads.
  void HoldReads() {
    absl::MutexLock lock(&mu_);
    reads_open_ = false;
  }
  void OpenReads() {
    absl::MutexLock lock(&mu_);
    reads_open_ = true;
  }
  // Waits until `n` reads are held by HoldReads.
  bool WaitForHeldReads(int n, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return reads_waiting_ >= n;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }

  size_t files() {
    absl::MutexLock lock(&mu_);
    return files_.size();
  }
  int writes() {
    absl::MutexLock lock(&mu_);
    return writes_;
  }
  int ranges_read() {
    absl::MutexLock lock(&mu_);
    return ranges_read_;
  }
  int whole_reads() {
    absl::MutexLock lock(&mu_);
    return whole_reads_;
  }

 private:
  absl::Mutex mu_;
  std::map<uint64_t, std::string> files_ ABSL_GUARDED_BY(mu_);
  absl::Status write_error_ ABSL_GUARDED_BY(mu_);
  bool corrupt_reads_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_open_ ABSL_GUARDED_BY(mu_) = true;
  int reads_waiting_ ABSL_GUARDED_BY(mu_) = 0;
  int writes_ ABSL_GUARDED_BY(mu_) = 0;
  int ranges_read_ ABSL_GUARDED_BY(mu_) = 0;
  int whole_reads_ ABSL_GUARDED_BY(mu_) = 0;
  bool throw_on_read_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace dagd

#endif  // DAGD_TESTS_WORKER_FAKE_SPILL_FILES_H_
