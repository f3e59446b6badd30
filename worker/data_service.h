// The worker's DataService server (proto/dagd/v1/data_service.proto): the
// results this worker holds (worker/object_holder.h), streamed to other
// workers and to dagd in chunks of 1 MiB. At most `max_concurrent_sends`
// Fetch calls are served at once; beyond that a call is answered
// RESOURCE_EXHAUSTED at once and the reader asks again with backoff
// (storage/data_client.h). Each stream has one chunk in flight, and the
// next one is built only when gRPC took the last, so a slow reader slows
// its stream (HTTP/2 flow control) instead of piling chunks up in memory.
// A spilled object is sent from its file a chunk at a time, so serving it
// needs no more memory than a chunk, however large it is. A reader that
// takes nothing for `send_stall_timeout` (a stopped process, a host gone
// without a word, a reader that stopped reading) loses its stream, and its
// send slot: else a few such readers would leave the worker refusing every
// read.
#ifndef DAGD_WORKER_DATA_SERVICE_H_
#define DAGD_WORKER_DATA_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "dagd/v1/data_service.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "storage/data_secret.h"
#include "worker/object_holder.h"
#include "worker/thread_pool.h"

namespace dagd {

struct DataServiceOptions {
  std::string listen = "127.0.0.1:0";  // host:port; port 0 picks one
  // What others dial (Register.data_address); empty: the listen host with
  // the bound port, or this host's name when it listens on every address.
  std::string advertise;
  int max_concurrent_sends = 10;
  uint64_t chunk_bytes = 1 << 20;
  // How long a chunk may wait for its reader before the stream is
  // cancelled (--send_stall_timeout).
  absl::Duration send_stall_timeout = absl::Minutes(2);
  // What it listens with; null: plain TCP. A worker with a certificate
  // serves TLS and asks every reader (dagd, other workers) for a
  // certificate of its deployment's CA (DataServerCredentials, storage/tls.h).
  std::shared_ptr<grpc::ServerCredentials> credentials;
  // Reads that do not present it (FetchRequest.secret) are refused, once
  // it is set (Registered.data_secret); null: none. Not owned.
  const DataSecret* secret = nullptr;
};

// Thread-safe. Owned by the worker's main; `holder` (not owned) must
// outlive it.
class DataService {
 public:
  // Listens and serves. UNAVAILABLE when it cannot listen on
  // options.listen.
  static absl::StatusOr<std::unique_ptr<DataService>> Start(
      const DataServiceOptions& options, ObjectHolder* holder);
  // Stops serving: streams in flight end (CANCELLED) within a second.
  ~DataService();
  DataService(const DataService&) = delete;
  DataService& operator=(const DataService&) = delete;

  // host:port others reach this service at.
  const std::string& address() const { return address_; }
  int port() const { return port_; }

  // Totals since the start.
  uint64_t sent_bytes() const { return sent_bytes_.load(); }
  uint64_t refused_busy() const { return refused_busy_.load(); }
  int active_sends() const { return active_sends_.load(); }
  // Streams cancelled because their reader took nothing for
  // send_stall_timeout.
  uint64_t stalled_sends() const { return stalled_sends_.load(); }

 private:
  class Service;
  class FetchReactor;
  friend class FetchReactor;

  DataService(const DataServiceOptions& options, ObjectHolder* holder);
  // Takes a send slot; false when every one is taken.
  bool TryAcquire();
  // The stream holding a slot is watched until it is done.
  void Watch(FetchReactor* stream);
  void ReleaseSlot(FetchReactor* stream);
  // Cancels the streams whose chunk waited past send_stall_timeout, until
  // the service stops.
  void WatchStalls();

  const DataServiceOptions options_;
  ObjectHolder* const holder_;
  std::atomic<uint64_t> sent_bytes_{0};
  std::atomic<uint64_t> refused_busy_{0};
  std::atomic<int> active_sends_{0};
  std::atomic<uint64_t> stalled_sends_{0};
  absl::Mutex streams_mu_;
  // Streams holding a send slot: OnDone leaves it under streams_mu_, so
  // the watchdog may cancel any stream it finds here.
  absl::flat_hash_set<FetchReactor*> streams_ ABSL_GUARDED_BY(streams_mu_);
  absl::Notification stopping_;
  // Reads chunks of spilled objects from their files: a blocking read has
  // no place on gRPC's callback threads. Outlives the server (declared
  // before it).
  ThreadPool reads_{2};
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  int port_ = 0;
  std::thread watchdog_;  // started last, joined first
};

// What to advertise for a service bound at `listen` on `port`: `listen`'s
// host with `port`, or this machine's host name when the host is a
// wildcard (0.0.0.0, [::], empty) that no peer can dial.
std::string AdvertisedAddress(const std::string& listen, int port);

}  // namespace dagd

#endif  // DAGD_WORKER_DATA_SERVICE_H_
