// libFuzzer target for the validation of control requests: pong.v1 messages through
// ToCommand into Game::Submit and Game::Cancel, on a Game driven by fixed Instants.
//
// The input is a sequence of steps, each [op][length][length bytes of payload] (a short
// last step takes what is left). The op's low 3 bits pick what happens: 0-3 a serialized
// Start/Pause/Resume/Stop request, 4 a CancelRequest, 5 hand out the due ping and report
// the send (payload[0] picks delivered/refused/failed), 6 receive the peer's next ping
// (payload: its game id, else ours), 7 nothing. The high 5 bits advance both clocks by
// that many 40 ms steps first. A single Start step is just its kind and its message.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_set>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/stubs/logging.h"
#include "pong/v1/pong.pb.h"
#include "server/core/clock.h"
#include "server/core/game.h"
#include "server/core/ping.h"
#include "server/proto_convert.h"
#include "tests/fuzz/fuzz_check.h"

namespace pong {
namespace {

constexpr std::chrono::milliseconds kStep{40};

bool Same(const CommandOutcome& a, const CommandOutcome& b) {
  return std::tie(a.command_id, a.kind, a.phase, a.effective_at, a.message) ==
         std::tie(b.command_id, b.kind, b.phase, b.effective_at, b.message);
}
bool Same(const PendingCommand& a, const PendingCommand& b) {
  return std::tie(a.command_id, a.kind, a.effective_at) ==
         std::tie(b.command_id, b.kind, b.effective_at);
}
bool Same(const PeerSnapshot& a, const PeerSnapshot& b) {
  return std::tie(a.reachable, a.consecutive_failures, a.last_error, a.last_rtt) ==
         std::tie(b.reachable, b.consecutive_failures, b.last_error, b.last_rtt);
}
template <typename T>
bool Same(const std::optional<T>& a, const std::optional<T>& b) {
  return a.has_value() == b.has_value() && (!a || Same(*a, *b));
}
// Every field of the snapshot: what a rejected request must leave as it was.
bool Same(const GameSnapshot& a, const GameSnapshot& b) {
  return std::tie(a.state, a.game_id, a.pong_time_ms, a.serve, a.ball, a.ball_due_at, a.time_left,
                  a.last_seq, a.pings_sent, a.pings_received, a.duplicate_pings, a.rejected_pings,
                  a.last_ping_sent_at, a.last_ping_received_at) ==
             std::tie(b.state, b.game_id, b.pong_time_ms, b.serve, b.ball, b.ball_due_at,
                      b.time_left, b.last_seq, b.pings_sent, b.pings_received, b.duplicate_pings,
                      b.rejected_pings, b.last_ping_sent_at, b.last_ping_received_at) &&
         Same(a.peer, b.peer) && Same(a.pending, b.pending) && Same(a.last_command, b.last_command);
}

class Driver {
 public:
  Driver() : game_([this] { return absl::StrFormat("%032x", ++ids_); }, [](const GameEvent&) {}) {}

  void Step(uint8_t op, absl::string_view payload) {
    const auto wait = kStep * (op >> 3);
    now_.mono += wait;
    now_.wall += ToAbsl(wait);
    switch (op & 7) {
      case 0:
        Submit<v1::StartRequest>(payload);
        break;
      case 1:
        Submit<v1::PauseRequest>(payload);
        break;
      case 2:
        Submit<v1::ResumeRequest>(payload);
        break;
      case 3:
        Submit<v1::StopRequest>(payload);
        break;
      case 4:
        Cancel(payload);
        break;
      case 5:
        Send(payload);
        break;
      case 6:
        Receive(payload);
        break;
      default:
        game_.Advance(now_);
        break;
    }
    CheckAlways();
  }

