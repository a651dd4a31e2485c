#include "server/control_exposure.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace pong {

bool IsLoopbackHost(absl::string_view host) {
  if (absl::EqualsIgnoreCase(host, "localhost")) return true;
  const std::string text(host);
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  absl::string_view bare = host;
  if (absl::ConsumePrefix(&bare, "[") && !absl::ConsumeSuffix(&bare, "]")) return false;
  in6_addr v6{};
  if (inet_pton(AF_INET6, std::string(bare).c_str(), &v6) != 1) return false;
  return IN6_IS_ADDR_LOOPBACK(&v6) || (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
}

absl::Status CheckControlExposure(const ControlExposure& exposure) {
  if (exposure.insecure_control || exposure.has_token || exposure.has_tls ||
      IsLoopbackHost(exposure.bind)) {
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "--bind=", exposure.bind,
      " is not a loopback address, and anyone who can reach it could control the game: give "
      "--control_token_file and/or --tls_cert with --tls_key, or --insecure_control if an "
      "open control plane is what you want"));
}

}  // namespace pong
