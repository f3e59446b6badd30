// A fake AWS Lambda Runtime API on 127.0.0.1 for tests of dagd-worker's
// Lambda mode: hands out the invocations a test queues (GET .../next waits
// for one, as Lambda's long poll does) and records every answer posted.
#ifndef DAGD_TESTS_WORKER_FAKE_LAMBDA_RUNTIME_API_H_
#define DAGD_TESTS_WORKER_FAKE_LAMBDA_RUNTIME_API_H_

#include <arpa/inet.h>
#include <civetweb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace dagd {

class FakeLambdaRuntimeApi {
 public:
  struct Invocation {
    std::string request_id;
    int64_t deadline_unix_ms = 0;  // 0: no Lambda-Runtime-Deadline-Ms header
    std::string body;
  };
  // One POST: `path` below /2018-06-01/runtime, such as
  // "/invocation/r1/response" or "/init/error".
  struct Post {
    std::string path;
    std::string error_type;  // Lambda-Runtime-Function-Error-Type
    std::string body;
    absl::Time at;
  };

  // Listens on a free port of 127.0.0.1; null if civetweb cannot start.
  static std::unique_ptr<FakeLambdaRuntimeApi> Start() {
    std::unique_ptr<FakeLambdaRuntimeApi> api(new FakeLambdaRuntimeApi());
    const char* options[] = {"listening_ports", "127.0.0.1:0", "num_threads",
                             "8", nullptr};
    mg_callbacks callbacks = {};
    callbacks.log_message = [](const mg_connection*, const char*) { return 1; };
    api->context_ = mg_start(&callbacks, nullptr, options);
    if (api->context_ == nullptr) return nullptr;
    mg_server_port ports[2] = {};
    if (mg_get_server_ports(api->context_, 2, ports) < 1) return nullptr;
    api->port_ = ports[0].port;
    mg_set_request_handler(api->context_, "/2018-06-01/runtime/", &Handle,
                           api.get());
    return api;
  }

  ~FakeLambdaRuntimeApi() {
    if (context_ == nullptr) return;
    Shutdown();
    // civetweb's accept loop notices the stop flag only every 2 s unless a
    // connection wakes it.
    std::atomic<bool> stopped{false};
    std::thread stopper([&] {
      mg_stop(context_);
      stopped = true;
    });
    while (!stopped) {
      WakeAcceptLoop();
      absl::SleepFor(absl::Milliseconds(20));
    }
    stopper.join();
  }

  // The value for AWS_LAMBDA_RUNTIME_API.
  std::string endpoint() const { return absl::StrCat("127.0.0.1:", port_); }

  void Enqueue(Invocation invocation) {
    absl::MutexLock lock(&mu_);
    queue_.push_back(std::move(invocation));
  }

  // From now on GET .../next (waiting or not) gets a 500, after which a
  // runtime is to exit.
  void Shutdown() {
    absl::MutexLock lock(&mu_);
    shutdown_ = true;
  }

  // A POST .../response with a body over this many bytes gets 413, as
  // Lambda answers a response over its payload limit.
  void set_max_response_bytes(size_t bytes) {
    absl::MutexLock lock(&mu_);
    max_response_bytes_ = bytes;
  }

  // False if fewer than `count` posts arrived within `timeout`.
  bool WaitForPosts(size_t count, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return posts_.size() >= count;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }

  std::vector<Post> posts() {
    absl::MutexLock lock(&mu_);
    return posts_;
  }

 private:
  FakeLambdaRuntimeApi() = default;

  static int Handle(mg_connection* connection, void* self) {
    auto* api = static_cast<FakeLambdaRuntimeApi*>(self);
    const mg_request_info* request = mg_get_request_info(connection);
    absl::string_view path = request->local_uri;
    absl::ConsumePrefix(&path, "/2018-06-01/runtime");
    std::string method = request->request_method;
    if (method == "GET" && path == "/invocation/next") {
      return api->HandleNext(connection);
    }
    if (method == "POST") return api->HandlePost(connection, path);
    return Respond(connection, 404, "", "{\"errorMessage\":\"not found\"}");
  }

  int HandleNext(mg_connection* connection) {
    Invocation invocation;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return shutdown_ || !queue_.empty();
      };
      mu_.Await(absl::Condition(&ready));
      if (shutdown_) {
        return Respond(connection, 500, "",
                       "{\"errorMessage\":\"the fake is shutting down\"}");
      }
      invocation = std::move(queue_.front());
      queue_.pop_front();
    }
    std::string headers = absl::StrCat(
        "Lambda-Runtime-Aws-Request-Id: ", invocation.request_id, "\r\n",
        "Lambda-Runtime-Invoked-Function-Arn: "
        "arn:aws:lambda:us-east-1:123456789012:function:dagd\r\n",
        "Lambda-Runtime-Trace-Id: "
        "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700\r\n");
    if (invocation.deadline_unix_ms > 0) {
      absl::StrAppend(&headers, "Lambda-Runtime-Deadline-Ms: ",
                      invocation.deadline_unix_ms, "\r\n");
    }
    return Respond(connection, 200, headers, invocation.body);
  }

  int HandlePost(mg_connection* connection, absl::string_view path) {
    Post post;
    post.path = std::string(path);
    const char* error_type =
        mg_get_header(connection, "Lambda-Runtime-Function-Error-Type");
    if (error_type != nullptr) post.error_type = error_type;
    char buffer[65536];
    int n;
    while ((n = mg_read(connection, buffer, sizeof(buffer))) > 0) {
      post.body.append(buffer, n);
    }
    post.at = absl::Now();
    absl::MutexLock lock(&mu_);
    bool too_large = absl::EndsWith(path, "/response") &&
                     post.body.size() > max_response_bytes_;
    posts_.push_back(std::move(post));
    if (too_large) {
      return Respond(connection, 413, "",
                     "{\"errorMessage\":\"Exceeded maximum allowed payload "
                     "size\",\"errorType\":\"RequestEntityTooLarge\"}");
    }
    return Respond(connection, 202, "", "{\"status\":\"OK\"}");
  }

  static int Respond(mg_connection* connection, int code,
                     const std::string& headers, const std::string& body) {
    // mg_write, not mg_printf: civetweb's threads have small stacks, and
    // under ASan its printf took more than they have.
    const std::string response = absl::StrCat(
        "HTTP/1.1 ", code, " ", mg_get_response_code_text(connection, code),
        "\r\nContent-Type: application/json\r\nContent-Length: ", body.size(),
        "\r\n", headers, "Connection: close\r\n\r\n", body);
    mg_write(connection, response.data(), response.size());
    return code;
  }

  void WakeAcceptLoop() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port_));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    close(fd);
  }

  mg_context* context_ = nullptr;
  int port_ = 0;
  absl::Mutex mu_;
  std::deque<Invocation> queue_ ABSL_GUARDED_BY(mu_);
  std::vector<Post> posts_ ABSL_GUARDED_BY(mu_);
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  size_t max_response_bytes_ ABSL_GUARDED_BY(mu_) = 6 * 1024 * 1024;
};

}  // namespace dagd

#endif  // DAGD_TESTS_WORKER_FAKE_LAMBDA_RUNTIME_API_H_
