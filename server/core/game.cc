#include "server/core/game.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace pong {
namespace {

using std::chrono::nanoseconds;

std::string FormatWall(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

std::string FormatMillis(nanoseconds d) {
  return absl::StrFormat("%.3f ms", static_cast<double>(d.count()) / 1e6);
}

// The wait after `failures` failures in a row: base doubling, capped at cap.
nanoseconds Backoff(uint64_t failures, nanoseconds base, nanoseconds cap) {
  const int doublings =
      static_cast<int>(std::min<uint64_t>(std::max<uint64_t>(failures, 1) - 1, 16));
  return std::min<nanoseconds>(cap, base * (int64_t{1} << doublings));
}

// The wait before retrying a ping after `failures` failures in a row: Backoff from
// kRetryBase to kRetryCap, jittered by +/- kRetryJitter (jitter01 uniform in [0, 1]) and
// still capped.
nanoseconds RetryWait(uint64_t failures, double jitter01) {
  const nanoseconds step = Backoff(failures, kRetryBase, kRetryCap);
  const double factor = 1.0 - kRetryJitter + 2 * kRetryJitter * std::clamp(jitter01, 0.0, 1.0);
  return std::min<nanoseconds>(
      kRetryCap, nanoseconds(static_cast<int64_t>(static_cast<double>(step.count()) * factor)));
}

}  // namespace

bool IsValidCommandId(absl::string_view id) {
  if (id.empty() || id.size() > kMaxCommandIdLength) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == ':';
  });
}

std::optional<CommandKind> ParseCommandKind(absl::string_view text) {
  for (CommandKind kind :
       {CommandKind::kStart, CommandKind::kPause, CommandKind::kResume, CommandKind::kStop}) {
    if (text == ToString(kind)) return kind;
  }
  return std::nullopt;
}

absl::string_view ToString(GameState state) {
  switch (state) {
    case GameState::kIdle:
      return "IDLE";
    case GameState::kRunning:
      return "RUNNING";
    case GameState::kPaused:
      return "PAUSED";
  }
  return "?";
}

absl::string_view ToString(CommandKind kind) {
  switch (kind) {
    case CommandKind::kStart:
      return "start";
    case CommandKind::kPause:
      return "pause";
    case CommandKind::kResume:
      return "resume";
    case CommandKind::kStop:
      return "stop";
  }
  return "?";
}

absl::string_view ToString(CommandPhase phase) {
  switch (phase) {
    case CommandPhase::kScheduled:
      return "scheduled";
    case CommandPhase::kApplied:
      return "applied";
    case CommandPhase::kCancelled:
      return "cancelled";
    case CommandPhase::kNoOp:
      return "no-op";
    case CommandPhase::kDropped:
      return "dropped";
  }
  return "?";
}

absl::string_view ToString(Ball ball) {
  switch (ball) {
    case Ball::kNone:
      return "none";
    case Ball::kHeld:
      return "held";
    case Ball::kInFlight:
      return "in flight";
    case Ball::kAtPeer:
      return "at peer";
    case Ball::kLost:
      return "lost";
  }
  return "?";
}

Game::Game(IdGenerator new_game_id, EventSink sink)
    : new_game_id_(std::move(new_game_id)), sink_(std::move(sink)) {}

absl::StatusOr<CommandOutcome> Game::Submit(const Command& command, Instant now) {
  // A pending command whose time has come is in effect, whether or not the timer fired.
  Advance(now);
  if (!IsValidCommandId(command.command_id)) {
    absl::Status status = absl::InvalidArgumentError(absl::StrCat(
        "command_id must be 1 to ", kMaxCommandIdLength, " characters of [A-Za-z0-9._:-]"));
    // The id itself is not logged: it may be long or hold a line break.
    Emit(GameEvent::kCommandRejected,
         absl::StrCat("command ", ToString(command.kind), " with a bad command_id rejected: ",
                      absl::StatusCodeToString(status.code()), ": ", status.message()));
    return status;
  }
  if (auto it = records_.find(command.command_id); it != records_.end()) {
    const Record& record = it->second;
    if (record.status.ok() && record.outcome.kind != command.kind) {
      return absl::InvalidArgumentError(absl::StrCat("command_id ", command.command_id,
                                                     " was already used for a ",
                                                     ToString(record.outcome.kind)));
    }
    if (!record.status.ok()) return record.status;
    return record.outcome;
  }
  absl::StatusOr<CommandOutcome> result = Remember(command, Validate(command, now));
  if (result.ok() && result->phase == CommandPhase::kScheduled) {
    Advance(now);  // applies at once a command without effective_at
    return records_.at(command.command_id).outcome;
  }
  return result;
}

