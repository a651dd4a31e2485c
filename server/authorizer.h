#ifndef PONG_SERVER_AUTHORIZER_H_
#define PONG_SERVER_AUTHORIZER_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/event_log.h"

namespace pong {

// The control token in `path`, with surrounding whitespace trimmed. FAILED_PRECONDITION
// when the file cannot be read, is empty, or grants any permission to group or others:
// a token others can read protects nothing. The message names the path, never the token.
absl::StatusOr<std::string> ReadControlTokenFile(const std::string& path);

// a == b in a time that depends on the lengths only, never on where the bytes differ.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

// Checks the bearer token of a GameControl call. With no token configured every call
// passes (the loopback default). Immutable after construction: any thread may call Check.
class Authorizer {
 public:
  // token empty: no check.
  Authorizer(std::string token, EventLog& log);

  // OK, or UNAUTHENTICATED when the call lacks "authorization: Bearer <token>"; a
  // rejection is logged with the method only, never a metadata value.
  grpc::Status Check(const grpc::CallbackServerContext& context, absl::string_view method) const;

 private:
  const std::string token_;
  EventLog& log_;
};

}  // namespace pong

#endif  // PONG_SERVER_AUTHORIZER_H_
