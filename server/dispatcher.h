// How the coordinator hands work to whoever runs it. To the scheduler every
// dispatcher is a worker (a WorkerId with a WorkerSpec); the coordinator
// keeps one Dispatcher per worker and, at the end of each turn, passes it
// that worker's batch of assignments and cancels.
//
// Two implementations: a worker process's stream (the WorkerService
// reactor in grpc_services.cc, which registers with a Register message),
// and dispatchers living in dagd itself, which say what worker they are
// (InProcessDispatcher: the Lambda dispatcher, lambda_dispatcher.h). Their
// reports (started, results, heartbeats) come back through
// Coordinator::WorkerMessage either way.
#ifndef DAGD_SERVER_DISPATCHER_H_
#define DAGD_SERVER_DISPATCHER_H_

#include "absl/status/status.h"
#include "dagd/v1/worker_service.pb.h"
#include "server/scheduler.h"

namespace dagd {

// Thread-safe, and never blocks: the coordinator calls it from its loop
// thread (Registered, refusals), which every client and worker waits on,
// and from its outbox's thread (each turn's batches and closes, in order:
// server/outbox.h). A dispatcher queues what it is given and does the slow
// part (calling AWS) elsewhere; a worker's stream writes to its socket on
// the calling thread, which is why batches go out from the outbox's.
class Dispatcher {
 public:
  virtual ~Dispatcher() = default;

  // Hands over `message`: Registered, then batches of assignments and
  // cancels. Nothing is answered here; outcomes come back as reports.
  virtual void Send(v1::CoordinatorMessage message) = 0;

  // Ends the dispatcher's work with `reason` (the worker was refused or
  // declared lost, or dagd is stopping); what is sent after it is dropped.
  // A stream ends, and its worker may connect again.
  virtual void Close(absl::Status reason) = 0;

  // Ends it as Close does, but without waiting for the worker to read what
  // was sent: dagd gave it up (it missed its heartbeats). A worker that
  // stopped reading, or whose connection is half open, would otherwise hold
  // its stream (and under --worker_ca its certificate's name, which refuses
  // its reconnection) until TCP gives up, minutes later.
  virtual void Drop(absl::Status reason) { Close(std::move(reason)); }
};

// A dispatcher in dagd's own process (no stream, no Register): it describes
// the worker it is to the scheduler (Coordinator::ConnectLocalWorker).
class InProcessDispatcher : public Dispatcher {
 public:
  // The worker the scheduler sees: name, pool, slots, which functions.
  // Constant; thread-safe.
  virtual WorkerSpec Spec() const = 0;
};

}  // namespace dagd

#endif  // DAGD_SERVER_DISPATCHER_H_
