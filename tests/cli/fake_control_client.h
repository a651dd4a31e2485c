#ifndef PONG_TESTS_CLI_FAKE_CONTROL_CLIENT_H_
#define PONG_TESTS_CLI_FAKE_CONTROL_CLIENT_H_

#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cli/clock.h"
#include "cli/control_client.h"
#include "pong/v1/pong.pb.h"
#include "server/proto_time.h"

namespace pong::cli {

// Time that moves only when someone sleeps or a test advances it. Thread-safe.
class FakeClock final : public Clock {
 public:
  static absl::Time Start() { return absl::FromUnixSeconds(1'750'000'000) + absl::Milliseconds(7); }

  absl::Time Now() override {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }
  void SleepUntil(absl::Time t) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (t > now_) now_ = t;
  }

 private:
  std::mutex mu_;
  absl::Time now_ = Start();
};

// One instance as the fan-out sees it. By default it follows the server's rules
// (server/core/game.h): a command is SCHEDULED on arrival, a NO_OP when the state already is
// what it asks, FAILED_PRECONDITION from the wrong state; asked again at or after
// effective_at it is APPLIED; Cancel drops a scheduled one, is FAILED_PRECONDITION once
// applied, NOT_FOUND for an unknown id. Scripted answers, queued per method, replace the
// default for the next calls. Every call is recorded with the fake time it was made at.
// Thread-safe.
class FakeControlClient final : public ControlClient {
 public:
  struct Call {
    enum Kind { kSubmit, kCancel, kGetStatus } kind;
    absl::Time at;
    absl::Time deadline;
    CommandRequest request;  // kSubmit
    std::string command_id;  // kSubmit and kCancel
  };
  template <typename T>
  using Script = std::function<absl::StatusOr<T>(FakeControlClient& self, const Call& call)>;

  FakeControlClient(std::string name, FakeClock* clock, v1::GameState state)
      : name_(std::move(name)), clock_(clock), state_(state) {}

  void QueueSubmit(Script<v1::CommandResult> script) {
    std::lock_guard<std::mutex> lock(mu_);
    submit_scripts_.push_back(std::move(script));
  }
  void QueueCancel(Script<v1::CommandResult> script) {
    std::lock_guard<std::mutex> lock(mu_);
    cancel_scripts_.push_back(std::move(script));
  }
  void QueueStatus(Script<v1::GameStatus> script) {
    std::lock_guard<std::mutex> lock(mu_);
    status_scripts_.push_back(std::move(script));
  }

  std::vector<Call> Calls(Call::Kind kind) const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Call> calls;
    for (const Call& call : calls_) {
      if (call.kind == kind) calls.push_back(call);
    }
    return calls;
  }
  void set_state(v1::GameState state) {
    std::lock_guard<std::mutex> lock(mu_);
    state_ = state;
  }
  v1::GameState state() const {
    std::lock_guard<std::mutex> lock(mu_);
    return state_;
  }

  absl::StatusOr<v1::CommandResult> Submit(const CommandRequest& request,
                                           absl::Time deadline) override {
    Call call{Call::kSubmit, clock_->Now(), deadline, request, request.command_id};
    if (auto script = Take(call, submit_scripts_)) return (*script)(*this, call);
    return DefaultSubmit(request);
  }
  absl::StatusOr<v1::CommandResult> Cancel(absl::string_view command_id,
                                           absl::Time deadline) override {
    Call call{Call::kCancel, clock_->Now(), deadline, {}, std::string(command_id)};
    if (auto script = Take(call, cancel_scripts_)) return (*script)(*this, call);
    return DefaultCancel(call.command_id);
  }
  absl::StatusOr<v1::GameStatus> GetStatus(absl::Time deadline) override {
    Call call{Call::kGetStatus, clock_->Now(), deadline, {}, ""};
    if (auto script = Take(call, status_scripts_)) return (*script)(*this, call);
    return DefaultStatus();
  }

