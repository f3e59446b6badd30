#include "worker/data_service.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "storage/fetch_chunk_wire.h"

namespace dagd {
namespace {

grpc::Status ToGrpc(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

// A FetchRequest from the raw request bytes.
bool ParseRequest(const grpc::ByteBuffer& raw, v1::FetchRequest& request) {
  std::vector<grpc::Slice> slices;
  if (!raw.Dump(&slices).ok()) return false;
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return request.ParseFromString(bytes);
}

// What keeps the bytes of a chunk alive while gRPC sends them: gRPC
// drops its reference when the bytes are on the wire, which may be after
// the write completed.
using ChunkOwner = std::shared_ptr<const std::string>;

void ReleaseOwner(void* owner) { delete static_cast<ChunkOwner*>(owner); }

// Monotonic: a stall is elapsed time, whatever the wall clock does.
int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// Streams one object, one chunk in flight: each OnWriteDone starts the
// next chunk, and the last step calls Finish; OnDone frees the send slot
// and the reactor. An object in memory is sent from the holder's own
// bytes, which gRPC writes to the socket where they lie (no copy); a
// spilled one is read from its file a chunk at a time, on the read pool,
// never whole. Chunks are FetchChunk messages, encoded here
// (storage/fetch_chunk_wire.h).
class DataService::FetchReactor
    : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  FetchReactor(DataService* service, grpc::CallbackServerContext* context,
               const grpc::ByteBuffer& raw_request)
      : service_(service), context_(context) {
    if (!ParseRequest(raw_request, request_)) {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "the request is not a FetchRequest"));
      return;
    }
    if (const DataSecret* secret = service_->options_.secret;
        secret != nullptr && !secret->Admits(request_.secret())) {
      // A certificate the CA signed, but not dagd's or a worker's of it
      // (a client's): what this worker holds is not its to read.
      Finish(grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                          "the read did not present dagd's data-plane secret "
                          "(Registered.data_secret): only dagd and the "
                          "workers registered with it read held results"));
      return;
    }
    if (!service_->TryAcquire()) {
      Finish(grpc::Status(
          grpc::StatusCode::RESOURCE_EXHAUSTED,
          absl::StrCat("the worker is sending ",
                       service_->options_.max_concurrent_sends,
                       " objects already (--max_concurrent_sends); ask again "
                       "later")));
      return;
    }
    acquired_ = true;
    service_->Watch(this);
    ObjectHolder& holder = *service_->holder_;
    if (std::optional<HeldObject> object =
            holder.GetIfInMemory(request_.key())) {
      memory_ = object->data;
      size_ = memory_->size();
      content_type_ = object->content_type;
    } else if (absl::StatusOr<HeldInfo> info = holder.Stat(request_.key());
               info.ok()) {
      size_ = info->size;
      content_type_ = info->content_type;
    } else {
      Finish(ToGrpc(info.status()));
      return;
    }
    const uint64_t offset = request_.offset();
    if (offset > size_ || (offset == size_ && request_.length() > 0)) {
      Finish(
          grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                       absl::StrCat("offset ", offset, " is past the end of '",
                                    request_.key(), "' (", size_, " bytes)")));
      return;
    }
    at_ = offset;
    end_ = request_.length() == 0
               ? size_
               : offset + std::min<uint64_t>(request_.length(), size_ - offset);
    Next();
  }

  void OnWriteDone(bool ok) override {
    write_started_ = 0;
    if (!ok) {
      return Finish(
          grpc::Status(grpc::StatusCode::CANCELLED, "the reader went away"));
    }
    Next();
  }
  void OnCancel() override { cancelled_ = true; }
  void OnDone() override {
    if (acquired_) service_->ReleaseSlot(this);
    delete this;
  }

  // From the watchdog, under streams_mu_ (OnDone waits for it): whether
  // the chunk in flight waited past `timeout` for the reader; the first
  // time, the call is cancelled (which ends that write, not ok).
  bool CancelIfStalled(int64_t now, absl::Duration timeout) {
    const int64_t started = write_started_.load();
    if (started == 0 || stall_cancelled_ ||
        absl::Nanoseconds(now - started) <= timeout) {
      return false;
    }
    stall_cancelled_ = true;
    context_->TryCancel();
    return true;
  }

 private:
  void Next() {
    if (cancelled_) {
      return Finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
    }
    if (started_ && at_ >= end_) return Finish(grpc::Status::OK);
    const uint64_t n =
        std::min<uint64_t>(service_->options_.chunk_bytes, end_ - at_);
    if (memory_ != nullptr) return Write(memory_, memory_->data() + at_, n);
    service_->reads_.Schedule([this, n] {
      absl::StatusOr<std::string> bytes =
          service_->holder_->ReadRange(request_.key(), at_, n);
      if (!bytes.ok()) return Finish(ToGrpc(bytes.status()));
      auto owner = std::make_shared<const std::string>(*std::move(bytes));
      Write(owner, owner->data(), owner->size());
    });
  }

  // Sends `n` bytes at `data`, which `owner` keeps alive.
  void Write(const ChunkOwner& owner, const char* data, size_t n) {
    FetchChunkHeader header;
    if (!started_) {
      // The first chunk says what the whole object is, even when empty.
      header = {true, size_, content_type_};
      started_ = true;
    }
    grpc::Slice slices[2] = {grpc::Slice(EncodeFetchChunkHeader(header, n)),
                             grpc::Slice(const_cast<char*>(data), n,
                                         ReleaseOwner, new ChunkOwner(owner))};
    chunk_ = grpc::ByteBuffer(slices, n > 0 ? 2 : 1);
    at_ += n;
    service_->sent_bytes_ += n;
    write_started_ = SteadyNanos();
    StartWrite(&chunk_);
  }

  DataService* const service_;
  grpc::CallbackServerContext* const context_;
  v1::FetchRequest request_;
  bool acquired_ = false;
  std::atomic<bool> cancelled_{false};
  // The holder's bytes, kept alive while they are sent; null: the object
  // is read from its spill file.
  std::shared_ptr<const std::string> memory_;
  uint64_t size_ = 0;
  std::string content_type_;
  uint64_t at_ = 0;
  uint64_t end_ = 0;
  bool started_ = false;
  grpc::ByteBuffer chunk_;
  // When the write in flight started (SteadyNanos); 0: none in flight.
  std::atomic<int64_t> write_started_{0};
  bool stall_cancelled_ = false;  // the watchdog's, under streams_mu_
};

