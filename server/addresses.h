#ifndef PONG_SERVER_ADDRESSES_H_
#define PONG_SERVER_ADDRESSES_H_

#include <netdb.h>
#include <sys/socket.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace pong {

// getaddrinfo's list, freed when this goes.
using TcpAddresses = std::unique_ptr<addrinfo, void (*)(addrinfo*)>;

// The addresses of host:port for a TCP socket: to bind (`passive`) or to connect to.
// UNAVAILABLE "cannot resolve HOST: ..." when there are none.
inline absl::StatusOr<TcpAddresses> ResolveTcp(const std::string& host, int port, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : 0;
  addrinfo* addresses = nullptr;
  const std::string service = std::to_string(port);
  if (const int error = getaddrinfo(host.c_str(), service.c_str(), &hints, &addresses);
      error != 0) {
    return absl::UnavailableError(absl::StrCat("cannot resolve ", host, ": ", gai_strerror(error)));
  }
  return TcpAddresses(addresses, freeaddrinfo);
}

}  // namespace pong

#endif  // PONG_SERVER_ADDRESSES_H_
