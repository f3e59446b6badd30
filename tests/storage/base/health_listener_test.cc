// The /healthz listener: answers probes while clients that never finish
// their requests hold connections to it.
#include "storage/base/health_listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testutil/http_get.h"

namespace dagd {
namespace {

// A connection to 127.0.0.1:`port` that sends `bytes` and then nothing.
int SlowClient(int port, const std::string& bytes) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)),
            0);
  if (!bytes.empty()) send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  return fd;
}

TEST(HealthListenerTest, AnswersWhatHealthySays) {
  std::atomic<bool> up{true};
  auto listener =
      HealthListener::Start("127.0.0.1:0", [&] { return up.load(); });
  ASSERT_TRUE(listener.ok()) << listener.status();
  HttpReply reply = HttpGet((*listener)->port(), "/healthz");
  EXPECT_EQ(reply.code, 200);
  EXPECT_EQ(reply.body, "ok\n");
  up = false;
  EXPECT_EQ(HttpGet((*listener)->port(), "/healthz").code, 503);
  EXPECT_EQ(HttpGet((*listener)->port(), "/metrics").code, 404);
}

TEST(HealthListenerTest, SlowClientsCannotStarveProbes) {
  auto listener = HealthListener::Start("127.0.0.1:0", [] { return true; });
  ASSERT_TRUE(listener.ok()) << listener.status();
  const int port = (*listener)->port();
  // Twice as many clients as it keeps open, each stuck mid-request or
  // silent: every probe after them is still answered.
  std::vector<int> slow;
  for (int i = 0; i < 2 * HealthListener::kMaxConnections; ++i) {
    slow.push_back(SlowClient(port, i % 2 == 0 ? "GET /heal" : ""));
  }
  for (int probe = 0; probe < 5; ++probe) {
    EXPECT_EQ(HttpGet(port, "/healthz").code, 200) << "probe " << probe;
  }
  for (int fd : slow) close(fd);
}

TEST(HealthListenerTest, RefusesAnAddressThatDoesNotParse) {
  EXPECT_EQ(
      HealthListener::Start("localhost", [] { return true; }).status().code(),
      absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace dagd