 private:
  template <typename Request>
  void Submit(absl::string_view bytes) {
    Request request;
    if (!request.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return;
    const absl::StatusOr<Command> command = ToCommand(request);
    if (!command.ok()) {
      PONG_FUZZ_CHECK(command.status().code() == absl::StatusCode::kInvalidArgument);
      return;
    }
    // Submit first applies what is due; compare from there.
    game_.Advance(now_);
    const GameSnapshot before = game_.Snapshot(now_);
    const absl::StatusOr<CommandOutcome> outcome = game_.Submit(*command, now_);
    const bool fresh = seen_.insert(command->command_id).second;
    if (!outcome.ok()) {
      const absl::StatusCode code = outcome.status().code();
      PONG_FUZZ_CHECK(code == absl::StatusCode::kInvalidArgument ||
                      code == absl::StatusCode::kFailedPrecondition ||
                      code == absl::StatusCode::kDeadlineExceeded ||
                      code == absl::StatusCode::kAborted);
      PONG_FUZZ_CHECK(Same(before, game_.Snapshot(now_)));
      return;
    }
    PONG_FUZZ_CHECK(outcome->command_id == command->command_id);
    PONG_FUZZ_CHECK(outcome->kind == command->kind);
    // A command's first submission is judged on its own fields; a retry of its id gets the
    // first outcome back, whatever it carries.
    if (fresh && command->kind == CommandKind::kStart) {
      PONG_FUZZ_CHECK(ValidatePongTimeMs(command->pong_time_ms).ok());
      PONG_FUZZ_CHECK(command->game_id.empty() || IsValidGameId(command->game_id));
    }
    if (fresh) {
      PONG_FUZZ_CHECK(outcome->effective_at >= now_.wall);
      PONG_FUZZ_CHECK(outcome->effective_at - now_.wall <= kMaxScheduleAhead);
    }
  }

  void Cancel(absl::string_view bytes) {
    v1::CancelRequest request;
    if (!request.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return;
    const GameSnapshot before = game_.Snapshot(now_);
    const absl::StatusOr<CommandOutcome> outcome = game_.Cancel(request.command_id(), now_);
    if (!outcome.ok()) {
      const absl::StatusCode code = outcome.status().code();
      PONG_FUZZ_CHECK(code == absl::StatusCode::kInvalidArgument ||
                      code == absl::StatusCode::kNotFound ||
                      code == absl::StatusCode::kFailedPrecondition);
      PONG_FUZZ_CHECK(Same(before, game_.Snapshot(now_)));
      return;
    }
    PONG_FUZZ_CHECK(outcome->command_id == request.command_id());
    PONG_FUZZ_CHECK(outcome->phase != CommandPhase::kApplied);
  }

  void Send(absl::string_view payload) {
    const std::optional<OutboundPing> out = game_.TakePingToSend(now_);
    if (!out) return;
    CheckPing(out->ping);
    const uint8_t how = payload.empty() ? 0 : static_cast<uint8_t>(payload[0]);
    SendResult result{SendResult::kDelivered, std::chrono::milliseconds(1), ""};
    if (how % 3 == 1) result = {SendResult::kRefused, {}, "409 refused"};
    if (how % 3 == 2) result = {SendResult::kFailed, {}, "connection refused"};
    const double jitter01 = payload.size() > 1 ? static_cast<uint8_t>(payload[1]) / 255.0 : 0.5;
    game_.OnSendResult(*out, result, now_, jitter01);
  }

  // Only what ParsePing lets through reaches OnPing.
  void Receive(absl::string_view payload) {
    const GameSnapshot s = game_.Snapshot(now_);
    GamePing ping{payload.empty() ? s.game_id : std::string(payload), s.last_seq + 1,
                  s.pong_time_ms};
    if (!IsValidGameId(ping.game_id)) return;
    const PingVerdict verdict = game_.OnPing(ping, now_);
    if (verdict.kind == PingVerdict::kRefused) {
      PONG_FUZZ_CHECK(!verdict.reason.empty());
      PONG_FUZZ_CHECK(verdict.reason.find('\n') == std::string::npos);
    }
  }

  static void CheckPing(const GamePing& ping) {
    PONG_FUZZ_CHECK(IsValidGameId(ping.game_id));
    PONG_FUZZ_CHECK(ping.seq >= 1);
    PONG_FUZZ_CHECK(ValidatePongTimeMs(ping.pong_time_ms).ok());
  }

  void CheckAlways() const {
    const GameSnapshot s = game_.Snapshot(now_);
    PONG_FUZZ_CHECK(ValidatePongTimeMs(s.pong_time_ms).ok());
    PONG_FUZZ_CHECK(s.game_id.empty() || IsValidGameId(s.game_id));
    PONG_FUZZ_CHECK((s.state == GameState::kIdle) == (s.ball == Ball::kNone));
  }

  uint64_t ids_ = 0;
  // Far from both epochs, as in the core's tests; seeds schedule around 1'750'000'000 s.
  Instant now_{MonoTime(std::chrono::hours(1000)), absl::FromUnixSeconds(1'750'000'000)};
  Game game_;
  std::unordered_set<std::string> seen_;  // std::: see Game::records_
};

}  // namespace
}  // namespace pong

// protobuf logs every string field with invalid UTF-8 it refuses; that is expected here
// and would only slow the fuzzer down.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pong::Driver driver;
  absl::string_view input(reinterpret_cast<const char*>(data), size);
  while (!input.empty()) {
    const uint8_t op = static_cast<uint8_t>(input[0]);
    const size_t length = input.size() > 1 ? static_cast<uint8_t>(input[1]) : 0;
    input.remove_prefix(input.size() > 1 ? 2 : 1);
    const absl::string_view payload = input.substr(0, length);
    input.remove_prefix(payload.size());
    driver.Step(op, payload);
  }
  return 0;
}
