#ifndef PONG_SERVER_AUTHORIZER_H_
#define PONG_SERVER_AUTHORIZER_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>
#include <sys/types.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/event_log.h"

namespace pong {

// What a file named by a flag may be: at most max_size bytes, and none of the
// forbidden_mode bits set (e.g. 077: no permission at all for group or others).
struct FlagFileRules {
  size_t max_size = 4096;
  mode_t forbidden_mode = 077;
};

// The content of the regular file `path` given to `flag` (e.g. "--tls_cert").
// FAILED_PRECONDITION naming the flag and the path, never the content, when it cannot be
// read, is not a regular file, is too large or has a forbidden permission.
absl::StatusOr<std::string> ReadFlagFile(absl::string_view flag, const std::string& path,
                                         const FlagFileRules& rules);

// A secret (--control_token_file, --pair_secret_file): the file's content with
// surrounding whitespace trimmed. Besides ReadFlagFile's reasons, FAILED_PRECONDITION when
// it is empty or grants any permission to group or others: a secret others can read
// protects nothing.
absl::StatusOr<std::string> ReadSecretFile(absl::string_view flag, const std::string& path);

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
