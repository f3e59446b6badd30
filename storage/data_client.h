// The client of DataService (proto/dagd/v1/data_service.proto): reads a
// result held by a worker (ObjectRef.holder) from that worker, in chunks.
// Workers use it to fetch a task's inputs from their holders; dagd uses it
// for ReadResult of a held result and to make a job's outputs durable.
#ifndef DAGD_STORAGE_DATA_CLIENT_H_
#define DAGD_STORAGE_DATA_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "dagd/v1/data_service.grpc.pb.h"
#include "dagd/v1/types.pb.h"
#include "grpcpp/grpcpp.h"
#include "storage/base/backoff.h"
#include "storage/base/clock.h"
#include "storage/data_secret.h"
#include "storage/object_store.h"

namespace dagd {

struct DataClientOptions {
  // TLS credentials to reach holders with (ChannelCredentials with a CA,
  // storage/tls.h); null: plain TCP. Over TLS a holder is accepted only if
  // its certificate is signed by that CA and names the holder
  // (ObjectRef.holder.name, set by dagd from the name the holder
  // registered under), so one worker cannot serve as another.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  // Presented with every read (FetchRequest.secret); null: none. Not owned.
  const DataSecret* secret = nullptr;
  // A holder at its bound on concurrent sends answers RESOURCE_EXHAUSTED;
  // the read is tried again after a backoff, for up to this long from its
  // start. Other errors are not retried.
  absl::Duration busy_deadline = absl::Minutes(2);
  BackoffPolicy busy_backoff = {absl::Milliseconds(10), absl::Seconds(1), 2.0};
  // A holder that sends nothing for this long (no chunk, no end: a disk
  // that hangs, a process that stopped) ends the read UNAVAILABLE, as one
  // that cannot be reached: keepalive pings find a lost host, not a holder
  // whose connection is fine. Measured in real time, not on `clock`.
  absl::Duration idle_timeout = absl::Minutes(1);
  // Injected for tests; null: the system clock, absl::SleepFor, and a
  // random number generator of the client's own.
  Clock* clock = nullptr;
  std::function<void(absl::Duration)> sleep;
  std::function<double()> uniform;
};

// Lets another thread stop a read (a task's timeout or cancellation): the
// stream in flight ends, and Read returns CANCELLED. Thread-safe; one
// ReadCancel per Read at a time.
class ReadCancel {
 public:
  void Cancel();
  bool cancelled() const;

 private:
  friend class DataClient;
  // False (and nothing attached) when already cancelled.
  bool Attach(grpc::ClientContext* context);
  void Detach();

  mutable absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
};

// Thread-safe: any number of reads at once, from any threads. Keeps one
// gRPC channel per holder address for its whole life (a channel carries
// many concurrent streams), so reads from one holder share a connection.
//
// Errors name the key and the holder's address, keep the holder's status
// code (NOT_FOUND: it does not hold the key; UNAVAILABLE: it cannot be
// reached, or sent nothing for idle_timeout; RESOURCE_EXHAUSTED: still busy
// at the deadline), and are
// DATA_LOSS when the bytes do not match the ObjectRef's size or CRC-32C.
class DataClient {
 public:
  static constexpr uint64_t kChunkBytes = 1 << 20;  // what holders send

  // Called with the bytes in order, in pieces of any size (as they
  // arrived); an error stops the read and is returned by it.
  using ChunkSink = std::function<absl::Status(absl::string_view data)>;

  explicit DataClient(DataClientOptions options = {});
  DataClient(const DataClient&) = delete;
  DataClient& operator=(const DataClient&) = delete;

  // Streams bytes [offset, offset + length) of `ref` (length 0: to the
  // end) from ref.holder().address() into `sink`. The holder must report
  // the object's size as ref.size() (DATA_LOSS otherwise). When the whole
  // object was read (offset 0, length 0), its size and CRC-32C are checked
  // against `ref` after the last chunk: DATA_LOSS then means that what
  // `sink` received must be discarded. `cancel` may be null.
  absl::Status Read(const v1::ObjectRef& ref, uint64_t offset, uint64_t length,
                    const ChunkSink& sink, ReadCancel* cancel = nullptr);

  // The whole object, checked, with the content type `ref` names.
  absl::StatusOr<StoredObject> Fetch(const v1::ObjectRef& ref,
                                     ReadCancel* cancel = nullptr);

  // Bytes [offset, offset + length) (fewer at the end of the object);
  // OUT_OF_RANGE from the holder when offset is past the end. Not checked
  // against the CRC-32C, which covers the whole object only.
  absl::StatusOr<std::string> FetchRange(const v1::ObjectRef& ref,
                                         uint64_t offset, uint64_t length,
                                         ReadCancel* cancel = nullptr);

  // The channel to the holder at `address`, made on first use; over TLS
  // it accepts only a certificate for `name`.
  std::shared_ptr<grpc::Channel> ChannelTo(const std::string& address,
                                           const std::string& name = "");
  // Channels kept, one per holder (dropped once a holder is unreachable).
  size_t channels();

 private:
  struct Attempt;
  // One read's completion queue, which has one operation in flight at a
  // time: Await waits for it, up to idle_timeout, and then cancels the call.
  class IdleBoundStream {
   public:
    IdleBoundStream(absl::Duration idle_timeout, grpc::ClientContext& context);
    ~IdleBoundStream();  // drains the queue
    grpc::CompletionQueue* queue() { return &queue_; }
    void* tag() { return this; }
    // Whether the operation in flight succeeded; false too when the holder
    // left it waiting idle_timeout, which cancels the call (idle() says so).
    bool Await();
    bool idle() const { return idle_; }

   private:
    const absl::Duration idle_timeout_;
    grpc::ClientContext& context_;
    grpc::CompletionQueue queue_;
    bool idle_ = false;
  };
  // One Fetch call; fills `attempt`.
  grpc::Status ReadOnce(const std::shared_ptr<grpc::Channel>& channel,
                        const v1::FetchRequest& request,
                        const v1::ObjectRef& ref, const ChunkSink& sink,
                        ReadCancel* cancel, Attempt& attempt);
  absl::Time Now();
  // Drops `channel` from the cache if it is still the one for `key`: gRPC
  // would otherwise go on reconnecting to a holder that is gone (peers
  // come and go with their hosts), for as long as the worker lives.
  void ForgetChannel(const std::string& key,
                     const std::shared_ptr<grpc::Channel>& channel);
  std::string ChannelKey(const std::string& address,
                         const std::string& name) const {
    return tls() ? absl::StrCat(address, "/", name) : address;
  }
  bool tls() const { return options_.credentials != nullptr; }

  const DataClientOptions options_;
  SystemClock system_clock_;
  Clock* const clock_;

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<grpc::Channel>> channels_
      ABSL_GUARDED_BY(mu_);
  std::function<double()> uniform_ ABSL_GUARDED_BY(mu_);
};

// "'KEY' from the holder at ADDRESS": how errors name an object.
std::string DescribeHeld(const v1::ObjectRef& ref);

}  // namespace dagd

#endif  // DAGD_STORAGE_DATA_CLIENT_H_