absl::StatusOr<CommandOutcome> Game::Validate(const Command& command, Instant now) {
  if (command.kind == CommandKind::kStart) {
    if (absl::Status s = ValidatePongTimeMs(command.pong_time_ms); !s.ok()) return s;
    if (!command.game_id.empty() && !IsValidGameId(command.game_id)) {
      return absl::InvalidArgumentError("game_id must be 32 lowercase hex digits, or empty");
    }
  }
  if (command.paired && !command.effective_at) {
    return absl::InvalidArgumentError(
        "a paired command needs effective_at: the peer must have it for the same instant");
  }
  const absl::Time effective_wall = command.effective_at.value_or(now.wall);
  if (effective_wall < now.wall) {
    return absl::DeadlineExceededError(absl::StrCat(
        "arrived ", FormatMillis(ToChrono(now.wall - effective_wall)), " after its effective_at ",
        FormatWall(effective_wall), "; never applied late"));
  }
  if (effective_wall - now.wall > kMaxScheduleAhead) {
    return absl::InvalidArgumentError(
        absl::StrCat("effective_at ", FormatWall(effective_wall), " is more than ",
                     absl::FormatDuration(kMaxScheduleAhead), " ahead"));
  }
  if (pending_) {
    return absl::AbortedError(absl::StrCat(
        "command ", pending_->command.command_id, " (", ToString(pending_->command.kind), " at ",
        FormatWall(pending_->effective_wall), ") is pending; cancel it or wait"));
  }

  CommandOutcome outcome{command.command_id, command.kind, CommandPhase::kScheduled, effective_wall,
                         ""};
  auto no_op = [&](absl::string_view why) {
    outcome.phase = CommandPhase::kNoOp;
    outcome.message = std::string(why);
    last_command_ = outcome;
    Emit(GameEvent::kCommandNoOp, absl::StrCat("command ", ToString(command.kind),
                                               " id=", command.command_id, ": no-op, ", why));
    return outcome;
  };
  Command scheduled = command;
  switch (command.kind) {
    case CommandKind::kStart:
      if (state_ != GameState::kIdle) {
        return absl::FailedPreconditionError(absl::StrCat("a game is ",
                                                          absl::AsciiStrToLower(ToString(state_)),
                                                          "; stop it before starting another"));
      }
      if (scheduled.game_id.empty() && scheduled.serve) scheduled.game_id = new_game_id_();
      outcome.message =
          scheduled.game_id.empty()
              ? absl::StrCat("game at ", scheduled.pong_time_ms,
                             " ms; takes the game id of the first ping")
              : absl::StrCat("game ", scheduled.game_id, " at ", scheduled.pong_time_ms, " ms");
      break;
    case CommandKind::kPause:
      if (state_ == GameState::kIdle) {
        return absl::FailedPreconditionError("no game to pause");
      }
      if (state_ == GameState::kPaused) return no_op("already paused");
      break;
    case CommandKind::kResume:
      if (state_ == GameState::kIdle) {
        return absl::FailedPreconditionError("no game to resume");
      }
      if (state_ == GameState::kRunning) return no_op("already running");
      break;
    case CommandKind::kStop:
      // A stop scheduled on an idle instance is kept until its time: a game may reach this
      // instance before then (a rejoin, which the pending stop also holds off), and the
      // stop must end it as it ends the peer's.
      if (state_ == GameState::kIdle && effective_wall <= now.wall) return no_op("already idle");
      break;
  }
  const MonoTime effective = now.mono + ToChrono(effective_wall - now.wall);
  pending_ = Pending{std::move(scheduled), effective, effective_wall};
  pending_->ask_due = now.mono;  // paired: ask the peer at once
  Emit(GameEvent::kCommandScheduled,
       absl::StrCat("command ", ToString(command.kind), " id=", command.command_id,
                    " scheduled for ", FormatWall(effective_wall), " (in ",
                    FormatMillis(effective - now.mono), ")", outcome.message.empty() ? "" : ": ",
                    outcome.message,
                    command.paired ? "; paired: takes effect once the peer confirms it" : ""));
  return outcome;
}

