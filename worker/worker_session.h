// One WorkerService.Connect stream: sends Register, waits for Registered,
// then reads the coordinator's batches on the calling thread while a writer
// thread sends the outbox's batches and heartbeats, until the stream ends.
// When the outbox is sealed (draining), the writer sends what is left and
// half-closes the stream; the coordinator then ends it.
#ifndef DAGD_WORKER_WORKER_SESSION_H_
#define DAGD_WORKER_WORKER_SESSION_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "dagd/v1/worker_service.grpc.pb.h"
#include "storage/base/logging.h"
#include "worker/data_plane.h"
#include "worker/outbox.h"
#include "worker/task_executor.h"
#include "worker/worker_options.h"
#include "worker/worker_status.h"

namespace dagd {

// Stream used by a session, named for readability.
using WorkerStream = grpc::ClientReaderWriterInterface<v1::WorkerMessage,
                                                       v1::CoordinatorMessage>;

class WorkerSession {
 public:
  struct Outcome {
    bool registered = false;  // got as far as Registered
    // A drain's end: the worker half-closed the stream, everything
    // reported, and dagd ended it with OK (once it had copied what the
    // worker holds). Not a stream that broke, before or after the
    // half-close.
    bool drained = false;
    std::string worker_id;
    absl::Status status;  // why the stream ended
  };

  // Nothing is owned; everything must outlive Run. `data` may be null (no
  // data plane): Register then lists no held results, heartbeats carry no
  // object-store figures, and releases are ignored.
  WorkerSession(const v1::Register* hello, const WorkerOptions* options,
                TaskExecutor* executor, Outbox* outbox, WorkerStatus* status,
                const LogFn* log, DataPlane* data = nullptr);

  // Runs one stream to its end on the calling thread. `context` may be
  // cancelled from another thread (TryCancel) to end it early. `status` is
  // registered from the Registered answer until the stream ends.
  Outcome Run(v1::WorkerService::StubInterface* stub,
              grpc::ClientContext* context);

 private:
  // Sends batches as soon as they are pending (one write at a time) and a
  // heartbeat every `interval`, until the outbox is closed or a write fails
  // (false), or, sealed, everything is sent and it half-closed (true).
  // `read`: the messages the reading thread has read so far.
  bool WriteLoop(WorkerStream* stream, grpc::ClientContext* context,
                 absl::Duration interval, const std::atomic<uint64_t>& read);
  absl::Duration HeartbeatInterval(const v1::Registered& registered) const;

  const v1::Register* const hello_;
  const WorkerOptions* const options_;
  TaskExecutor* const executor_;
  Outbox* const outbox_;
  WorkerStatus* const status_;
  const LogFn* const log_;
  DataPlane* const data_;
  // The store of the coordinator last registered with (Registered.store_id):
  // the attempts and results kept belong to it.
  std::string store_id_;
};

}  // namespace dagd

#endif  // DAGD_WORKER_WORKER_SESSION_H_
