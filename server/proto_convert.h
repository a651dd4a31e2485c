#ifndef PONG_SERVER_PROTO_CONVERT_H_
#define PONG_SERVER_PROTO_CONVERT_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pong/v1/pong.pb.h"
#include "server/core/game.h"
#include "server/proto_time.h"

namespace pong {

// The one place where pong.v1 messages and core types meet.

// The fields of a state-changing request. INVALID_ARGUMENT for a malformed timestamp.
absl::StatusOr<Command> ToCommand(const v1::StartRequest& request);
absl::StatusOr<Command> ToCommand(const v1::PauseRequest& request);
absl::StatusOr<Command> ToCommand(const v1::ResumeRequest& request);
absl::StatusOr<Command> ToCommand(const v1::StopRequest& request);

// Who this instance is, for GameStatus.
struct InstanceInfo {
  std::string name;
  std::string http_address;
  std::string peer_address;
};

void ToProto(const GameSnapshot& snapshot, const InstanceInfo& info, v1::GameStatus* out);
void ToProto(const CommandOutcome& outcome, v1::CommandResult* out);
v1::GameState ToProto(GameState state);
v1::CommandKind ToProto(CommandKind kind);

// gRPC and abseil share the canonical codes.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace pong

#endif  // PONG_SERVER_PROTO_CONVERT_H_