// Fetch with raw messages: the reactor encodes its chunks itself.
class DataService::Service
    : public v1::DataService::WithRawCallbackMethod_Fetch<
          v1::DataService::Service> {
 public:
  explicit Service(DataService* owner) : owner_(owner) {}

  grpc::ServerWriteReactor<grpc::ByteBuffer>* Fetch(
      grpc::CallbackServerContext* context,
      const grpc::ByteBuffer* request) override {
    return new FetchReactor(owner_, context, *request);
  }

 private:
  DataService* const owner_;
};

DataService::DataService(const DataServiceOptions& options,
                         ObjectHolder* holder)
    : options_(options), holder_(holder) {}

absl::StatusOr<std::unique_ptr<DataService>> DataService::Start(
    const DataServiceOptions& options, ObjectHolder* holder) {
  std::unique_ptr<DataService> data(new DataService(options, holder));
  data->service_ = std::make_unique<Service>(data.get());
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen,
                           options.credentials != nullptr
                               ? options.credentials
                               : grpc::InsecureServerCredentials(),
                           &data->port_);
  builder.RegisterService(data->service_.get());
  // Readers ping every 30 s while they read (storage/data_client.cc); the
  // default would take that for abuse and close their connections.
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10'000);
  data->server_ = builder.BuildAndStart();
  if (data->server_ == nullptr || data->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve results on '", options.listen,
                     "' (is it host:port, and is the port free?)"));
  }
  data->address_ = options.advertise.empty()
                       ? AdvertisedAddress(options.listen, data->port_)
                       : options.advertise;
  if (options.send_stall_timeout > absl::ZeroDuration() &&
      options.send_stall_timeout != absl::InfiniteDuration()) {
    data->watchdog_ =
        std::thread([service = data.get()] { service->WatchStalls(); });
  }
  return data;
}

DataService::~DataService() {
  stopping_.Notify();
  if (watchdog_.joinable()) watchdog_.join();
  if (server_ != nullptr) {
    server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  }
}

void DataService::Watch(FetchReactor* stream) {
  absl::MutexLock lock(&streams_mu_);
  streams_.insert(stream);
}

void DataService::ReleaseSlot(FetchReactor* stream) {
  {
    absl::MutexLock lock(&streams_mu_);
    streams_.erase(stream);
  }
  --active_sends_;
}

void DataService::WatchStalls() {
  const absl::Duration timeout = options_.send_stall_timeout;
  const absl::Duration period =
      std::clamp(timeout / 4, absl::Milliseconds(10), absl::Seconds(1));
  while (!stopping_.WaitForNotificationWithTimeout(period)) {
    const int64_t now = SteadyNanos();
    absl::MutexLock lock(&streams_mu_);
    for (FetchReactor* stream : streams_) {
      if (stream->CancelIfStalled(now, timeout)) ++stalled_sends_;
    }
  }
}

bool DataService::TryAcquire() {
  int active = active_sends_.load();
  while (active < options_.max_concurrent_sends) {
    if (active_sends_.compare_exchange_weak(active, active + 1)) return true;
  }
  ++refused_busy_;
  return false;
}

std::string AdvertisedAddress(const std::string& listen, int port) {
  const size_t colon = listen.rfind(':');
  std::string host =
      colon == std::string::npos ? listen : listen.substr(0, colon);
  if (host.empty() || host == "0.0.0.0" || host == "[::]" || host == "::") {
    char name[256] = {};
    host = gethostname(name, sizeof(name) - 1) == 0 && name[0] != '\0'
               ? name
               : "localhost";
  }
  return absl::StrCat(host, ":", port);
}

}  // namespace dagd