absl::StatusOr<CommandOutcome> Game::Remember(const Command& command,
                                              absl::StatusOr<CommandOutcome> result) {
  if (!result.ok()) {
    Emit(GameEvent::kCommandRejected,
         absl::StrCat("command ", ToString(command.kind), " id=", command.command_id,
                      " rejected: ", absl::StatusCodeToString(result.status().code()), ": ",
                      result.status().message()));
  }
  if (record_order_.size() >= kRememberedCommands) {
    // The pending command's record must outlive it: Cancel and Apply update it.
    if (pending_ && record_order_.front() == pending_->command.command_id) {
      std::string pending_id = std::move(record_order_.front());
      record_order_.pop_front();
      record_order_.push_back(std::move(pending_id));
    }
    records_.erase(record_order_.front());
    record_order_.pop_front();
  }
  record_order_.push_back(command.command_id);
  records_[command.command_id] =
      result.ok() ? Record{absl::OkStatus(), *result} : Record{result.status(), {}};
  return result;
}

absl::StatusOr<CommandOutcome> Game::Cancel(absl::string_view command_id, Instant now) {
  if (!IsValidCommandId(command_id)) {
    return absl::InvalidArgumentError(absl::StrCat("command_id must be 1 to ", kMaxCommandIdLength,
                                                   " characters of [A-Za-z0-9._:-]"));
  }
  if (pending_ && pending_->command.command_id == command_id) {
    using Confirmation = Pending::Confirmation;
    if (pending_->confirmation == Confirmation::kConfirmed) {
      return absl::FailedPreconditionError(absl::StrCat(
          "command ", command_id, " is confirmed by both instances and takes effect at ",
          FormatWall(pending_->effective_wall), "; too late to cancel"));
    }
    if (pending_->confirmation == Confirmation::kAsking) {
      return absl::UnavailableError(absl::StrCat(
          "command ", command_id, " is being confirmed with the peer; ask again in a moment"));
    }
    if (pending_->effective <= now.mono && pending_->command.paired) {
      // Its time has come unconfirmed: it is dropped, whether or not the timer fired.
      DropUnconfirmed();
      return records_.at(std::string(command_id)).outcome;
    }
    if (pending_->effective <= now.mono) {
      // Its time has come; the owner's timer applies it at once, so it is too late.
      return absl::FailedPreconditionError(absl::StrCat("command ", command_id,
                                                        " already took effect at ",
                                                        FormatWall(pending_->effective_wall)));
    }
    const Pending pending = std::move(*pending_);
    pending_.reset();
    SetPhase(command_id, CommandPhase::kCancelled);
    Emit(GameEvent::kCommandCancelled,
         absl::StrCat("command ", ToString(pending.command.kind), " id=", command_id, " cancelled ",
                      FormatMillis(pending.effective - now.mono), " before it was due"));
    return records_.at(std::string(command_id)).outcome;
  }
  auto it = records_.find(std::string(command_id));
  if (it == records_.end()) {
    return absl::NotFoundError(absl::StrCat("no command ", command_id, " here"));
  }
  const Record& record = it->second;
  if (!record.status.ok()) {
    return absl::NotFoundError(
        absl::StrCat("command ", command_id, " was rejected; nothing to cancel"));
  }
  if (record.outcome.phase == CommandPhase::kApplied) {
    return absl::FailedPreconditionError(absl::StrCat("command ", command_id,
                                                      " already took effect at ",
                                                      FormatWall(record.outcome.effective_at)));
  }
  return record.outcome;
}

