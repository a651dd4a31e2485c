#ifndef PONG_TESTS_SUPPORT_FREE_PORT_H_
#define PONG_TESTS_SUPPORT_FREE_PORT_H_

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <random>

namespace pong::testing {

// Whether a TCP socket can be bound to 127.0.0.1:`port` (0: any port) now; the port bound.
inline int BindableLoopbackPort(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  socklen_t length = sizeof(address);
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  close(fd);
  return ok ? ntohs(address.sin_port) : 0;
}

// A TCP port on 127.0.0.1 that was free a moment ago, where nothing listens; 0 on failure.
//
// Taken at random from below the kernel's ephemeral range, not from bind(0): a port from
// that range, released again, can be handed to any outgoing connection (another test's
// client, a server's own to its peer) before the server told to listen on it binds it.
// That race made a CI run fail with "cannot listen ... (in use?)".
inline int FreePort() {
  constexpr int kLowest = 10000;
  int ephemeral_low = 32768;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> ephemeral_low;
  if (ephemeral_low - 1 > kLowest) {
    thread_local std::mt19937 rng(std::random_device{}());
    std::uniform_int_distribution<int> pick(kLowest, ephemeral_low - 1);
    for (int attempt = 0; attempt < 64; ++attempt) {
      if (const int port = BindableLoopbackPort(pick(rng)); port != 0) return port;
    }
  }
  return BindableLoopbackPort(0);
}

}  // namespace pong::testing

#endif  // PONG_TESTS_SUPPORT_FREE_PORT_H_
