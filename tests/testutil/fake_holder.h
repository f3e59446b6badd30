// A DataService holder for tests: serves objects from a map on a loopback
// port, and can be made busy or stall mid-stream.
#ifndef DAGD_TESTS_TESTUTIL_FAKE_HOLDER_H_
#define DAGD_TESTS_TESTUTIL_FAKE_HOLDER_H_

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "dagd/v1/data_service.grpc.pb.h"
#include "google/protobuf/unknown_field_set.h"
#include "grpcpp/grpcpp.h"

namespace dagd {

// Serves `objects` in chunks of `chunk` bytes; answers RESOURCE_EXHAUSTED
// to the first `busy` calls; can stop mid-stream until released.
class FakeHolder final : public v1::DataService::Service {
 public:
  grpc::Status Fetch(grpc::ServerContext*, const v1::FetchRequest* request,
                     grpc::ServerWriter<v1::FetchChunk>* writer) override {
    ++calls;
    if (busy > 0) {
      --busy;
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "busy");
    }
    auto it = objects.find(request->key());
    if (it == objects.end()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "not held here");
    }
    const std::string& data = it->second;
    if (request->offset() > data.size()) {
      return grpc::Status(grpc::StatusCode::OUT_OF_RANGE, "past the end");
    }
    uint64_t end = data.size();
    if (request->length() > 0) {
      end = std::min<uint64_t>(end, request->offset() + request->length());
    }
    uint64_t at = request->offset();
    do {
      v1::FetchChunk chunk;
      if (at == request->offset()) {
        chunk.set_size(reported_size.value_or(data.size()));
        chunk.set_content_type("application/octet-stream");
      }
      const uint64_t n = std::min<uint64_t>(chunk_bytes, end - at);
      chunk.set_data(data.substr(at, n));
      if (bad_chunk) {
        // A group: no FetchChunk field is one.
        chunk.GetReflection()->MutableUnknownFields(&chunk)->AddGroup(99);
      }
      at += n;
      if (!writer->Write(chunk)) break;
      if (at < end) absl::SleepFor(pause_between_chunks);
      if (stall_after_first && at < end) {
        if (!stalled.HasBeenNotified()) stalled.Notify();
        release.WaitForNotification();
        if (!resume_after_release) {
          return grpc::Status(grpc::StatusCode::CANCELLED, "released");
        }
      }
    } while (at < end);
    return grpc::Status::OK;
  }

  std::map<std::string, std::string> objects;
  std::optional<uint64_t> reported_size;
  uint64_t chunk_bytes = 4;
  std::atomic<int> busy{0};
  std::atomic<int> calls{0};
  // After the first chunk: says so, then waits for `release`, and then
  // ends the call CANCELLED, or with `resume_after_release` sends the rest.
  bool stall_after_first = false;
  bool bad_chunk = false;  // chunks that do not read as FetchChunks
  bool resume_after_release = false;
  absl::Duration pause_between_chunks;  // a slow disk, a slow link
  absl::Notification stalled;
  absl::Notification release;
};

// A FakeHolder serving on 127.0.0.1, stopped by the destructor.
class FakeHolderServer {
 public:
  FakeHolderServer() {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(&holder);
    server_ = builder.BuildAndStart();
    if (server_ != nullptr) address = absl::StrCat("127.0.0.1:", port);
  }
  ~FakeHolderServer() { Stop(); }

  // Stops serving at once (calls in flight are cancelled).
  void Stop() {
    if (!holder.release.HasBeenNotified()) holder.release.Notify();
    if (server_ == nullptr) return;
    server_->Shutdown(std::chrono::system_clock::now());
    server_->Wait();
    server_.reset();
  }

  FakeHolder holder;
  std::string address;  // empty when the server did not start

 private:
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace dagd

#endif  // DAGD_TESTS_TESTUTIL_FAKE_HOLDER_H_