void Game::Advance(Instant now) {
  while (true) {
    const bool ball_due = state_ == GameState::kRunning && ball_ == Ball::kHeld;
    // On a tie the command goes first, so a stop or pause at the due instant sends nothing.
    if (ball_due && HandOutAt() <= now.mono && (!pending_ || due_ < pending_->effective)) {
      ball_ = Ball::kInFlight;
      ping_ready_ = true;
      continue;
    }
    const MonoTime lost_at = peer_due_ + kBallLostGrace;
    const bool ball_awaited = state_ == GameState::kRunning && ball_ == Ball::kAtPeer;
    if (ball_awaited && lost_at <= now.mono && (!pending_ || lost_at < pending_->effective)) {
      ball_ = Ball::kLost;
      probe_due_ = lost_at;
      Emit(GameEvent::kBallLost,
           absl::StrCat("ball lost: the peer's ping seq=", last_seq_ + 1, " is ",
                        kBallLostGrace.count(), " ms overdue; probing the peer with seq=", out_seq_,
                        ". If the peer is down, restart it (it rejoins), or recover with: "
                        "pong-cli stop && pong-cli start ",
                        pong_time_ms_));
      continue;
    }
    if (ProbeDue() && probe_due_ <= now.mono && (!pending_ || probe_due_ < pending_->effective)) {
      probing_ = true;
      ping_ready_ = true;
      continue;
    }
    if (pending_ && pending_->effective <= now.mono) {
      if (pending_->command.paired) {
        if (pending_->confirmation == Pending::Confirmation::kAsking) return;  // the answer decides
        if (pending_->confirmation == Pending::Confirmation::kUnconfirmed) {
          DropUnconfirmed();
          continue;
        }
      }
      const Pending pending = std::move(*pending_);
      pending_.reset();
      if (state_ == GameState::kIdle && pending.command.kind != CommandKind::kStart) {
        // A stop scheduled while idle, or a command whose game ended (the peer stopped it)
        // before it was due.
        SetPhase(pending.command.command_id, CommandPhase::kNoOp);
        Emit(GameEvent::kCommandNoOp, absl::StrCat("command ", ToString(pending.command.kind),
                                                   " id=", pending.command.command_id, ": no-op, ",
                                                   pending.command.kind == CommandKind::kStop
                                                       ? "already idle"
                                                       : "the game ended before it was due"));
        continue;
      }
      Apply(pending);
      Emit(GameEvent::kCommandApplied,
           absl::StrCat("command ", ToString(pending.command.kind),
                        " id=", pending.command.command_id, " applied, state ", ToString(state_),
                        ", ", FormatMillis(now.mono - pending.effective), " after effective_at"));
      continue;
    }
    return;
  }
}

void Game::Apply(const Pending& pending) {
  const Command& command = pending.command;
  const MonoTime at = pending.effective;
  switch (command.kind) {
    case CommandKind::kStart:
      BeginGame(command.game_id, command.pong_time_ms, command.serve);
      if (serve_) {
        out_seq_ = 1;
        HoldBall(at, nanoseconds(0));
      } else {
        peer_due_ = at;  // the peer serves at once
      }
      break;
    case CommandKind::kPause:
      state_ = GameState::kPaused;
      if (ball_ == Ball::kHeld) time_left_ = std::max(nanoseconds(0), due_ - at);
      break;
    case CommandKind::kResume:
      state_ = GameState::kRunning;
      if (ball_ == Ball::kHeld) due_ = at + time_left_;
      // The peer's time left is at most pong_time_ms.
      if (ball_ == Ball::kAtPeer) peer_due_ = at + pong_time_;
      break;
    case CommandKind::kStop:
      EndGame();
      break;
  }
  SetPhase(command.command_id, CommandPhase::kApplied);
}

void Game::ApplyEarly(absl::string_view why, Instant now) {
  const Pending pending = std::move(*pending_);
  pending_.reset();
  Apply(pending);
  Emit(GameEvent::kCommandApplied,
       absl::StrCat("command ", ToString(pending.command.kind), " id=", pending.command.command_id,
                    " applied ", why, ", ", FormatMillis(pending.effective - now.mono),
                    " before effective_at"));
}

void Game::BeginGame(std::string game_id, int64_t pong_time_ms, bool serve) {
  state_ = GameState::kRunning;
  ++epoch_;
  game_id_ = std::move(game_id);
  pong_time_ms_ = pong_time_ms;
  pong_time_ = std::chrono::milliseconds(pong_time_ms);
  serve_ = serve;
  ball_ = Ball::kAtPeer;
  out_seq_ = 0;
  last_seq_ = 0;
  attempt_ = 0;
  ping_ready_ = false;
  probing_ = false;
  pings_sent_ = pings_received_ = duplicate_pings_ = rejected_pings_ = 0;
  last_ping_sent_at_.reset();
  last_ping_received_at_.reset();
  peer_ = PeerSnapshot{};
}

