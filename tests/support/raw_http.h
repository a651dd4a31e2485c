#ifndef PONG_TESTS_SUPPORT_RAW_HTTP_H_
#define PONG_TESTS_SUPPORT_RAW_HTTP_H_

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace pong::testing {

// What came back for bytes written on a new connection to 127.0.0.1.
struct RawAnswer {
  std::string bytes;
  bool closed = false;  // the server closed the connection (else `wait` passed)
  absl::Duration took;  // from connect to the close (or to `wait`)
};

// Connects to 127.0.0.1:`port`, writes `request` (as much as the server takes before it
// refuses), and reads what comes back until the server closes the connection or `wait`
// passes. For requests no HTTP client would send.
inline RawAnswer SendRaw(int port, absl::string_view request,
                         absl::Duration wait = absl::Seconds(5)) {
  RawAnswer answer;
  const int sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  const absl::Time start = absl::Now();
  if (connect(sock, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
    while (!request.empty()) {
      const ssize_t n = send(sock, request.data(), request.size(), MSG_NOSIGNAL);
      if (n <= 0) break;  // the server may refuse before it has read everything
      request.remove_prefix(static_cast<size_t>(n));
    }
    char chunk[4096];
    while (absl::Now() - start < wait) {
      pollfd p{sock, POLLIN, 0};
      if (poll(&p, 1, 10) <= 0) continue;
      const ssize_t n = recv(sock, chunk, sizeof(chunk), 0);
      if (n <= 0) {
        answer.closed = true;
        break;
      }
      answer.bytes.append(chunk, static_cast<size_t>(n));
    }
  }
  answer.took = absl::Now() - start;
  close(sock);
  return answer;
}

}  // namespace pong::testing

#endif  // PONG_TESTS_SUPPORT_RAW_HTTP_H_
