#include "storage/base/health_listener.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "storage/base/host_port.h"

namespace dagd {
namespace {

constexpr size_t kMaxRequestBytes = 4096;

// "host:port" or "[v6]:port" to a bound, listening, non-blocking socket.
absl::StatusOr<int> Bind(const std::string& listen, int* port) {
  const std::optional<int> parsed = ListenPort(listen);
  if (!parsed) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", listen, "' is not host:port"));
  }
  const int wanted = *parsed;
  std::string host = listen.substr(0, listen.rfind(':'));
  if (absl::StartsWith(host, "[") && absl::EndsWith(host, "]")) {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(wanted);
  if (int error = getaddrinfo(host.empty() ? nullptr : host.c_str(),
                              service.c_str(), &hints, &found);
      error != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", listen, "': cannot resolve '", host, "': ", gai_strerror(error)));
  }
  std::string why = "no address";
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    const int fd =
        socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    const int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, 128) == 0) {
      sockaddr_storage bound{};
      socklen_t length = sizeof(bound);
      getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
      *port = ntohs(bound.ss_family == AF_INET6
                        ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                        : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
      freeaddrinfo(found);
      return fd;
    }
    why = strerror(errno);
    close(fd);
  }
  freeaddrinfo(found);
  return absl::UnavailableError(
      absl::StrCat("cannot listen on '", listen, "': ", why));
}

struct Connection {
  int fd;
  absl::Time deadline;
  std::string request;
};

}  // namespace

absl::StatusOr<std::unique_ptr<HealthListener>> HealthListener::Start(
    const std::string& listen, std::function<bool()> healthy) {
  int port = 0;
  absl::StatusOr<int> fd = Bind(listen, &port);
  if (!fd.ok()) return fd.status();
  const int wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    close(*fd);
    return absl::InternalError(absl::StrCat("eventfd: ", strerror(errno)));
  }
  std::unique_ptr<HealthListener> listener(
      new HealthListener(*fd, wake, port, std::move(healthy)));
  listener->thread_ = std::thread([l = listener.get()] { l->Run(); });
  return listener;
}

HealthListener::HealthListener(int listen_fd, int wake_fd, int port,
                               std::function<bool()> healthy)
    : listen_fd_(listen_fd),
      wake_fd_(wake_fd),
      port_(port),
      healthy_(std::move(healthy)) {}

HealthListener::~HealthListener() {
  const uint64_t one = 1;
  ssize_t ignored = write(wake_fd_, &one, sizeof(one));
  (void)ignored;
  if (thread_.joinable()) thread_.join();
  close(listen_fd_);
  close(wake_fd_);
}

void HealthListener::Run() {
  std::deque<Connection> open;  // oldest first
  std::vector<pollfd> fds;
  auto answer = [this](const Connection& c) {
    const absl::string_view line =
        absl::string_view(c.request).substr(0, c.request.find('\r'));
    std::string status, body;
    if (absl::StartsWith(line, "GET /healthz ") ||
        absl::StartsWith(line, "HEAD /healthz ")) {
      const bool up = healthy_();
      status = up ? "200 OK" : "503 Service Unavailable";
      body = up ? "ok\n" : "unavailable\n";
    } else {
      status = "404 Not Found";
      body = "only GET /healthz is served here\n";
    }
    const std::string reply =
        absl::StrCat("HTTP/1.1 ", status,
                     "\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                     "Content-Length: ",
                     body.size(), "\r\n\r\n", body);
    // A reply this small fits the socket buffer: a client that does not
    // read loses it, and the listener does not wait.
    ssize_t ignored =
        send(c.fd, reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)ignored;
  };
  // Reads what `c` sent; true when it is done with (answered, gone, or
  // sending more than a request).
  auto read = [&answer](Connection& c) {
    char buffer[1024];
    const ssize_t n = recv(c.fd, buffer, sizeof(buffer), MSG_DONTWAIT);
    if (n <= 0) return n == 0 || (errno != EAGAIN && errno != EINTR);
    c.request.append(buffer, n);
    if (c.request.find("\r\n\r\n") != std::string::npos ||
        c.request.find("\n\n") != std::string::npos) {
      answer(c);
      return true;
    }
    return c.request.size() > kMaxRequestBytes;
  };
  while (true) {
    fds.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    fds.push_back({listen_fd_, POLLIN, 0});
    absl::Time next_deadline = absl::InfiniteFuture();
    for (const Connection& c : open) {
      fds.push_back({c.fd, POLLIN, 0});
      next_deadline = std::min(next_deadline, c.deadline);
    }
    const int timeout_ms =
        next_deadline == absl::InfiniteFuture()
            ? -1
            : static_cast<int>(std::max<int64_t>(
                  1, absl::ToInt64Milliseconds(next_deadline - absl::Now())));
    if (poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR) return;
    if (fds[0].revents != 0) break;
    // Reads first, so the connections polled are the ones still open.
    std::deque<Connection> kept;
    const absl::Time now = absl::Now();
    for (size_t i = 0; i < open.size(); ++i) {
      Connection& c = open[i];
      bool done = false;
      if (fds[i + 2].revents != 0) done = read(c);
      if (!done && c.deadline <= now) done = true;
      if (done) {
        close(c.fd);
      } else {
        kept.push_back(std::move(c));
      }
    }
    open = std::move(kept);
    if (fds[1].revents != 0) {
      while (true) {
        const int fd =
            accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) break;
        // A probe's request is usually there with its connection: answered
        // at once, it cannot be pushed out by connections after it.
        Connection c{fd, absl::Now() + kReadTimeout, ""};
        if (read(c)) {
          close(fd);
          continue;
        }
        if (open.size() >= static_cast<size_t>(kMaxConnections)) {
          close(open.front().fd);
          open.pop_front();
        }
        open.push_back(std::move(c));
      }
    }
  }
  for (const Connection& c : open) close(c.fd);
}

}  // namespace dagd
