#include "server/proto_convert.h"

#include "absl/strings/str_cat.h"

namespace pong {
namespace {

template <typename Request>
absl::StatusOr<Command> CommonFields(const Request& request, CommandKind kind) {
  Command command;
  command.kind = kind;
  command.command_id = request.command_id();
  command.paired = request.paired();
  if (request.has_effective_at()) {
    if (absl::Status s = ValidateTimestamp(request.effective_at(), "effective_at"); !s.ok()) {
      return s;
    }
    command.effective_at = FromProto(request.effective_at());
  }
  return command;
}

v1::CommandPhase ToProto(CommandPhase phase) {
  switch (phase) {
    case CommandPhase::kScheduled:
      return v1::COMMAND_PHASE_SCHEDULED;
    case CommandPhase::kApplied:
      return v1::COMMAND_PHASE_APPLIED;
    case CommandPhase::kCancelled:
      return v1::COMMAND_PHASE_CANCELLED;
    case CommandPhase::kNoOp:
      return v1::COMMAND_PHASE_NO_OP;
    case CommandPhase::kDropped:
      return v1::COMMAND_PHASE_DROPPED;
  }
  return v1::COMMAND_PHASE_UNSPECIFIED;
}

v1::Ball ToProto(Ball ball) {
  switch (ball) {
    case Ball::kNone:
      return v1::BALL_NONE;
    case Ball::kHeld:
      return v1::BALL_HELD;
    case Ball::kInFlight:
      return v1::BALL_IN_FLIGHT;
    case Ball::kAtPeer:
      return v1::BALL_AT_PEER;
    case Ball::kLost:
      return v1::BALL_LOST;
  }
  return v1::BALL_UNSPECIFIED;
}

}  // namespace

absl::StatusOr<Command> ToCommand(const v1::StartRequest& request) {
  absl::StatusOr<Command> command = CommonFields(request, CommandKind::kStart);
  if (!command.ok()) return command;
  command->pong_time_ms = request.pong_time_ms();
  command->serve = request.serve();
  command->game_id = request.game_id();
  return command;
}
absl::StatusOr<Command> ToCommand(const v1::PauseRequest& request) {
  return CommonFields(request, CommandKind::kPause);
}
absl::StatusOr<Command> ToCommand(const v1::ResumeRequest& request) {
  return CommonFields(request, CommandKind::kResume);
}
absl::StatusOr<Command> ToCommand(const v1::StopRequest& request) {
  return CommonFields(request, CommandKind::kStop);
}

v1::GameState ToProto(GameState state) {
  switch (state) {
    case GameState::kIdle:
      return v1::GAME_STATE_IDLE;
    case GameState::kRunning:
      return v1::GAME_STATE_RUNNING;
    case GameState::kPaused:
      return v1::GAME_STATE_PAUSED;
  }
  return v1::GAME_STATE_UNSPECIFIED;
}

v1::CommandKind ToProto(CommandKind kind) {
  switch (kind) {
    case CommandKind::kStart:
      return v1::COMMAND_KIND_START;
    case CommandKind::kPause:
      return v1::COMMAND_KIND_PAUSE;
    case CommandKind::kResume:
      return v1::COMMAND_KIND_RESUME;
    case CommandKind::kStop:
      return v1::COMMAND_KIND_STOP;
  }
  return v1::COMMAND_KIND_UNSPECIFIED;
}

void ToProto(const CommandOutcome& outcome, v1::CommandResult* out) {
  out->set_command_id(outcome.command_id);
  out->set_kind(ToProto(outcome.kind));
  out->set_phase(ToProto(outcome.phase));
  *out->mutable_effective_at() = ToProto(outcome.effective_at);
  out->set_message(outcome.message);
}

void ToProto(const GameSnapshot& s, const InstanceInfo& info, v1::GameStatus* out) {
  out->set_name(info.name);
  out->set_http_address(info.http_address);
  out->set_state(ToProto(s.state));
  out->set_game_id(s.game_id);
  out->set_pong_time_ms(s.pong_time_ms);
  out->set_serve(s.serve);
  out->set_ball(ToProto(s.ball));
  if (s.ball_due_at) *out->mutable_ball_due_at() = ToProto(*s.ball_due_at);
  if (s.time_left) *out->mutable_time_left() = ToProto(*s.time_left);
  out->set_last_seq(s.last_seq);
  out->set_pings_sent(s.pings_sent);
  out->set_pings_received(s.pings_received);
  out->set_duplicate_pings(s.duplicate_pings);
  out->set_rejected_pings(s.rejected_pings);
  if (s.last_ping_sent_at) *out->mutable_last_ping_sent_at() = ToProto(*s.last_ping_sent_at);
  if (s.last_ping_received_at) {
    *out->mutable_last_ping_received_at() = ToProto(*s.last_ping_received_at);
  }
  v1::PeerStatus* peer = out->mutable_peer();
  peer->set_address(info.peer_address);
  peer->set_reachable(s.peer.reachable);
  peer->set_consecutive_failures(s.peer.consecutive_failures);
  peer->set_last_error(s.peer.last_error);
  if (s.peer.last_rtt) *peer->mutable_last_rtt() = ToProto(*s.peer.last_rtt);
  if (s.pending) {
    v1::PendingCommand* pending = out->mutable_pending_command();
    pending->set_command_id(s.pending->command_id);
    pending->set_kind(ToProto(s.pending->kind));
    *pending->mutable_effective_at() = ToProto(s.pending->effective_at);
    pending->set_paired(s.pending->paired);
    pending->set_confirmed(s.pending->confirmed);
  }
  if (s.last_command) {
    v1::CommandResultSummary* last = out->mutable_last_command();
    last->set_command_id(s.last_command->command_id);
    last->set_kind(ToProto(s.last_command->kind));
    last->set_phase(ToProto(s.last_command->phase));
    *last->mutable_effective_at() = ToProto(s.last_command->effective_at);
  }
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

}  // namespace pong
