#include "worker/data_service.h"

#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace dagd {
namespace {

grpc::Status ToGrpc(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

}  // namespace

// Streams one object, one chunk in flight: each OnWriteDone starts the
// next chunk, and the last step calls Finish; OnDone frees the send slot
// and the reactor. An object in memory is sent from the holder's own
// bytes; a spilled one is read from its file a chunk at a time, on the
// read pool, never whole.
class DataService::FetchReactor
    : public grpc::ServerWriteReactor<v1::FetchChunk> {
 public:
  FetchReactor(DataService* service, const v1::FetchRequest& request)
      : service_(service), request_(request) {
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
    if (!ok) {
      return Finish(
          grpc::Status(grpc::StatusCode::CANCELLED, "the reader went away"));
    }
    Next();
  }
  void OnCancel() override { cancelled_ = true; }
  void OnDone() override {
    if (acquired_) service_->ReleaseSlot();
    delete this;
  }

 private:
  void Next() {
    if (cancelled_) {
      return Finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
    }
    if (started_ && at_ >= end_) return Finish(grpc::Status::OK);
    const uint64_t n =
        std::min<uint64_t>(service_->options_.chunk_bytes, end_ - at_);
    if (memory_ != nullptr) {
      return Write(std::string(memory_->data() + at_, n));
    }
    service_->reads_.Schedule([this, n] {
      absl::StatusOr<std::string> bytes =
          service_->holder_->ReadRange(request_.key(), at_, n);
      if (!bytes.ok()) return Finish(ToGrpc(bytes.status()));
      Write(*std::move(bytes));
    });
  }

  void Write(std::string bytes) {
    chunk_.Clear();
    if (!started_) {
      // The first chunk says what the whole object is, even when empty.
      chunk_.set_size(size_);
      chunk_.set_content_type(content_type_);
      started_ = true;
    }
    at_ += bytes.size();
    service_->sent_bytes_ += bytes.size();
    chunk_.set_data(std::move(bytes));
    StartWrite(&chunk_);
  }

  DataService* const service_;
  const v1::FetchRequest request_;
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
  v1::FetchChunk chunk_;
};

class DataService::Service : public v1::DataService::CallbackService {
 public:
  explicit Service(DataService* owner) : owner_(owner) {}

  grpc::ServerWriteReactor<v1::FetchChunk>* Fetch(
      grpc::CallbackServerContext*, const v1::FetchRequest* request) override {
    return new FetchReactor(owner_, *request);
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
  builder.AddListeningPort(options.listen, grpc::InsecureServerCredentials(),
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
  return data;
}

DataService::~DataService() {
  if (server_ != nullptr) {
    server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
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
