// An in-process coordinator for the worker's tests: registers workers,
// records what they send, and lets the test send batches and break the
// stream. Serve it with grpc::ServerBuilder on a loopback port.
#ifndef DAGD_TESTS_WORKER_FAKE_COORDINATOR_H_
#define DAGD_TESTS_WORKER_FAKE_COORDINATOR_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "dagd/v1/worker_service.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "worker/json_util.h"

namespace dagd {

// How long tests wait for an event before they fail.
constexpr absl::Duration kWait = absl::Seconds(30);

using ServerStream =
    grpc::ServerReaderWriter<v1::CoordinatorMessage, v1::WorkerMessage>;

class FakeCoordinator final : public v1::WorkerService::Service {
 public:
  grpc::Status Connect(grpc::ServerContext* context,
                       ServerStream* stream) override {
    v1::WorkerMessage message;
    if (!stream->Read(&message) || !message.has_register_()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no Register");
    }
    int connection = 0;
    {
      absl::MutexLock lock(&mu_);
      if (!accepting_) {
        ++refused_;
        return grpc::Status(grpc::StatusCode::UNAVAILABLE, "not now");
      }
      registers_.push_back(message.register_());
      connection = static_cast<int>(registers_.size());
      v1::CoordinatorMessage reply;
      reply.mutable_registered()->set_worker_id(absl::StrCat("w-", connection));
      reply.mutable_registered()->set_heartbeat_interval_ms(
          heartbeat_interval_ms_);
      reply.mutable_registered()->set_inline_max_bytes(inline_max_bytes_);
      reply.mutable_registered()->set_max_result_bytes(max_result_bytes_);
      reply.mutable_registered()->set_store_id(store_id_);
      stream->Write(reply);
      context_ = context;
      stream_ = stream;
      // Results kept from an earlier stream come with the Register; like
      // dagd, record and acknowledge them.
      unacked_up_to_ = 0;  // what the last stream read comes again
      for (const auto& result : message.register_().results()) {
        results_.emplace_back(result, connection);
        unacked_up_to_ = result.report_order();
      }
      if (acking_ && !lazy_acks_ && unacked_up_to_ > 0) {
        v1::CoordinatorMessage ack;
        ack.mutable_batch()->set_acked_up_to(unacked_up_to_);
        unacked_up_to_ = 0;
        stream->Write(ack);
      }
    }
    while (stream->Read(&message)) Record(message, connection);
    absl::MutexLock lock(&mu_);
    if (!context->IsCancelled()) {
      reads_ended_ = true;
      // Like dagd copying what the worker holds before it ends the stream.
      mu_.Await(absl::Condition(
          +[](bool* hold) { return !*hold; }, &hold_close_));
    }
    // The worker half-closed (a drain) unless the stream was cancelled.
    if (!context->IsCancelled()) ++half_closed_;
    ++ended_;
    if (stream_ == stream) {
      stream_ = nullptr;
      context_ = nullptr;
    }
    return grpc::Status::OK;
  }

  bool Send(const v1::CoordinatorBatch& batch) {
    absl::MutexLock lock(&mu_);
    if (stream_ == nullptr) return false;
    v1::CoordinatorMessage message;
    *message.mutable_batch() = batch;
    return stream_->Write(message);
  }

  // Breaks the current stream, as a crashing coordinator or network would.
  void Drop() {
    absl::MutexLock lock(&mu_);
    if (context_ != nullptr) context_->TryCancel();
  }

  // Whether results are acknowledged (they are by default).
  void SetAcking(bool acking) {
    absl::MutexLock lock(&mu_);
    acking_ = acking;
  }

  // Results are acknowledged only when the worker heartbeats, as dagd
  // does for a worker it sends nothing else to.
  void SetAckingOnHeartbeatsOnly(bool lazy) {
    absl::MutexLock lock(&mu_);
    lazy_acks_ = lazy;
  }

  // The interval Registered tells workers to heartbeat at.
  void SetHeartbeatInterval(absl::Duration interval) {
    absl::MutexLock lock(&mu_);
    heartbeat_interval_ms_ = absl::ToInt64Milliseconds(interval);
  }

