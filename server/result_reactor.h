// ReadResult's reactor: streams one stored or held result to its caller a
// chunk at a time, checked against its CRC-32C. Used by JobServiceImpl
// (grpc_services.cc) only.
#ifndef DAGD_SERVER_RESULT_REACTOR_H_
#define DAGD_SERVER_RESULT_REACTOR_H_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "dagd/v1/job_service.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "server/auth/standing_caller.h"
#include "server/coordinator.h"
#include "server/grpc_services.h"
#include "storage/crc32c.h"

namespace dagd {

// Streams one result to a ReadResult caller, a chunk at a time: one step
// (the lookup, a range read, a write) is in flight at any moment, and each
// one's completion starts the next, so the reactor lives until the last
// step calls Finish.
class ResultReactor : public grpc::ServerWriteReactor<v1::ResultChunk> {
 public:
  static constexpr uint64_t kChunkBytes = 1 << 20;

  // `observer` may be null. Nothing happens before Open or Refuse.
  ResultReactor(Coordinator* coordinator, RpcObserver* observer)
      : coordinator_(coordinator),
        objects_(coordinator->result_objects()),
        observer_(observer) {}

  // Each chunk is sent only while `caller` is still in the tokens file.
  void Open(StandingCaller caller, const std::string& job_id,
            const std::string& task_id) {
    caller_ = std::move(caller);
    job_id_ = job_id;
    coordinator_->OpenResult(job_id, task_id,
                             [this](absl::StatusOr<StoredResult> result) {
                               Opened(std::move(result));
                             });
  }
  void Refuse(const absl::Status& status) { End(ToGrpcStatus(status)); }

  void OnWriteDone(bool ok) override {
    if (!ok) return End(grpc::Status(grpc::StatusCode::CANCELLED, "gone"));
    Next();
  }
  void OnCancel() override { cancelled_ = true; }
  void OnDone() override {
    if (observer_ != nullptr) observer_->OnRpcDone("ReadResult", code_);
    delete this;
  }

 private:
  void Opened(absl::StatusOr<StoredResult> result) {
    if (!result.ok()) return End(ToGrpcStatus(result.status()));
    result_ = *std::move(result);
    size_ = result_.ref != nullptr ? result_.ref->size() : result_.data.size();
    Next();
  }

  void Next() {
    if (cancelled_) {
      return End(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
    }
    if (absl::Status standing = caller_.Check(); !standing.ok()) {
      return End(ToGrpcStatus(standing));
    }
    if (started_ && sent_ >= size_) return End(Verified());
    const uint64_t length = std::min<uint64_t>(kChunkBytes, size_ - sent_);
    if (result_.ref == nullptr) {
      return Write(result_.data.substr(sent_, length));
    }
    objects_->ReadRange(
        *result_.ref, sent_, length,
        [this, length](absl::StatusOr<std::string> bytes) {
          if (!bytes.ok()) return EndUnlessDeleted(bytes.status());
          if (bytes->size() != length) {
            return EndUnlessDeleted(absl::DataLossError(absl::StrCat(
                "object '", result_.ref->key(), "' is shorter than the ", size_,
                " bytes recorded when it was written")));
          }
          Write(*std::move(bytes));
        });
  }

  void Write(std::string bytes) {
    crc_ = crc32c::Extend(crc_, bytes.data(), bytes.size());
    chunk_.Clear();
    if (!started_) {
      chunk_.set_content_type(result_.content_type);
      chunk_.set_size_bytes(size_);
      started_ = true;
    }
    sent_ += bytes.size();
    chunk_.set_data(std::move(bytes));
    StartWrite(&chunk_);
  }

  // What the bytes sent from the object store were checked against.
  grpc::Status Verified() const {
    if (result_.ref == nullptr || result_.ref->crc32c() == 0 ||
        crc_ == result_.ref->crc32c()) {
      return grpc::Status::OK;
    }
    return ToGrpcStatus(absl::DataLossError(absl::StrCat(
        "object '", result_.ref->key(), "' does not match its CRC-32C (",
        "recorded ", result_.ref->crc32c(), ", read ", crc_,
        "): discard what was received")));
  }

  void End(grpc::Status status) {
    code_ = status.error_code();
    Finish(std::move(status));
  }

  // A read that failed mid-stream because the job was deleted meanwhile
  // (DeleteJob, the retention sweep) ends NOT_FOUND saying so, not with
  // the missing chunk's DATA_LOSS.
  void EndUnlessDeleted(absl::Status error) {
    coordinator_->GetJob(
        job_id_, [this, error = std::move(error)](
                     absl::StatusOr<v1::JobStatus> job) mutable {
          if (absl::IsNotFound(job.status())) {
            return End(grpc::Status(
                grpc::StatusCode::NOT_FOUND,
                absl::StrCat("job ", job_id_,
                             " was deleted while its result was read")));
          }
          End(ToGrpcStatus(error));
        });
  }

  Coordinator* const coordinator_;
  ResultObjects* const objects_;
  RpcObserver* const observer_;
  std::atomic<bool> cancelled_{false};
  StandingCaller caller_;  // set by Open, checked step by step
  std::string job_id_;
  StoredResult result_;
  uint64_t size_ = 0;
  uint64_t sent_ = 0;
  bool started_ = false;
  uint32_t crc_ = 0;
  v1::ResultChunk chunk_;
  grpc::StatusCode code_ = grpc::StatusCode::OK;
};

}  // namespace dagd

#endif  // DAGD_SERVER_RESULT_REACTOR_H_
