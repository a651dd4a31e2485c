#ifndef PONG_CLI_CONTROL_CLIENT_H_
#define PONG_CLI_CONTROL_CLIENT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "pong/v1/pong.pb.h"

namespace pong::cli {

// A state-changing command as sent to one instance.
struct CommandRequest {
  v1::CommandKind kind = v1::COMMAND_KIND_UNSPECIFIED;
  std::string command_id;
  absl::Time effective_at;
  // Start only.
  int64_t pong_time_ms = 0;
  bool serve = false;
  std::string game_id;
  // Takes effect only if every instance has it (v1 StartRequest.paired).
  bool paired = false;
};

// One instance's GameControl service, as far as the CLI uses it. An error is the
// instance's gRPC status (same code, same message) or the transport's (UNAVAILABLE,
// DEADLINE_EXCEEDED). Every call ends by `deadline`.
//
// Implementations are thread-safe: the fan-out calls two instances from two threads.
class ControlClient {
 public:
  virtual ~ControlClient() = default;

  // Start, Pause, Resume or Stop, by request.kind.
  virtual absl::StatusOr<v1::CommandResult> Submit(const CommandRequest& request,
                                                   absl::Time deadline) = 0;
  virtual absl::StatusOr<v1::CommandResult> Cancel(absl::string_view command_id,
                                                   absl::Time deadline) = 0;
  virtual absl::StatusOr<v1::GameStatus> GetStatus(absl::Time deadline) = 0;
};

}  // namespace pong::cli

#endif  // PONG_CLI_CONTROL_CLIENT_H_