  // What Registered says of outputs (dagd's --inline_max_bytes and
  // --max_result_bytes); 0 and 0 by default, as an older dagd.
  void SetResultLimits(uint64_t inline_max_bytes, uint64_t max_result_bytes) {
    absl::MutexLock lock(&mu_);
    inline_max_bytes_ = inline_max_bytes;
    max_result_bytes_ = max_result_bytes;
  }

  // Registered.store_id: which data directory the coordinator serves.
  void SetStoreId(std::string store_id) {
    absl::MutexLock lock(&mu_);
    store_id_ = std::move(store_id);
  }

  // While held, a stream the worker half-closed is not ended.
  void HoldClose(bool hold) {
    absl::MutexLock lock(&mu_);
    hold_close_ = hold;
  }

  void SetAccepting(bool accepting) {
    absl::MutexLock lock(&mu_);
    accepting_ = accepting;
  }

  // Waits until `predicate` (called under the lock) holds.
  template <typename Predicate>
  bool WaitUntil(Predicate predicate) {
    absl::MutexLock lock(&mu_);
    auto check = [&]()
                     ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return predicate(); };
    return mu_.AwaitWithTimeout(absl::Condition(&check), kWait);
  }

  absl::Mutex mu_;
  std::vector<v1::Register> registers_ ABSL_GUARDED_BY(mu_);
  // Each result with the number of the connection it came on (1-based).
  std::vector<std::pair<v1::TaskResult, int>> results_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::TaskStarted> started_ ABSL_GUARDED_BY(mu_);
  int heartbeats_ ABSL_GUARDED_BY(mu_) = 0;
  v1::Heartbeat last_heartbeat_ ABSL_GUARDED_BY(mu_);
  int refused_ ABSL_GUARDED_BY(mu_) = 0;
  // Streams the worker ended by half-closing them.
  int half_closed_ ABSL_GUARDED_BY(mu_) = 0;
  // Registered streams that have ended, either way.
  int ended_ ABSL_GUARDED_BY(mu_) = 0;
  // The worker half-closed a stream (which may still be held open).
  bool reads_ended_ ABSL_GUARDED_BY(mu_) = false;

 private:
  void Record(const v1::WorkerMessage& message, int connection) {
    absl::MutexLock lock(&mu_);
    if (message.has_heartbeat()) {
      ++heartbeats_;
      last_heartbeat_ = message.heartbeat();
    }
    for (const auto& started : message.batch().started()) {
      started_.push_back(started);
    }
    for (const auto& result : message.batch().results()) {
      results_.emplace_back(result, connection);
      unacked_up_to_ = result.report_order();
    }
    // Like dagd, which acknowledges a result once it stored it.
    if (!acking_ || unacked_up_to_ == 0 || stream_ == nullptr) return;
    if (lazy_acks_ && !message.has_heartbeat()) return;
    v1::CoordinatorMessage ack;
    ack.mutable_batch()->set_acked_up_to(unacked_up_to_);
    unacked_up_to_ = 0;
    stream_->Write(ack);
  }

  bool hold_close_ ABSL_GUARDED_BY(mu_) = false;
  bool accepting_ ABSL_GUARDED_BY(mu_) = true;
  bool acking_ ABSL_GUARDED_BY(mu_) = true;
  bool lazy_acks_ ABSL_GUARDED_BY(mu_) = false;
  int64_t heartbeat_interval_ms_ ABSL_GUARDED_BY(mu_) = 20;
  uint64_t inline_max_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t max_result_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::string store_id_ ABSL_GUARDED_BY(mu_) = "store-1";
  // The last result read and not yet acknowledged; 0: none.
  uint64_t unacked_up_to_ ABSL_GUARDED_BY(mu_) = 0;
  grpc::ServerContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  ServerStream* stream_ ABSL_GUARDED_BY(mu_) = nullptr;
};

// An assignment of attempt 1 of task `index` of job "job".
inline v1::Assignment Assign(uint32_t index, const std::string& fn,
                             const std::string& args) {
  v1::Assignment assignment;
  assignment.mutable_task()->set_job_id("job");
  assignment.mutable_task()->set_task_index(index);
  assignment.mutable_task()->set_attempt(1);
  assignment.set_fn(fn);
  *assignment.mutable_args() = *ParseJson(args);
  assignment.set_slots(1);
  return assignment;
}

}  // namespace dagd

#endif  // DAGD_TESTS_WORKER_FAKE_COORDINATOR_H_