void Game::EndGame() {
  state_ = GameState::kIdle;
  ++epoch_;
  if (!game_id_.empty()) {
    if (stopped_game_ids_.size() >= kRememberedStoppedGames) stopped_game_ids_.pop_front();
    stopped_game_ids_.push_back(std::move(game_id_));
  }
  game_id_.clear();
  ball_ = Ball::kNone;
  ping_ready_ = false;
  probing_ = false;
}

bool Game::WasStopped(absl::string_view game_id) const {
  return std::find(stopped_game_ids_.begin(), stopped_game_ids_.end(), game_id) !=
         stopped_game_ids_.end();
}

void Game::HoldBall(MonoTime from, nanoseconds wait) {
  ball_ = Ball::kHeld;
  ping_ready_ = false;
  probing_ = false;
  if (state_ == GameState::kPaused) {
    time_left_ = wait;
  } else {
    due_ = from + wait;
  }
}

void Game::SetPhase(absl::string_view command_id, CommandPhase phase) {
  auto it = records_.find(std::string(command_id));
  if (it == records_.end()) return;
  it->second.outcome.phase = phase;
  last_command_ = it->second.outcome;
}

std::optional<MonoTime> Game::NextCommandDeadline() const {
  if (!pending_) return std::nullopt;
  if (pending_->command.paired) {
    switch (pending_->confirmation) {
      case Pending::Confirmation::kAsking:
        return std::nullopt;
      case Pending::Confirmation::kUnconfirmed:
        return std::min(pending_->ask_due, pending_->effective);
      case Pending::Confirmation::kConfirmed:
        break;
    }
  }
  return pending_->effective;
}

std::optional<ConfirmAsk> Game::TakeConfirmToSend(Instant now) {
  if (!pending_ || !pending_->command.paired ||
      pending_->confirmation != Pending::Confirmation::kUnconfirmed ||
      pending_->ask_due > now.mono || pending_->effective <= now.mono) {
    return std::nullopt;
  }
  pending_->confirmation = Pending::Confirmation::kAsking;
  const nanoseconds until_due = pending_->effective - now.mono;
  return ConfirmAsk{pending_->command.command_id, pending_->command.kind, pending_->effective_wall,
                    std::clamp<nanoseconds>(until_due, kConfirmMinWait, kConfirmMaxWait)};
}

void Game::OnConfirmResult(const ConfirmAsk& ask, const ConfirmReply& reply, Instant now) {
  if (!pending_ || pending_->confirmation != Pending::Confirmation::kAsking ||
      ask !=
          ConfirmAsk{
              pending_->command.command_id, pending_->command.kind, pending_->effective_wall, {}}) {
    return;  // decided meanwhile (e.g. applied on the peer's first ping)
  }
  switch (reply.kind) {
    case ConfirmReply::kConfirmed:
      Confirm("by the peer's answer");
      return;
    case ConfirmReply::kUnknown:
    case ConfirmReply::kFailed:
      // Not there yet: the peer asks us itself once it has it. Failed: ask again.
      pending_->confirmation = Pending::Confirmation::kUnconfirmed;
      pending_->ask_due = now.mono + Backoff(static_cast<uint64_t>(++pending_->asks),
                                             kConfirmRetryBase, kConfirmRetryCap);
      if (reply.kind == ConfirmReply::kFailed) {
        Emit(GameEvent::kPeerError,
             absl::StrCat("confirming command ", ask.command_id, " with the peer: ", reply.reason,
                          "; asking again in ", FormatMillis(pending_->ask_due - now.mono)));
      }
      return;
    case ConfirmReply::kRefused:
      // The peer will never have it: it is dropped at effective_at unless cancelled first.
      pending_->confirmation = Pending::Confirmation::kUnconfirmed;
      pending_->ask_due = MonoTime::max();
      Emit(GameEvent::kPeerError,
           absl::StrCat("command ", ask.command_id, " not confirmed by the peer: ", reply.reason,
                        "; it will be dropped at effective_at"));
      return;
  }
}

