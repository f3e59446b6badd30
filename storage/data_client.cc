#include "storage/data_client.h"

#include <exception>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "storage/base/large_buffer.h"
#include "storage/crc32c.h"
#include "storage/fetch_chunk_wire.h"

namespace dagd {

// What one Fetch call delivered.
struct DataClient::Attempt {
  uint64_t chunks = 0;
  uint64_t bytes = 0;
  uint32_t crc = 0;
  // Set when the read must end with this error whatever the holder said:
  // the sink's error, a cancellation, a size that is not the ref's.
  absl::Status error;
};

void ReadCancel::Cancel() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
  if (context_ != nullptr) context_->TryCancel();
}

bool ReadCancel::cancelled() const {
  absl::MutexLock lock(&mu_);
  return cancelled_;
}

bool ReadCancel::Attach(grpc::ClientContext* context) {
  absl::MutexLock lock(&mu_);
  if (cancelled_) return false;
  context_ = context;
  return true;
}

void ReadCancel::Detach() {
  absl::MutexLock lock(&mu_);
  context_ = nullptr;
}

DataClient::IdleBoundStream::IdleBoundStream(absl::Duration idle_timeout,
                                             grpc::ClientContext& context)
    : idle_timeout_(idle_timeout), context_(context) {}

DataClient::IdleBoundStream::~IdleBoundStream() {
  queue_.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (queue_.Next(&tag, &ok)) {
  }
}

bool DataClient::IdleBoundStream::Await() {
  void* tag = nullptr;
  bool ok = false;
  if (!idle_) {
    const absl::Time deadline = absl::Now() + idle_timeout_;
    switch (queue_.AsyncNext(&tag, &ok, absl::ToChronoTime(deadline))) {
      case grpc::CompletionQueue::GOT_EVENT:
        return ok;
      case grpc::CompletionQueue::TIMEOUT:
        // The operation in flight ends at once, not OK.
        idle_ = true;
        context_.TryCancel();
        break;
      case grpc::CompletionQueue::SHUTDOWN:
        return false;
    }
  }
  return queue_.Next(&tag, &ok) && ok;
}

std::string DescribeHeld(const v1::ObjectRef& ref) {
  return absl::StrCat("'", ref.key(), "' from the holder at ",
                      ref.holder().address());
}

DataClient::DataClient(DataClientOptions options)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : &system_clock_) {
  uniform_ = options_.uniform;
  if (uniform_ == nullptr) {
    uniform_ = [engine = std::mt19937_64(std::random_device{}())]() mutable {
      return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
    };
  }
}

absl::Time DataClient::Now() { return clock_->Now(); }

std::shared_ptr<grpc::Channel> DataClient::ChannelTo(const std::string& address,
                                                     const std::string& name) {
  absl::MutexLock lock(&mu_);
  // Without TLS the name is not checked, and one channel per address does.
  std::shared_ptr<grpc::Channel>& channel =
      channels_[ChannelKey(address, name)];
  if (channel == nullptr) {
    grpc::ChannelArguments args;
    if (tls()) {
      // The holder's certificate must name the worker dagd says holds the
      // object, whatever address it is reached at (a pod IP, a NAT).
      args.SetSslTargetNameOverride(name);
    }
    // A holder that vanished without closing its connections (a lost
    // host) is noticed within about 40 s instead of hanging the read.
    // Holders accept pings this often (worker/data_service.cc).
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30'000);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10'000);
    // Room for a chunk and its framing, whatever the holder's chunk size.
    args.SetMaxReceiveMessageSize(64 << 20);
    // A stream window of 8 MiB from the start: with gRPC's default (64 KiB,
    // grown by its bandwidth-delay probe) one stream carried 0.2-0.7 GB/s
    // on loopback here, with this 1.1-1.3 GB/s. It bounds what one stream
    // may have in flight towards this reader.
    args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 8 << 20);
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    channel = grpc::CreateCustomChannel(
        address,
        tls() ? options_.credentials : grpc::InsecureChannelCredentials(),
        args);
  }
  return channel;
}

size_t DataClient::channels() {
  absl::MutexLock lock(&mu_);
  return channels_.size();
}

void DataClient::ForgetChannel(const std::string& key,
                               const std::shared_ptr<grpc::Channel>& channel) {
  absl::MutexLock lock(&mu_);
  auto it = channels_.find(key);
  if (it != channels_.end() && it->second == channel) channels_.erase(it);
}