  absl::StatusOr<v1::GameStatus> DefaultStatus() {
    std::lock_guard<std::mutex> lock(mu_);
    return StatusLocked();
  }

  absl::StatusOr<v1::CommandResult> DefaultSubmit(const CommandRequest& request) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = commands_.find(request.command_id);
    if (it == commands_.end()) {
      absl::StatusOr<v1::CommandPhase> phase = Validate(request.kind);
      if (!phase.ok()) return phase.status();
      it = commands_.emplace(request.command_id, Command{request, *phase, ""}).first;
      if (*phase == v1::COMMAND_PHASE_NO_OP) it->second.message = NoOpMessage(request.kind);
    }
    AdvanceLocked(it->second);
    return ResultLocked(it->second);
  }

  absl::StatusOr<v1::CommandResult> DefaultCancel(const std::string& command_id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = commands_.find(command_id);
    if (it == commands_.end()) return absl::NotFoundError("no command " + command_id + " here");
    Command& command = it->second;
    AdvanceLocked(command);
    if (command.phase == v1::COMMAND_PHASE_APPLIED) {
      return absl::FailedPreconditionError("command " + command_id + " already took effect");
    }
    if (command.phase == v1::COMMAND_PHASE_SCHEDULED) command.phase = v1::COMMAND_PHASE_CANCELLED;
    return ResultLocked(command);
  }

  // The result the default would give, without touching the fake: for scripts.
  v1::CommandResult Result(const CommandRequest& request, v1::CommandPhase phase,
                           std::string message = "") {
    std::lock_guard<std::mutex> lock(mu_);
    return ResultLocked(Command{request, phase, std::move(message)});
  }

 private:
  struct Command {
    CommandRequest request;
    v1::CommandPhase phase;
    std::string message;
  };

  template <typename T>
  std::optional<Script<T>> Take(const Call& call, std::deque<Script<T>>& scripts) {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back(call);
    if (scripts.empty()) return std::nullopt;
    Script<T> script = std::move(scripts.front());
    scripts.pop_front();
    return script;
  }

  absl::StatusOr<v1::CommandPhase> Validate(v1::CommandKind kind) const {
    switch (kind) {
      case v1::COMMAND_KIND_START:
        if (state_ != v1::GAME_STATE_IDLE) {
          return absl::FailedPreconditionError(
              "a game is running; stop it before starting another");
        }
        return v1::COMMAND_PHASE_SCHEDULED;
      case v1::COMMAND_KIND_PAUSE:
        if (state_ == v1::GAME_STATE_IDLE) return absl::FailedPreconditionError("no game to pause");
        return state_ == v1::GAME_STATE_PAUSED ? v1::COMMAND_PHASE_NO_OP
                                               : v1::COMMAND_PHASE_SCHEDULED;
      case v1::COMMAND_KIND_RESUME:
        if (state_ == v1::GAME_STATE_IDLE)
          return absl::FailedPreconditionError("no game to resume");
        return state_ == v1::GAME_STATE_RUNNING ? v1::COMMAND_PHASE_NO_OP
                                                : v1::COMMAND_PHASE_SCHEDULED;
      case v1::COMMAND_KIND_STOP:
        return state_ == v1::GAME_STATE_IDLE ? v1::COMMAND_PHASE_NO_OP
                                             : v1::COMMAND_PHASE_SCHEDULED;
      default:
        return absl::InvalidArgumentError("no such command");
    }
  }

  static std::string NoOpMessage(v1::CommandKind kind) {
    switch (kind) {
      case v1::COMMAND_KIND_PAUSE:
        return "already paused";
      case v1::COMMAND_KIND_RESUME:
        return "already running";
      default:
        return "already idle";
    }
  }