ConfirmReply Game::OnConfirmAsk(const ConfirmAsk& ask, Instant now) {
  Advance(now);  // a command whose time has come is decided, whether or not the timer fired
  auto refuse = [&](absl::string_view why) {
    return ConfirmReply{ConfirmReply::kRefused, absl::StrCat("command ", ask.command_id, " ", why)};
  };
  if (pending_ && pending_->command.command_id == ask.command_id) {
    if (pending_->command.kind != ask.kind || pending_->effective_wall != ask.effective_at) {
      return refuse(absl::StrCat("is a ", ToString(pending_->command.kind), " at ",
                                 FormatWall(pending_->effective_wall), " here"));
    }
    if (!pending_->command.paired) return refuse("is not paired here");
    if (pending_->confirmation != Pending::Confirmation::kConfirmed) Confirm("by the peer's ask");
    return ConfirmReply{ConfirmReply::kConfirmed, ""};
  }
  auto it = records_.find(std::string(ask.command_id));
  if (it == records_.end()) return ConfirmReply{ConfirmReply::kUnknown, "not here"};
  const Record& record = it->second;
  if (!record.status.ok()) {
    return refuse(absl::StrCat("was rejected here: ", record.status.message()));
  }
  if (record.outcome.kind != ask.kind || record.outcome.effective_at != ask.effective_at) {
    return refuse(absl::StrCat("is a ", ToString(record.outcome.kind), " at ",
                               FormatWall(record.outcome.effective_at), " here"));
  }
  switch (record.outcome.phase) {
    case CommandPhase::kApplied:
    case CommandPhase::kNoOp:
      return ConfirmReply{ConfirmReply::kConfirmed, ""};  // in effect here
    case CommandPhase::kCancelled:
    case CommandPhase::kDropped:
    case CommandPhase::kScheduled:  // not pending, so never: it would be decided
      break;
  }
  return refuse(absl::StrCat("was ", ToString(record.outcome.phase), " here"));
}

void Game::Confirm(absl::string_view how) {
  pending_->confirmation = Pending::Confirmation::kConfirmed;
  Emit(GameEvent::kCommandConfirmed,
       absl::StrCat("command ", ToString(pending_->command.kind),
                    " id=", pending_->command.command_id, " confirmed ", how,
                    ": the peer has it too; takes effect at ",
                    FormatWall(pending_->effective_wall)));
}

void Game::DropUnconfirmed() {
  const Pending pending = std::move(*pending_);
  pending_.reset();
  SetPhase(pending.command.command_id, CommandPhase::kDropped);
  Emit(GameEvent::kCommandDropped,
       absl::StrCat("command ", ToString(pending.command.kind), " id=", pending.command.command_id,
                    " dropped: the peer did not confirm it by effective_at (it never got it, or "
                    "refused it); nothing changed here"));
}

std::optional<MonoTime> Game::NextPingDeadline() const {
  if (ping_ready_) return MonoTime::min();
  if (state_ == GameState::kRunning && ball_ == Ball::kHeld) return HandOutAt();
  if (state_ == GameState::kRunning && ball_ == Ball::kAtPeer) return peer_due_ + kBallLostGrace;
  if (ProbeDue()) return probe_due_;
  return std::nullopt;
}

MonoTime Game::HandOutAt() const {
  // Behind a command due first, the ball waits for that command, whatever the lead.
  if (pending_ && pending_->effective <= due_) return due_;
  return due_ - send_lead_;
}

bool Game::ProbeDue() const {
  // Without a ping of ours to repeat (a non-serving start that never got seq 1) there is
  // nothing to probe with.
  return state_ == GameState::kRunning && ball_ == Ball::kLost && !probing_ && out_seq_ > 0;
}