absl::Status DataClient::Read(const v1::ObjectRef& ref, uint64_t offset,
                              uint64_t length, const ChunkSink& sink,
                              ReadCancel* cancel) {
  const std::string& address = ref.holder().address();
  if (address.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "object '", ref.key(), "' names no holder address to read it from"));
  }
  const std::string& name = ref.holder().name();
  if (tls() && name.empty()) {
    // Recorded before holders had names: nobody can say whose certificate
    // to accept. UNAVAILABLE, as for a holder that is gone: made again.
    return absl::UnavailableError(absl::StrCat(
        "cannot read ", DescribeHeld(ref),
        " over TLS: no holder name is recorded to check its certificate "
        "against"));
  }
  const std::shared_ptr<grpc::Channel> channel = ChannelTo(address, name);
  v1::FetchRequest request;
  request.set_key(ref.key());
  request.set_offset(offset);
  request.set_length(length);
  if (options_.secret != nullptr) request.set_secret(options_.secret->Get());
  const absl::Time give_up = Now() + options_.busy_deadline;
  for (uint32_t retry = 1;; ++retry) {
    Attempt attempt;
    const grpc::Status status =
        ReadOnce(channel, request, ref, sink, cancel, attempt);
    if (!attempt.error.ok()) return attempt.error;
    if (cancel != nullptr && cancel->cancelled()) {
      return absl::CancelledError(
          absl::StrCat("reading ", DescribeHeld(ref), " was cancelled"));
    }
    if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
        attempt.chunks == 0) {
      double uniform = 0;
      {
        absl::MutexLock lock(&mu_);
        uniform = uniform_();
      }
      const absl::Duration delay =
          BackoffDelay(options_.busy_backoff, retry, uniform);
      if (Now() + delay > give_up) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "cannot read ", DescribeHeld(ref), ": the holder stayed busy for ",
            absl::FormatDuration(options_.busy_deadline), " (",
            status.error_message(), ")"));
      }
      if (options_.sleep != nullptr) {
        options_.sleep(delay);
      } else {
        absl::SleepFor(delay);
      }
      continue;
    }
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
        status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      ForgetChannel(ChannelKey(address, name), channel);
    }
    if (!status.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                          absl::StrCat("cannot read ", DescribeHeld(ref), ": ",
                                       status.error_message()));
    }
    if (offset != 0 || length != 0) return absl::OkStatus();
    if (attempt.bytes != ref.size()) {
      return absl::DataLossError(absl::StrCat(
          "read ", attempt.bytes, " bytes of ", DescribeHeld(ref),
          "; dagd recorded ", ref.size(), ": discard what was received"));
    }
    if (ref.crc32c() != 0 && attempt.crc != ref.crc32c()) {
      return absl::DataLossError(
          absl::StrCat(DescribeHeld(ref),
                       " does not match its CRC-32C (recorded ", ref.crc32c(),
                       ", read ", attempt.crc, "): discard what was received"));
    }
    return absl::OkStatus();
  }
}