  // The instance's timer: a scheduled command takes effect once effective_at has come.
  void AdvanceLocked(Command& command) {
    if (command.phase != v1::COMMAND_PHASE_SCHEDULED ||
        clock_->Now() < command.request.effective_at) {
      return;
    }
    command.phase = v1::COMMAND_PHASE_APPLIED;
    switch (command.request.kind) {
      case v1::COMMAND_KIND_START:
        state_ = v1::GAME_STATE_RUNNING;
        game_id_ = command.request.game_id;
        pong_time_ms_ = command.request.pong_time_ms;
        break;
      case v1::COMMAND_KIND_PAUSE:
        state_ = v1::GAME_STATE_PAUSED;
        break;
      case v1::COMMAND_KIND_RESUME:
        state_ = v1::GAME_STATE_RUNNING;
        break;
      default:
        state_ = v1::GAME_STATE_IDLE;
        game_id_.clear();
        break;
    }
  }

  v1::CommandResult ResultLocked(const Command& command) const {
    v1::CommandResult result;
    result.set_command_id(command.request.command_id);
    result.set_kind(command.request.kind);
    result.set_phase(command.phase);
    *result.mutable_effective_at() = ToProto(command.request.effective_at);
    result.set_message(command.message);
    *result.mutable_status() = StatusLocked();
    return result;
  }

  v1::GameStatus StatusLocked() const {
    v1::GameStatus status;
    status.set_name(name_);
    status.set_state(state_);
    status.set_game_id(game_id_);
    status.set_pong_time_ms(pong_time_ms_);
    return status;
  }

  const std::string name_;
  FakeClock* const clock_;
  mutable std::mutex mu_;
  v1::GameState state_;
  std::string game_id_;
  int64_t pong_time_ms_ = 0;
  std::map<std::string, Command> commands_;
  std::vector<Call> calls_;
  std::deque<Script<v1::CommandResult>> submit_scripts_;
  std::deque<Script<v1::CommandResult>> cancel_scripts_;
  std::deque<Script<v1::GameStatus>> status_scripts_;
};

// Scripts.

template <typename T>
FakeControlClient::Script<T> Fail(absl::Status status) {
  return [status](FakeControlClient&, const FakeControlClient::Call&) -> absl::StatusOr<T> {
    return status;
  };
}

// No answer until the deadline; the instance got the command (and acted on it) if
// `received`, as when the answer is lost on the way back.
template <typename T>
FakeControlClient::Script<T> TimeOut(FakeClock* clock, bool received = false) {
  return [clock, received](FakeControlClient& self,
                           const FakeControlClient::Call& call) -> absl::StatusOr<T> {
    if constexpr (std::is_same_v<T, v1::CommandResult>) {
      if (received && call.kind == FakeControlClient::Call::kSubmit) {
        self.DefaultSubmit(call.request).IgnoreError();
      }
      if (received && call.kind == FakeControlClient::Call::kCancel) {
        self.DefaultCancel(call.command_id).IgnoreError();
      }
    }
    clock->SleepUntil(call.deadline);
    return absl::DeadlineExceededError("Deadline Exceeded");
  };
}

// What the fake would do anyway: to script a later call only.
inline FakeControlClient::Script<v1::CommandResult> AsUsual() {
  return [](FakeControlClient& self, const FakeControlClient::Call& call) {
    return call.kind == FakeControlClient::Call::kSubmit ? self.DefaultSubmit(call.request)
                                                         : self.DefaultCancel(call.command_id);
  };
}

inline FakeControlClient::Script<v1::GameStatus> AsUsualStatus() {
  return
      [](FakeControlClient& self, const FakeControlClient::Call&) { return self.DefaultStatus(); };
}

// Answers with `phase`, without acting on it.
inline FakeControlClient::Script<v1::CommandResult> AnswerPhase(v1::CommandPhase phase,
                                                                std::string message = "") {
  return [phase, message](FakeControlClient& self, const FakeControlClient::Call& call) {
    CommandRequest request = call.request;
    request.command_id = call.command_id;
    return absl::StatusOr<v1::CommandResult>(self.Result(request, phase, message));
  };
}

}  // namespace pong::cli

#endif  // PONG_TESTS_CLI_FAKE_CONTROL_CLIENT_H_