PingVerdict Game::OnPing(const GamePing& ping, Instant now, std::optional<MonoTime> arrived) {
  auto refuse = [&](std::string reason) {
    ++rejected_pings_;
    Emit(GameEvent::kPingRefused, absl::StrCat("ping refused seq=", ping.seq, ": ", reason));
    return PingVerdict{PingVerdict::kRefused, std::move(reason)};
  };
  Advance(now);  // a command whose time has come is in effect, whether or not the timer fired
  if (state_ == GameState::kIdle && StartsWith(ping, now)) {
    // The peer applied the start, which it does only once confirmed with us.
    if (pending_->command.paired && pending_->confirmation != Pending::Confirmation::kConfirmed) {
      Confirm("by the peer's first ping");
    }
    ApplyEarly("on the peer's first ping", now);
  }
  if (state_ == GameState::kIdle) {
    if (WasStopped(ping.game_id)) return refuse(std::string(kGameStopped));
    if (pending_) return refuse("no game running");
    // No record of this game: this instance was restarted while the peer played it on.
    BeginGame(ping.game_id, ping.pong_time_ms, /*serve=*/ping.seq % 2 == 0);
    last_seq_ = ping.seq - 1;
    Emit(GameEvent::kGameRejoined,
         absl::StrCat("rejoined game ", game_id_, " at seq=", ping.seq,
                      ", pong_time_ms=", pong_time_ms_, ": no record of it here (restarted?)"));
  }
  const bool joining = game_id_.empty();
  if (!joining && ping.game_id != game_id_) {
    return refuse(WasStopped(ping.game_id) ? std::string(kGameStopped) : "unknown game");
  }
  // The server sends the odd seqs and its peer the even ones, so a ping with a seq of our
  // own (both instances serving) is a second ball, never a retry of one we received.
  if ((ping.seq % 2 == 1) == serve_) {
    return refuse(absl::StrCat("seq ", ping.seq, " is this instance's to send; do both serve?"));
  }
  if (ping.seq <= last_seq_) {
    ++duplicate_pings_;
    Emit(GameEvent::kPingDuplicate,
         absl::StrCat("ping received seq=", ping.seq, " again: answered, ball unchanged"));
    return PingVerdict{PingVerdict::kDuplicate, ""};
  }
  if (ping.seq != last_seq_ + 1) {
    return refuse(absl::StrCat("unexpected seq ", ping.seq, ", expected ", last_seq_ + 1));
  }
  if (joining) {
    game_id_ = ping.game_id;
    Emit(GameEvent::kGameJoined, absl::StrCat("joined game ", game_id_));
  }
  const bool was_lost = ball_ == Ball::kLost;
  ++pings_received_;
  last_ping_received_at_ = now.wall;
  last_seq_ = ping.seq;
  out_seq_ = ping.seq + 1;
  attempt_ = 0;
  peer_.reachable = true;
  peer_.consecutive_failures = 0;
  HoldBall(arrived ? std::min(*arrived, now.mono) : now.mono, pong_time_);
  Emit(GameEvent::kPingReceived,
       absl::StrCat("ping received seq=", ping.seq, " game=", game_id_, ", next ping ",
                    state_ == GameState::kPaused ? "after resume + " : "in ",
                    FormatMillis(pong_time_), was_lost ? "; the lost ball is back" : ""));
  return PingVerdict{PingVerdict::kAccepted, ""};
}

bool Game::StartsWith(const GamePing& ping, Instant now) const {
  if (!pending_ || pending_->command.kind != CommandKind::kStart || pending_->command.serve) {
    return false;
  }
  const std::string& id = pending_->command.game_id;
  return (id.empty() || id == ping.game_id) && ping.seq == 1 &&
         pending_->effective - now.mono <= kEarlyStart;
}

std::optional<OutboundPing> Game::TakePingToSend(Instant now) {
  if (!ping_ready_) return std::nullopt;
  ping_ready_ = false;
  if (probing_) {
    Emit(GameEvent::kPingSent,
         absl::StrCat("ping sent again seq=", out_seq_, " to probe the peer (ball lost)"));
    return OutboundPing{GamePing{game_id_, out_seq_, pong_time_ms_}, epoch_, 0};
  }
  ++attempt_;
  if (attempt_ == 1) ++pings_sent_;
  last_seq_ = std::max(last_seq_, out_seq_);
  last_ping_sent_at_ = now.wall;
  Emit(GameEvent::kPingSent,
       absl::StrCat("ping sent seq=", out_seq_,
                    attempt_ > 1 ? absl::StrCat(" (attempt ", attempt_, ")") : ""));
  return OutboundPing{GamePing{game_id_, out_seq_, pong_time_ms_}, epoch_, attempt_};
}