grpc::Status DataClient::ReadOnce(const std::shared_ptr<grpc::Channel>& channel,
                                  const v1::FetchRequest& request,
                                  const v1::ObjectRef& ref,
                                  const ChunkSink& sink, ReadCancel* cancel,
                                  Attempt& attempt) {
  grpc::ClientContext context;
  if (cancel != nullptr && !cancel->Attach(&context)) {
    attempt.error = absl::CancelledError(
        absl::StrCat("reading ", DescribeHeld(ref), " was cancelled"));
    return grpc::Status::CANCELLED;
  }
  // DataService.Fetch with its answers left as gRPC received them: each
  // chunk's bytes go from gRPC's buffers to `sink` with no message between.
  // Asynchronous on a queue of its own, only so that each wait for the
  // holder can have a deadline (a stream's own deadline would bound the
  // whole read, however fast the bytes come).
  static const char kMethod[] = "/dagd.v1.DataService/Fetch";
  const grpc::internal::RpcMethod method(
      kMethod, grpc::internal::RpcMethod::SERVER_STREAMING, channel);
  IdleBoundStream stream(options_.idle_timeout, context);
  std::unique_ptr<grpc::ClientAsyncReader<grpc::ByteBuffer>> reader(
      grpc::internal::ClientAsyncReaderFactory<grpc::ByteBuffer>::Create(
          channel.get(), stream.queue(), method, &context, request,
          /*start=*/true, stream.tag()));
  grpc::ByteBuffer chunk;
  const auto ignore = [](absl::string_view) { return absl::OkStatus(); };
  const auto read = [&] {
    reader->Read(&chunk, stream.tag());
    return stream.Await();
  };
  const bool started = stream.Await();
  while (started && read()) {
    FetchChunkHeader header;
    absl::Status sink_error;
    if (attempt.chunks++ == 0) {
      // The size first, wherever the holder put it in the chunk.
      attempt.error = ReadFetchChunk(chunk, header, ignore);
      if (attempt.error.ok() && header.size != ref.size()) {
        attempt.error = absl::DataLossError(
            absl::StrCat(DescribeHeld(ref), " is ", header.size,
                         " bytes at its holder; dagd recorded ", ref.size()));
      }
    }
    if (attempt.error.ok()) {
      attempt.error =
          ReadFetchChunk(chunk, header, [&](absl::string_view piece) {
            attempt.crc =
                crc32c::Extend(attempt.crc, piece.data(), piece.size());
            attempt.bytes += piece.size();
            sink_error = sink(piece);
            return sink_error;
          });
    }
    if (!attempt.error.ok() && sink_error.ok() &&
        !absl::IsDataLoss(attempt.error)) {
      // The chunk did not read as one: say whose.
      attempt.error = absl::Status(
          attempt.error.code(),
          absl::StrCat(DescribeHeld(ref), ": ", attempt.error.message()));
    }
    chunk.Clear();
    if (!attempt.error.ok()) {
      context.TryCancel();
      while (read()) {
      }
      break;
    }
  }
  grpc::Status status;
  reader->Finish(&status, stream.tag());
  stream.Await();
  if (cancel != nullptr) cancel->Detach();
  if (stream.idle() && attempt.error.ok()) {
    return grpc::Status(
        grpc::StatusCode::UNAVAILABLE,
        absl::StrCat("the holder sent nothing for ",
                     absl::FormatDuration(options_.idle_timeout)));
  }
  return status;
}

namespace {

// Appends a chunk to `out`, which takes at most `most` bytes: a holder
// that sends more is stopped there, not buffered without end.
absl::Status Append(const v1::ObjectRef& ref, uint64_t most,
                    absl::string_view data, std::string& out) {
  if (data.size() > most - out.size()) {
    return absl::DataLossError(absl::StrCat(DescribeHeld(ref),
                                            ": its holder sent more than the ",
                                            most, " bytes asked for"));
  }
  out.append(data.data(), data.size());
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<StoredObject> DataClient::Fetch(const v1::ObjectRef& ref,
                                               ReadCancel* cancel) {
  StoredObject object;
  // The size comes from dagd's record: a failed task, not a crash of every
  // task this process runs (checked first: an allocator may abort on a
  // size it cannot serve rather than throw).
  if (ref.size() > MemoryLimitBytes()) {
    return absl::ResourceExhaustedError(
        absl::StrCat(DescribeHeld(ref), " is ", ref.size(),
                     " bytes: more than this process can hold in memory"));
  }
  try {
    object.data = LargeString(ref.size());
  } catch (const std::exception&) {  // bad_alloc, length_error
    return absl::ResourceExhaustedError(
        absl::StrCat(DescribeHeld(ref), " is ", ref.size(),
                     " bytes: more than this process can hold in memory"));
  }
  object.content_type = ref.content_type();
  absl::Status read = Read(
      ref, 0, 0,
      [&object, &ref](absl::string_view data) {
        return Append(ref, ref.size(), data, object.data);
      },
      cancel);
  if (!read.ok()) return read;
  return object;
}

absl::StatusOr<std::string> DataClient::FetchRange(const v1::ObjectRef& ref,
                                                   uint64_t offset,
                                                   uint64_t length,
                                                   ReadCancel* cancel) {
  std::string bytes;
  const uint64_t most =
      length > 0 ? length : (ref.size() > offset ? ref.size() - offset : 0);
  absl::Status read = Read(
      ref, offset, length,
      [&bytes, &ref, most](absl::string_view data) {
        return Append(ref, most, data, bytes);
      },
      cancel);
  if (!read.ok()) return read;
  return bytes;
}

}  // namespace dagd
