#ifndef PONG_SERVER_CONTROL_EXPOSURE_H_
#define PONG_SERVER_CONTROL_EXPOSURE_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace pong {

// Whether `host` (a --bind value) is a loopback address: "localhost", 127.0.0.0/8, ::1
// (bracketed or not) or ::ffff:127.x.y.z. Anything else, 0.0.0.0 and :: included, is not.
bool IsLoopbackHost(absl::string_view host);

// How the control plane would be served.
struct ControlExposure {
  absl::string_view bind;
  bool has_token = false;         // --control_token_file
  bool has_tls = false;           // --tls_cert and --tls_key
  bool insecure_control = false;  // --insecure_control
};

// OK unless the control plane would be open to the network with neither a token nor TLS
// and --insecure_control does not say that is meant: then FAILED_PRECONDITION with a
// message that names the ways out.
absl::Status CheckControlExposure(const ControlExposure& exposure);

}  // namespace pong

#endif  // PONG_SERVER_CONTROL_EXPOSURE_H_
