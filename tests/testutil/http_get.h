// A minimal blocking HTTP/1.1 GET over loopback for tests of the status
// pages: no client library needed, and the reply is read until the server
// closes the connection.
#ifndef DAGD_TESTS_TESTUTIL_HTTP_GET_H_
#define DAGD_TESTS_TESTUTIL_HTTP_GET_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace dagd {

struct HttpReply {
  int code = 0;      // 0 when the request failed
  std::string head;  // the status line and headers
  std::string body;
};

inline HttpReply HttpGet(int port, const std::string& path) {
  HttpReply reply;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return reply;
  timeval timeout{10, 0};  // a hung server fails the test, not the suite
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string request = absl::StrCat("GET ", path,
                                     " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                     "Connection: close\r\n\r\n");
  std::string raw;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) ==
          0 &&
      send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size())) {
    char buffer[4096];
    ssize_t n;
    while ((n = read(fd, buffer, sizeof(buffer))) > 0) raw.append(buffer, n);
  }
  close(fd);
  // "HTTP/1.1 200 OK\r\n...\r\n\r\nbody"
  size_t space = raw.find(' ');
  size_t header_end = raw.find("\r\n\r\n");
  if (space == std::string::npos || header_end == std::string::npos ||
      !absl::SimpleAtoi(raw.substr(space + 1, 3), &reply.code)) {
    return HttpReply{};
  }
  reply.head = raw.substr(0, header_end);
  reply.body = raw.substr(header_end + 4);
  return reply;
}

}  // namespace dagd

#endif  // DAGD_TESTS_TESTUTIL_HTTP_GET_H_