void Game::OnSendResult(const OutboundPing& sent, const SendResult& result, Instant now,
                        double jitter01) {
  if (sent.epoch != epoch_) return;  // a ping of a game that is over
  if (result.kind == SendResult::kGameOver) {
    // The peer stopped this game (e.g. the operator's stop reached only the peer): it will
    // refuse every ping of it, so the game is over here too. A stop pending here for a
    // moment later takes effect now; any other pending command finds the game ended.
    Emit(GameEvent::kGameOverAtPeer, absl::StrCat("ping refused by peer seq=", sent.ping.seq, ": ",
                                                  result.error, "; the game is over here too"));
    if (pending_ && pending_->command.kind == CommandKind::kStop) {
      ApplyEarly("on the peer's refusal", now);
    } else {
      EndGame();
    }
    return;
  }
  if (probing_ && ball_ == Ball::kLost && sent.ping.seq == out_seq_) {
    OnProbeResult(sent, result, now, jitter01);
    return;
  }
  // At pong_time_ms 0 the peer's next ping can arrive before this pong is handled: the
  // ball has moved on, but the pong still counts (and is logged with its round trip).
  const bool ball_moved_on = sent.ping.seq != out_seq_ || ball_ != Ball::kInFlight || ping_ready_;
  if (result.kind == SendResult::kDelivered) {
    if (!ball_moved_on) {
      ball_ = Ball::kAtPeer;
      peer_due_ = now.mono + pong_time_;
    }
    NotePeer(result, jitter01);
    Emit(GameEvent::kPongReceived,
         absl::StrCat("pong received seq=", sent.ping.seq, " rtt=", FormatMillis(result.rtt)));
    return;
  }
  if (ball_moved_on) return;
  // The ball is still ours to deliver.
  const nanoseconds wait = NotePeer(result, jitter01);
  HoldBall(now.mono, wait);
  Emit(GameEvent::kPeerError,
       absl::StrCat(
           result.kind == SendResult::kRefused ? "ping refused by peer seq=" : "peer error seq=",
           sent.ping.seq, " attempt ", sent.attempt, ": ", result.error, "; retry in ",
           FormatMillis(wait)));
}

void Game::OnProbeResult(const OutboundPing& sent, const SendResult& result, Instant now,
                         double jitter01) {
  probing_ = false;
  if (result.kind == SendResult::kDelivered) {
    // The peer has the game: it answered our last ping again (a duplicate), or it was
    // restarted and rejoined with it. Either way the ball is at the peer once more.
    ball_ = Ball::kAtPeer;
    peer_due_ = now.mono + pong_time_;
    NotePeer(result, jitter01);
    Emit(GameEvent::kPongReceived,
         absl::StrCat("pong received seq=", sent.ping.seq, " rtt=", FormatMillis(result.rtt),
                      " (probe): the peer has the game; waiting for its ping"));
    return;
  }
  const nanoseconds wait = NotePeer(result, jitter01);
  probe_due_ = now.mono + wait;
  Emit(GameEvent::kPeerError, absl::StrCat("probe seq=", sent.ping.seq, ": ", result.error,
                                           "; again in ", FormatMillis(wait)));
}

nanoseconds Game::NotePeer(const SendResult& result, double jitter01) {
  if (result.kind == SendResult::kDelivered) {
    peer_.reachable = true;
    peer_.consecutive_failures = 0;
    peer_.last_rtt = ToAbsl(result.rtt);
    return nanoseconds(0);
  }
  // A peer that answered with a refusal is reachable.
  peer_.reachable = result.kind == SendResult::kRefused;
  ++peer_.consecutive_failures;
  peer_.last_error = result.error;
  return RetryWait(peer_.consecutive_failures, jitter01);
}

absl::Time Game::WallOf(MonoTime t, Instant now) const { return now.wall + ToAbsl(t - now.mono); }

GameSnapshot Game::Snapshot(Instant now) const {
  GameSnapshot s;
  s.state = state_;
  s.game_id = game_id_;
  s.pong_time_ms = pong_time_ms_;
  s.serve = serve_;
  s.ball = ball_;
  if (ball_ == Ball::kHeld) {
    if (state_ == GameState::kRunning) s.ball_due_at = WallOf(due_, now);
    if (state_ == GameState::kPaused) s.time_left = ToAbsl(time_left_);
  }
  s.last_seq = last_seq_;
  s.pings_sent = pings_sent_;
  s.pings_received = pings_received_;
  s.duplicate_pings = duplicate_pings_;
  s.rejected_pings = rejected_pings_;
  s.last_ping_sent_at = last_ping_sent_at_;
  s.last_ping_received_at = last_ping_received_at_;
  s.peer = peer_;
  if (pending_) {
    s.pending = PendingCommand{pending_->command.command_id, pending_->command.kind,
                               pending_->effective_wall, pending_->command.paired,
                               pending_->confirmation == Pending::Confirmation::kConfirmed};
  }
  s.last_command = last_command_;
  return s;
}

void Game::Emit(GameEvent::Kind kind, std::string text) {
  if (sink_) sink_(GameEvent{kind, std::move(text)});
}

}  // namespace pong
