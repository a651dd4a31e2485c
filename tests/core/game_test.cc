#include "server/core/game.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/clock.h"
#include "server/core/ping.h"
#include "tests/core/fake_clock.h"
#include "tests/core/two_games.h"

namespace pong {

// Readable failure messages; found by argument-dependent lookup, so outside the unnamed
// namespace.
void PrintTo(GameState state, std::ostream* os) { *os << ToString(state); }
void PrintTo(CommandPhase phase, std::ostream* os) { *os << ToString(phase); }
void PrintTo(Ball ball, std::ostream* os) { *os << ToString(ball); }
void PrintTo(PingVerdict::Kind kind, std::ostream* os) {
  constexpr absl::string_view kNames[] = {"accepted", "duplicate", "refused"};
  *os << kNames[kind];
}
void PrintTo(GameEvent::Kind kind, std::ostream* os) {
  constexpr absl::string_view kNames[] = {
      "command scheduled", "command applied",   "command rejected",  "command cancelled",
      "command no-op",     "command confirmed", "command dropped",   "ping sent",
      "pong received",     "ping received",     "ping duplicate",    "ping refused",
      "game joined",       "game rejoined",     "game over at peer", "ball lost",
      "peer error"};
  *os << kNames[kind];
}
void PrintTo(const GamePing& ping, std::ostream* os) {
  *os << "{game=" << ping.game_id << " seq=" << ping.seq << " ms=" << ping.pong_time_ms << "}";
}
void PrintTo(const OutboundPing& out, std::ostream* os) {
  PrintTo(out.ping, os);
  *os << " epoch=" << out.epoch << " attempt=" << out.attempt;
}
void PrintTo(const absl::StatusOr<CommandOutcome>& outcome, std::ostream* os) {
  if (!outcome.ok()) {
    *os << outcome.status();
    return;
  }
  *os << outcome->command_id << " " << ToString(outcome->kind) << " " << ToString(outcome->phase)
      << " at " << outcome->effective_at << ": " << outcome->message;
}

namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Ge;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Le;
using ::testing::Not;
using ::testing::Optional;

constexpr absl::string_view kGameA = "0123456789abcdef0123456789abcdef";
constexpr absl::string_view kGameB = "fedcba9876543210fedcba9876543210";
constexpr absl::string_view kGeneratedId = "00112233445566778899aabbccddeeff";

absl::Duration Ms(int64_t ms) { return absl::Milliseconds(ms); }

// Every field, so two snapshots compare equal only when nothing observable differs.
std::string Describe(const GameSnapshot& s) {
  auto time = [](const std::optional<absl::Time>& t) {
    return t ? absl::FormatTime(absl::RFC3339_full, *t, absl::UTCTimeZone()) : "-";
  };
  auto duration = [](const std::optional<absl::Duration>& d) {
    return d ? absl::FormatDuration(*d) : "-";
  };
  std::string out = absl::StrCat(
      "state=", ToString(s.state), " game=", s.game_id, " ms=", s.pong_time_ms,
      " serve=", s.serve ? "yes" : "no", " ball=", ToString(s.ball), " due=", time(s.ball_due_at),
      " left=", duration(s.time_left), " last_seq=", s.last_seq, " sent=", s.pings_sent,
      " received=", s.pings_received, " dup=", s.duplicate_pings, " rejected=", s.rejected_pings,
      " last_sent=", time(s.last_ping_sent_at), " last_received=", time(s.last_ping_received_at),
      " peer=", s.peer.reachable ? "up" : "down", "/", s.peer.consecutive_failures, "/",
      s.peer.last_error, "/", duration(s.peer.last_rtt));
  if (s.pending) {
    absl::StrAppend(&out, " pending=", s.pending->command_id, "/", ToString(s.pending->kind), "/",
                    time(s.pending->effective_at));
  }
  if (s.last_command) {
    absl::StrAppend(&out, " last_command=", s.last_command->command_id, "/",
                    ToString(s.last_command->kind), "/", ToString(s.last_command->phase), "/",
                    time(s.last_command->effective_at), "/", s.last_command->message);
  }
  return out;
}

MATCHER_P(StatusIs, code, "") {
  const absl::Status& status = arg.status();
  *result_listener << "status is " << status;
  return status.code() == code;
}

MATCHER_P2(StatusIs, code, message_matcher, "") {
  const absl::Status& status = arg.status();
  *result_listener << "status is " << status;
  return status.code() == code &&
         ::testing::Matches(message_matcher)(std::string(status.message()));
}

MATCHER_P(HasPhase, phase, "") {
  if (!arg.ok()) {
    *result_listener << "rejected: " << arg.status();
    return false;
  }
  *result_listener << "phase " << ToString(arg->phase);
  return arg->phase == phase;
}

Command MakeStart(absl::string_view id, int64_t pong_time_ms, bool serve,
                  absl::string_view game_id = kGameA,
                  std::optional<absl::Time> effective_at = std::nullopt) {
  Command command;
  command.command_id = std::string(id);
  command.kind = CommandKind::kStart;
  command.effective_at = effective_at;
  command.pong_time_ms = pong_time_ms;
  command.serve = serve;
  command.game_id = std::string(game_id);
  return command;
}

Command MakeCommand(absl::string_view id, CommandKind kind,
                    std::optional<absl::Time> effective_at = std::nullopt) {
  Command command;
  command.command_id = std::string(id);
  command.kind = kind;
  command.effective_at = effective_at;
  return command;
}

SendResult Delivered(absl::Duration rtt = Ms(1)) {
  return SendResult{SendResult::kDelivered, ToChrono(rtt), ""};
}
SendResult Failed() { return SendResult{SendResult::kFailed, {}, "connection refused"}; }

MonoTime MonoAt(absl::Duration offset) { return FakeClock::kStartMono + ToChrono(offset); }
absl::Time WallAt(absl::Duration offset) { return FakeClock::StartWall() + offset; }

// A deadline as an offset from the fake clock's start; "now" (MonoTime::min()) is -inf.
std::optional<absl::Duration> Offset(std::optional<MonoTime> t) {
  if (!t) return std::nullopt;
  if (*t == MonoTime::min()) return -absl::InfiniteDuration();
  return ToAbsl(*t - FakeClock::kStartMono);
}

// One Game driven by a FakeClock. Time is written as offsets from the clock's start.
class GameTest : public ::testing::Test {
 protected:
  GameTest()
      : game_(
            [this] {
              ++ids_made_;
              return std::string(kGeneratedId);
            },
            [this](const GameEvent& event) { events_.push_back(event); }) {}

  Instant Now() const { return clock_.Read(); }
  absl::Duration Elapsed() const { return ToAbsl(clock_.Now() - FakeClock::kStartMono); }
  absl::Time WallIn(absl::Duration d) const { return clock_.WallNow() + d; }

  // Moves the clock only, as if the owner's timer had not fired yet.
  void ClockTo(absl::Duration t) { clock_.AdvanceTo(MonoAt(t)); }
  // Moves the clock and lets the game apply what is due, as the owner's timer does.
  void RunTo(absl::Duration t) {
    ClockTo(t);
    game_.Advance(Now());
  }
  void RunFor(absl::Duration d) { RunTo(Elapsed() + d); }

  absl::StatusOr<CommandOutcome> Submit(const Command& command) {
    return game_.Submit(command, Now());
  }
  absl::StatusOr<CommandOutcome> Cancel(absl::string_view id) { return game_.Cancel(id, Now()); }
  PingVerdict Receive(uint64_t seq, absl::string_view game_id = kGameA) {
    return game_.OnPing(GamePing{std::string(game_id), seq, 1000}, Now());
  }
  std::optional<OutboundPing> Take() { return game_.TakePingToSend(Now()); }
  void Report(const OutboundPing& sent, const SendResult& result, double jitter01 = 0.5) {
    game_.OnSendResult(sent, result, Now(), jitter01);
  }
  GameSnapshot Snap() const { return game_.Snapshot(Now()); }
  std::optional<absl::Duration> PingDeadline() const { return Offset(game_.NextPingDeadline()); }
  std::optional<absl::Duration> CommandDeadline() const {
    return Offset(game_.NextCommandDeadline());
  }

  std::vector<GameEvent::Kind> Kinds() const {
    std::vector<GameEvent::Kind> kinds;
    for (const GameEvent& event : events_) kinds.push_back(event.kind);
    return kinds;
  }

  std::string NextId() { return absl::StrCat("cmd-", ++next_id_); }

  // A game started on arrival.
  void StartNow(bool serve, int64_t pong_time_ms = 1000, absl::string_view game_id = kGameA) {
    ASSERT_THAT(Submit(MakeStart(NextId(), pong_time_ms, serve, game_id)),
                HasPhase(CommandPhase::kApplied));
  }
  void ApplyNow(CommandKind kind) {
    ASSERT_THAT(Submit(MakeCommand(NextId(), kind)), HasPhase(CommandPhase::kApplied));
  }

  // A non-serving game at 1000 ms that received ping 1 at the returned time: we hold the
  // ball, due 1000 ms later.
  absl::Duration ReceiveFirstPing() {
    StartNow(/*serve=*/false);
    RunFor(Ms(3));
    const absl::Duration received = Elapsed();
    EXPECT_EQ(Receive(1).kind, PingVerdict::kAccepted);
    return received;
  }

  // A rejected command leaves every observable thing as it was and is logged once.
  void ExpectRejectedUnchanged(const Command& command, absl::StatusCode code,
                               absl::string_view message_part) {
    const Instant now = Now();
    const std::string before = Describe(game_.Snapshot(now));
    const std::optional<MonoTime> command_deadline = game_.NextCommandDeadline();
    const std::optional<MonoTime> ping_deadline = game_.NextPingDeadline();
    events_.clear();
    EXPECT_THAT(game_.Submit(command, now), StatusIs(code, HasSubstr(std::string(message_part))));
    EXPECT_EQ(Describe(game_.Snapshot(now)), before);
    EXPECT_EQ(game_.NextCommandDeadline(), command_deadline);
    EXPECT_EQ(game_.NextPingDeadline(), ping_deadline);
    EXPECT_THAT(Kinds(), ElementsAre(GameEvent::kCommandRejected));
  }

  // A no-op changes nothing but the last command, and says so.
  void ExpectNoOp(CommandKind kind, absl::string_view message_part) {
    const GameSnapshot before = Snap();
    events_.clear();
    const absl::StatusOr<CommandOutcome> outcome = Submit(MakeCommand(NextId(), kind));
    ASSERT_THAT(outcome, HasPhase(CommandPhase::kNoOp));
    EXPECT_THAT(outcome->message, HasSubstr(std::string(message_part)));
    GameSnapshot after = Snap();
    ASSERT_TRUE(after.last_command.has_value());
    EXPECT_EQ(after.last_command->phase, CommandPhase::kNoOp);
    EXPECT_EQ(after.last_command->command_id, outcome->command_id);
    after.last_command = before.last_command;
    EXPECT_EQ(Describe(after), Describe(before));
    EXPECT_THAT(Kinds(), ElementsAre(GameEvent::kCommandNoOp));
  }

  FakeClock clock_;
  std::vector<GameEvent> events_;
  int ids_made_ = 0;
  int next_id_ = 0;
  Game game_;
};

TEST(ToStringTest, NamesEveryValue) {
  EXPECT_EQ(ToString(GameState::kIdle), "IDLE");
  EXPECT_EQ(ToString(GameState::kRunning), "RUNNING");
  EXPECT_EQ(ToString(GameState::kPaused), "PAUSED");
  EXPECT_EQ(ToString(CommandKind::kStart), "start");
  EXPECT_EQ(ToString(CommandKind::kPause), "pause");
  EXPECT_EQ(ToString(CommandKind::kResume), "resume");
  EXPECT_EQ(ToString(CommandKind::kStop), "stop");
  EXPECT_EQ(ToString(CommandPhase::kScheduled), "scheduled");
  EXPECT_EQ(ToString(CommandPhase::kApplied), "applied");
  EXPECT_EQ(ToString(CommandPhase::kCancelled), "cancelled");
  EXPECT_EQ(ToString(CommandPhase::kNoOp), "no-op");
  EXPECT_EQ(ToString(Ball::kNone), "none");
  EXPECT_EQ(ToString(Ball::kHeld), "held");
  EXPECT_EQ(ToString(Ball::kInFlight), "in flight");
  EXPECT_EQ(ToString(Ball::kAtPeer), "at peer");
}

TEST_F(GameTest, StartsIdleWithNothingToDo) {
  const GameSnapshot s = Snap();
  EXPECT_EQ(s.state, GameState::kIdle);
  EXPECT_EQ(game_.state(), GameState::kIdle);
  EXPECT_EQ(s.ball, Ball::kNone);
  EXPECT_EQ(s.game_id, "");
  EXPECT_FALSE(s.pending.has_value());
  EXPECT_FALSE(s.last_command.has_value());
  EXPECT_TRUE(s.peer.reachable);
  EXPECT_EQ(CommandDeadline(), std::nullopt);
  EXPECT_EQ(PingDeadline(), std::nullopt);
  RunFor(absl::Hours(1));
  EXPECT_EQ(Take(), std::nullopt);
  EXPECT_THAT(events_, IsEmpty());
}

// ---- State transitions ----

TEST_F(GameTest, NonServingStartFromIdleAppliesOnArrival) {
  const absl::StatusOr<CommandOutcome> outcome = Submit(MakeStart("s1", 1000, false));
  ASSERT_THAT(outcome, HasPhase(CommandPhase::kApplied));
  EXPECT_EQ(outcome->command_id, "s1");
  EXPECT_EQ(outcome->kind, CommandKind::kStart);
  EXPECT_EQ(outcome->effective_at, clock_.WallNow());
  const GameSnapshot s = Snap();
  EXPECT_EQ(s.state, GameState::kRunning);
  EXPECT_EQ(s.game_id, kGameA);
  EXPECT_EQ(s.pong_time_ms, 1000);
  EXPECT_FALSE(s.serve);
  EXPECT_EQ(s.ball, Ball::kAtPeer);
  EXPECT_FALSE(s.pending.has_value());
  ASSERT_TRUE(s.last_command.has_value());
  EXPECT_EQ(s.last_command->command_id, "s1");
  EXPECT_EQ(s.last_command->phase, CommandPhase::kApplied);
  EXPECT_EQ(CommandDeadline(), std::nullopt);
  EXPECT_EQ(PingDeadline(), ToAbsl(kBallLostGrace));  // the wait for the peer's first ping
  EXPECT_THAT(Kinds(), ElementsAre(GameEvent::kCommandScheduled, GameEvent::kCommandApplied));
}

TEST_F(GameTest, ServingStartFromIdleAppliesOnArrivalAndServesAtOnce) {
  ASSERT_THAT(Submit(MakeStart("s1", 250, true)), HasPhase(CommandPhase::kApplied));
  const GameSnapshot s = Snap();
  EXPECT_EQ(s.state, GameState::kRunning);
  EXPECT_TRUE(s.serve);
  EXPECT_EQ(s.pong_time_ms, 250);
  EXPECT_EQ(s.ball, Ball::kInFlight);  // seq 1 is due now and waits to be taken
  EXPECT_EQ(PingDeadline(), -absl::InfiniteDuration());
  const std::optional<OutboundPing> ping = Take();
  ASSERT_TRUE(ping.has_value());
  EXPECT_EQ(ping->ping, (GamePing{std::string(kGameA), 1, 250}));
  EXPECT_EQ(ping->attempt, 1);
  EXPECT_EQ(Take(), std::nullopt);
}

TEST_F(GameTest, StartWhenRunningFailsPrecondition) {
  StartNow(/*serve=*/false);
  ExpectRejectedUnchanged(MakeStart("again", 500, true, kGameB),
                          absl::StatusCode::kFailedPrecondition, "running");
  EXPECT_EQ(Snap().game_id, kGameA);
}

TEST_F(GameTest, StartWhenPausedFailsPrecondition) {
  StartNow(/*serve=*/false);
  ApplyNow(CommandKind::kPause);
  ExpectRejectedUnchanged(MakeStart("again", 500, true, kGameB),
                          absl::StatusCode::kFailedPrecondition, "paused");
}

TEST_F(GameTest, PauseFromRunning) {
  StartNow(/*serve=*/false);
  events_.clear();
  ASSERT_THAT(Submit(MakeCommand("p1", CommandKind::kPause)), HasPhase(CommandPhase::kApplied));
  EXPECT_EQ(Snap().state, GameState::kPaused);
  EXPECT_EQ(Snap().game_id, kGameA);
  EXPECT_THAT(Kinds(), ElementsAre(GameEvent::kCommandScheduled, GameEvent::kCommandApplied));
}

TEST_F(GameTest, PauseWhenPausedIsANoOp) {
  StartNow(/*serve=*/false);
  ApplyNow(CommandKind::kPause);
  ExpectNoOp(CommandKind::kPause, "already paused");
  EXPECT_EQ(Snap().state, GameState::kPaused);
}

TEST_F(GameTest, PauseWhenIdleFailsPrecondition) {
  ExpectRejectedUnchanged(MakeCommand("p1", CommandKind::kPause),
                          absl::StatusCode::kFailedPrecondition, "no game");
}

TEST_F(GameTest, ResumeFromPaused) {
  StartNow(/*serve=*/false);
  ApplyNow(CommandKind::kPause);
  events_.clear();
  ASSERT_THAT(Submit(MakeCommand("r1", CommandKind::kResume)), HasPhase(CommandPhase::kApplied));
  EXPECT_EQ(Snap().state, GameState::kRunning);
  EXPECT_THAT(Kinds(), ElementsAre(GameEvent::kCommandScheduled, GameEvent::kCommandApplied));
}

TEST_F(GameTest, ResumeWhenRunningIsANoOp) {
  StartNow(/*serve=*/false);
  ExpectNoOp(CommandKind::kResume, "already running");
  EXPECT_EQ(Snap().state, GameState::kRunning);
}

TEST_F(GameTest, ResumeWhenIdleFailsPrecondition) {
  ExpectRejectedUnchanged(MakeCommand("r1", CommandKind::kResume),
                          absl::StatusCode::kFailedPrecondition, "no game");
}

TEST_F(GameTest, StopFromRunning) {
  StartNow(/*serve=*/false);
  events_.clear();
  ASSERT_THAT(Submit(MakeCommand("x1", CommandKind::kStop)), HasPhase(CommandPhase::kApplied));
  const GameSnapshot s = Snap();
  EXPECT_EQ(s.state, GameState::kIdle);
  EXPECT_EQ(s.ball, Ball::kNone);
  EXPECT_EQ(s.game_id, "");
  EXPECT_THAT(Kinds(), ElementsAre(GameEvent::kCommandScheduled, GameEvent::kCommandApplied));
}

TEST_F(GameTest, StopFromPaused) {
  ReceiveFirstPing();
  ApplyNow(CommandKind::kPause);
  ASSERT_THAT(Submit(MakeCommand("x1", CommandKind::kStop)), HasPhase(CommandPhase::kApplied));
  const GameSnapshot s = Snap();
  EXPECT_EQ(s.state, GameState::kIdle);
  EXPECT_EQ(s.ball, Ball::kNone);
  EXPECT_EQ(s.time_left, std::nullopt);
  RunFor(absl::Hours(2));
  EXPECT_EQ(Take(), std::nullopt);
}

TEST_F(GameTest, StopWhenIdleIsANoOp) {
  ExpectNoOp(CommandKind::kStop, "already idle");
  EXPECT_EQ(Snap().state, GameState::kIdle);
}

TEST_F(GameTest, ScheduledNoOpLeavesNothingPending) {
  StartNow(/*serve=*/false);
  ApplyNow(CommandKind::kPause);
  const absl::StatusOr<CommandOutcome> outcome =
      Submit(MakeCommand("p2", CommandKind::kPause, WallIn(absl::Seconds(1))));
  ASSERT_THAT(outcome, HasPhase(CommandPhase::kNoOp));
  EXPECT_EQ(outcome->effective_at, WallIn(absl::Seconds(1)));
  EXPECT_FALSE(Snap().pending.has_value());
  EXPECT_EQ(CommandDeadline(), std::nullopt);
  EXPECT_THAT(Submit(MakeCommand("r1", CommandKind::kResume)), HasPhase(CommandPhase::kApplied));
}

// ---- Scheduled commands ----

TEST_F(GameTest, ScheduledCommandTakesEffectAtEffectiveAtAndNotBefore) {
  const absl::Time at = WallAt(Ms(250));
  const absl::StatusOr<CommandOutcome> outcome = Submit(MakeStart("s1", 1000, true, kGameA, at));
  ASSERT_THAT(outcome, HasPhase(CommandPhase::kScheduled));
  EXPECT_EQ(outcome->effective_at, at);
  EXPECT_EQ(CommandDeadline(), Ms(250));
  const GameSnapshot scheduled = Snap();
  ASSERT_TRUE(scheduled.pending.has_value());
  EXPECT_EQ(scheduled.pending->command_id, "s1");
  EXPECT_EQ(scheduled.pending->kind, CommandKind::kStart);
  EXPECT_EQ(scheduled.pending->effective_at, at);
  EXPECT_THAT(Kinds(), ElementsAre(GameEvent::kCommandScheduled));

  RunTo(Ms(250) - absl::Nanoseconds(1));
  EXPECT_EQ(Snap().state, GameState::kIdle);
  EXPECT_EQ(Take(), std::nullopt);
  EXPECT_EQ(CommandDeadline(), Ms(250));

  RunTo(Ms(250));
  const GameSnapshot applied = Snap();
  EXPECT_EQ(applied.state, GameState::kRunning);
  EXPECT_FALSE(applied.pending.has_value());
  ASSERT_TRUE(applied.last_command.has_value());
  EXPECT_EQ(applied.last_command->phase, CommandPhase::kApplied);
  EXPECT_EQ(CommandDeadline(), std::nullopt);
  EXPECT_THAT(Kinds(), ElementsAre(GameEvent::kCommandScheduled, GameEvent::kCommandApplied));
}

TEST_F(GameTest, EffectiveAtInThePastIsDeadlineExceeded) {
  ClockTo(absl::Seconds(10));
  ExpectRejectedUnchanged(MakeStart("s1", 1000, true, kGameA, WallIn(-absl::Nanoseconds(1))),
                          absl::StatusCode::kDeadlineExceeded, "never applied late");
  ExpectRejectedUnchanged(MakeStart("s2", 1000, true, kGameA, WallIn(-absl::Seconds(5))),
                          absl::StatusCode::kDeadlineExceeded, "after its effective_at");
  StartNow(/*serve=*/false);
  ExpectRejectedUnchanged(MakeCommand("p1", CommandKind::kPause, WallIn(-Ms(1))),
                          absl::StatusCode::kDeadlineExceeded, "after its effective_at");
  RunFor(absl::Hours(1));
  EXPECT_EQ(Snap().state, GameState::kRunning);
}

TEST_F(GameTest, EffectiveAtExactlyNowAppliesOnArrival) {
  const absl::StatusOr<CommandOutcome> outcome =
      Submit(MakeStart("s1", 1000, false, kGameA, clock_.WallNow()));
  ASSERT_THAT(outcome, HasPhase(CommandPhase::kApplied));
  EXPECT_EQ(Snap().state, GameState::kRunning);
}

TEST_F(GameTest, EffectiveAtMoreThanSixtySecondsAheadIsInvalid) {
  ExpectRejectedUnchanged(
      MakeStart("s1", 1000, true, kGameA, WallIn(absl::Seconds(60) + absl::Nanoseconds(1))),
      absl::StatusCode::kInvalidArgument, "ahead");
  ExpectRejectedUnchanged(MakeStart("s2", 1000, true, kGameA, WallIn(absl::Hours(24))),
                          absl::StatusCode::kInvalidArgument, "ahead");
}

TEST_F(GameTest, EffectiveAtExactlySixtySecondsAheadIsAccepted) {
  ASSERT_THAT(Submit(MakeStart("s1", 1000, true, kGameA, WallIn(absl::Seconds(60)))),
              HasPhase(CommandPhase::kScheduled));
  EXPECT_EQ(CommandDeadline(), absl::Seconds(60));
  RunTo(absl::Seconds(60));
  EXPECT_EQ(Snap().state, GameState::kRunning);
}

TEST_F(GameTest, SecondCommandWhileOneIsPendingIsAborted) {
  ASSERT_THAT(Submit(MakeStart("s1", 1000, false, kGameA, WallAt(absl::Seconds(1)))),
              HasPhase(CommandPhase::kScheduled));
  ExpectRejectedUnchanged(MakeCommand("x1", CommandKind::kStop), absl::StatusCode::kAborted, "s1");
  ExpectRejectedUnchanged(MakeStart("s2", 1000, true, kGameB, WallAt(absl::Seconds(2))),
                          absl::StatusCode::kAborted, "pending");
  ExpectRejectedUnchanged(MakeStart("s3", 1000, true, kGameB, WallAt(Ms(500))),
                          absl::StatusCode::kAborted, "pending");
  RunTo(absl::Seconds(1));
  EXPECT_EQ(Snap().state, GameState::kRunning);
  EXPECT_EQ(Snap().game_id, kGameA);
}

TEST_F(GameTest, AfterCancelANewCommandIsAccepted) {
  ASSERT_THAT(Submit(MakeStart("s1", 1000, false, kGameA, WallAt(absl::Seconds(1)))),
              HasPhase(CommandPhase::kScheduled));
  ASSERT_THAT(Cancel("s1"), HasPhase(CommandPhase::kCancelled));
  ASSERT_THAT(Submit(MakeStart("s2", 500, true, kGameB, WallAt(absl::Seconds(2)))),
              HasPhase(CommandPhase::kScheduled));
  EXPECT_EQ(CommandDeadline(), absl::Seconds(2));
  RunTo(absl::Seconds(2));
  EXPECT_EQ(Snap().game_id, kGameB);
  EXPECT_EQ(Snap().pong_time_ms, 500);
}

TEST_F(GameTest, SameCommandIdTwiceReturnsTheFirstOutcomeAndAppliesOnce) {
  const Command start = MakeStart("s1", 1000, true, kGameA, WallAt(Ms(100)));
  const absl::StatusOr<CommandOutcome> first = Submit(start);
  ASSERT_THAT(first, HasPhase(CommandPhase::kScheduled));

  RunTo(Ms(50));
  Command retry = start;
  retry.effective_at = WallAt(Ms(900));  // a retry returns the first outcome, whatever it says
  const absl::StatusOr<CommandOutcome> again = Submit(retry);
  ASSERT_THAT(again, HasPhase(CommandPhase::kScheduled));
  EXPECT_EQ(again->effective_at, first->effective_at);
  EXPECT_EQ(again->message, first->message);
  EXPECT_EQ(CommandDeadline(), Ms(100));

  RunTo(Ms(100));
  EXPECT_THAT(Submit(start), HasPhase(CommandPhase::kApplied));
  EXPECT_THAT(Submit(retry), HasPhase(CommandPhase::kApplied));
  std::vector<GameEvent::Kind> kinds = Kinds();
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), GameEvent::kCommandScheduled), 1);
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), GameEvent::kCommandApplied), 1);
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), GameEvent::kCommandRejected), 0);
}

TEST_F(GameTest, SameStartTwiceDoesNotFailOrRestartTheGame) {
  const Command start = MakeStart("s1", 1000, true);
  ASSERT_THAT(Submit(start), HasPhase(CommandPhase::kApplied));
  const std::optional<OutboundPing> ping = Take();
  ASSERT_TRUE(ping.has_value());
  Report(*ping, Delivered());
  const std::string before = Describe(Snap());
  events_.clear();

  const absl::StatusOr<CommandOutcome> again = Submit(start);
  ASSERT_THAT(again, HasPhase(CommandPhase::kApplied));
  EXPECT_EQ(again->command_id, "s1");
  EXPECT_EQ(Describe(Snap()), before);  // a restart would hold the ball and reset seq
  EXPECT_EQ(Snap().ball, Ball::kAtPeer);
  EXPECT_THAT(events_, IsEmpty());
  EXPECT_EQ(Take(), std::nullopt);
}

TEST_F(GameTest, SameCommandIdWithAnotherKindIsInvalid) {
  StartNow(/*serve=*/false);
  ASSERT_THAT(Submit(MakeCommand("p1", CommandKind::kPause)), HasPhase(CommandPhase::kApplied));
  EXPECT_THAT(Submit(MakeCommand("p1", CommandKind::kResume)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("already used")));
  EXPECT_EQ(Snap().state, GameState::kPaused);
  EXPECT_THAT(Submit(MakeCommand("p1", CommandKind::kStop)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("pause")));
  EXPECT_EQ(Snap().state, GameState::kPaused);
}

TEST_F(GameTest, RejectedCommandIdResubmittedReturnsTheSameRejection) {
  const absl::StatusOr<CommandOutcome> first = Submit(MakeCommand("p1", CommandKind::kPause));
  ASSERT_THAT(first, StatusIs(absl::StatusCode::kFailedPrecondition));
  StartNow(/*serve=*/false);  // a pause would now be valid
  const absl::StatusOr<CommandOutcome> again = Submit(MakeCommand("p1", CommandKind::kPause));
  EXPECT_EQ(again.status(), first.status());
  EXPECT_EQ(Snap().state, GameState::kRunning);

  const absl::StatusOr<CommandOutcome> late =
      Submit(MakeCommand("late", CommandKind::kPause, WallIn(-Ms(1))));
  ASSERT_THAT(late, StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_EQ(Submit(MakeCommand("late", CommandKind::kPause, WallIn(Ms(10)))).status(),
            late.status());
  EXPECT_EQ(Snap().state, GameState::kRunning);
  EXPECT_FALSE(Snap().pending.has_value());
}

TEST_F(GameTest, BadCommandIdsAreInvalid) {
  const std::vector<std::string> bad = {
      "",
      std::string(kMaxCommandIdLength + 1, 'a'),
      std::string(10 * 1024, 'a'),
      "a b",
      "a/b",
      "a\nb",
      std::string("a\0b", 3),
      "caf\xc3\xa9",
      "a;b",
      "a,b",
      "a+b",
      "a=b",
      "a\tb",
  };
  for (const std::string& id : bad) {
    SCOPED_TRACE(absl::StrCat("command_id of ", id.size(), " bytes"));
    ExpectRejectedUnchanged(MakeStart(id, 1000, true), absl::StatusCode::kInvalidArgument,
                            "command_id");
  }
}

TEST_F(GameTest, CommandIdOfAllowedCharactersUpTo128IsAccepted) {
  std::string id = "AZaz09-_.:";
  id += std::string(kMaxCommandIdLength - id.size(), 'x');
  ASSERT_EQ(id.size(), 128u);
  EXPECT_THAT(Submit(MakeStart(id, 1000, false)), HasPhase(CommandPhase::kApplied));
  EXPECT_THAT(Submit(MakeCommand("x", CommandKind::kPause)), HasPhase(CommandPhase::kApplied));
}

TEST_F(GameTest, BadPongTimeIsInvalid) {
  for (int64_t ms : {int64_t{-1}, int64_t{3'600'001}, std::numeric_limits<int64_t>::min(),
                     std::numeric_limits<int64_t>::max()}) {
    SCOPED_TRACE(ms);
    ExpectRejectedUnchanged(MakeStart(absl::StrCat("s", ms), ms, true),
                            absl::StatusCode::kInvalidArgument, "pong_time_ms");
  }
}

TEST_F(GameTest, PongTimeBoundsAreAccepted) {
  for (int64_t ms : {int64_t{0}, int64_t{3'600'000}}) {
    SCOPED_TRACE(ms);
    ASSERT_THAT(Submit(MakeStart(absl::StrCat("s", ms), ms, false)),
                HasPhase(CommandPhase::kApplied));
    EXPECT_EQ(Snap().pong_time_ms, ms);
    ApplyNow(CommandKind::kStop);
  }
}

TEST_F(GameTest, BadGameIdIsInvalid) {
  for (absl::string_view id :
       {"0123456789ABCDEF0123456789ABCDEF", "0123456789abcdef0123456789abcde",
        "0123456789abcdef0123456789abcdef0", "0123456789abcdef0123456789abcdeg", "not-an-id"}) {
    SCOPED_TRACE(id);
    ExpectRejectedUnchanged(MakeStart(absl::StrCat("s-", id), 1000, true, id),
                            absl::StatusCode::kInvalidArgument, "game_id");
  }
}

class WallStepTest : public GameTest, public ::testing::WithParamInterface<absl::Duration> {};

TEST_P(WallStepTest, ScheduledCommandKeepsItsMonotonicDeadline) {
  ASSERT_THAT(Submit(MakeStart("s1", 1000, true, kGameA, WallAt(Ms(500)))),
              HasPhase(CommandPhase::kScheduled));
  RunTo(Ms(100));
  clock_.StepWall(GetParam());
  EXPECT_EQ(CommandDeadline(), Ms(500));
  RunTo(Ms(500) - absl::Nanoseconds(1));
  EXPECT_EQ(Snap().state, GameState::kIdle);
  ASSERT_TRUE(Snap().pending.has_value());
  EXPECT_EQ(Snap().pending->effective_at, WallAt(Ms(500)));  // the label the command carried
  RunTo(Ms(500));
  EXPECT_EQ(Snap().state, GameState::kRunning);
  EXPECT_TRUE(Take().has_value());
}

INSTANTIATE_TEST_SUITE_P(GameTest, WallStepTest,
                         ::testing::Values(absl::Hours(1), -absl::Hours(1), Ms(399), -Ms(399),
                                           absl::Seconds(120)));

// ---- Cancel ----

TEST_F(GameTest, CancelledCommandNeverTakesEffect) {
  ASSERT_THAT(Submit(MakeStart("s1", 1000, true, kGameA, WallAt(Ms(100)))),
              HasPhase(CommandPhase::kScheduled));
  RunTo(Ms(40));
  const absl::StatusOr<CommandOutcome> cancelled = Cancel("s1");
  ASSERT_THAT(cancelled, HasPhase(CommandPhase::kCancelled));
  EXPECT_EQ(cancelled->command_id, "s1");
  EXPECT_EQ(cancelled->effective_at, WallAt(Ms(100)));
  EXPECT_EQ(CommandDeadline(), std::nullopt);
  EXPECT_FALSE(Snap().pending.has_value());
  ASSERT_TRUE(Snap().last_command.has_value());
  EXPECT_EQ(Snap().last_command->phase, CommandPhase::kCancelled);
  RunTo(absl::Seconds(10));
  EXPECT_EQ(Snap().state, GameState::kIdle);
  EXPECT_EQ(Take(), std::nullopt);
  EXPECT_THAT(Kinds(), ElementsAre(GameEvent::kCommandScheduled, GameEvent::kCommandCancelled));
  // Resubmitting the cancelled command does not bring it back.
  EXPECT_THAT(Submit(MakeStart("s1", 1000, true, kGameA, WallIn(Ms(100)))),
              HasPhase(CommandPhase::kCancelled));
  EXPECT_EQ(CommandDeadline(), std::nullopt);
}

TEST_F(GameTest, CancelUnknownIsNotFound) {
  EXPECT_THAT(Cancel("nope"), StatusIs(absl::StatusCode::kNotFound));
  StartNow(/*serve=*/false);
  EXPECT_THAT(Cancel("nope"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(GameTest, CancelAppliedFailsPrecondition) {
  ASSERT_THAT(Submit(MakeStart("s1", 1000, false)), HasPhase(CommandPhase::kApplied));
  EXPECT_THAT(Cancel("s1"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("already took effect")));
  EXPECT_EQ(Snap().state, GameState::kRunning);

  ASSERT_THAT(Submit(MakeCommand("p1", CommandKind::kPause, WallIn(Ms(20)))),
              HasPhase(CommandPhase::kScheduled));
  RunFor(Ms(20));
  EXPECT_THAT(Cancel("p1"), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(Snap().state, GameState::kPaused);
}

TEST_F(GameTest, CancelAtEffectiveAtIsTooLateEvenBeforeTheTimerFires) {
  ASSERT_THAT(Submit(MakeStart("s1", 1000, false, kGameA, WallAt(Ms(100)))),
              HasPhase(CommandPhase::kScheduled));
  ClockTo(Ms(100));  // the owner's timer has not fired yet
  EXPECT_THAT(Cancel("s1"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("already took effect")));
  game_.Advance(Now());
  EXPECT_EQ(Snap().state, GameState::kRunning);
  EXPECT_THAT(Kinds(), Not(Contains(GameEvent::kCommandCancelled)));
}

TEST_F(GameTest, CancelJustBeforeEffectiveAtWins) {
  ASSERT_THAT(Submit(MakeStart("s1", 1000, false, kGameA, WallAt(Ms(100)))),
              HasPhase(CommandPhase::kScheduled));
  ClockTo(Ms(100) - absl::Nanoseconds(1));
  EXPECT_THAT(Cancel("s1"), HasPhase(CommandPhase::kCancelled));
  RunTo(Ms(200));
  EXPECT_EQ(Snap().state, GameState::kIdle);
}

TEST_F(GameTest, CancelTwiceReturnsCancelled) {
  ASSERT_THAT(Submit(MakeStart("s1", 1000, false, kGameA, WallAt(Ms(100)))),
              HasPhase(CommandPhase::kScheduled));
  ASSERT_THAT(Cancel("s1"), HasPhase(CommandPhase::kCancelled));
  events_.clear();
  EXPECT_THAT(Cancel("s1"), HasPhase(CommandPhase::kCancelled));
  EXPECT_THAT(events_, IsEmpty());
}

TEST_F(GameTest, CancelNoOpReturnsNoOp) {
  ASSERT_THAT(Submit(MakeCommand("x1", CommandKind::kStop)), HasPhase(CommandPhase::kNoOp));
  EXPECT_THAT(Cancel("x1"), HasPhase(CommandPhase::kNoOp));
}

TEST_F(GameTest, CancelRejectedIsNotFound) {
  ASSERT_THAT(Submit(MakeCommand("p1", CommandKind::kPause)),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(Cancel("p1"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("rejected")));
}

TEST_F(GameTest, PendingCommandOutlivesManyRejectedOnes) {
  ASSERT_THAT(Submit(MakeStart("s1", 1000, false, kGameA, WallAt(absl::Seconds(1)))),
              HasPhase(CommandPhase::kScheduled));
  for (size_t i = 0; i < kRememberedCommands + 10; ++i) {
    ASSERT_THAT(Submit(MakeCommand(absl::StrCat("x", i), CommandKind::kStop)),
                StatusIs(absl::StatusCode::kAborted));
  }
  const absl::StatusOr<CommandOutcome> cancelled = Cancel("s1");
  ASSERT_THAT(cancelled, HasPhase(CommandPhase::kCancelled));
  EXPECT_EQ(cancelled->kind, CommandKind::kStart);
  EXPECT_THAT(Submit(MakeStart("s1", 1000, false, kGameA, WallAt(absl::Seconds(1)))),
              HasPhase(CommandPhase::kCancelled));
  RunTo(absl::Seconds(2));
  EXPECT_EQ(Snap().state, GameState::kIdle);
}

TEST_F(GameTest, RemembersTheLastCommandsForRetries) {
  ClockTo(absl::Seconds(1));
  ASSERT_THAT(Submit(MakeStart("first", 1000, false, kGameA, WallIn(-Ms(1)))),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  for (size_t i = 1; i < kRememberedCommands; ++i) {
    ASSERT_THAT(Submit(MakeCommand(absl::StrCat("x", i), CommandKind::kStop)),
                HasPhase(CommandPhase::kNoOp));
  }
  // Valid now, but a retry of a remembered command gets its first answer.
  EXPECT_THAT(Submit(MakeStart("first", 1000, false)),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_EQ(Snap().state, GameState::kIdle);
}

TEST_F(GameTest, CommandArrivingAfterThePendingOnesEffectiveAtIsNotAborted) {
  StartNow(/*serve=*/false);
  ASSERT_THAT(Submit(MakeCommand("p1", CommandKind::kPause, WallIn(Ms(100)))),
              HasPhase(CommandPhase::kScheduled));
  ClockTo(Elapsed() + Ms(100));  // the pause is in effect, though the timer has not fired
  EXPECT_THAT(Submit(MakeCommand("p1", CommandKind::kPause)), HasPhase(CommandPhase::kApplied));
  EXPECT_THAT(Submit(MakeCommand("r1", CommandKind::kResume)), HasPhase(CommandPhase::kApplied));
  EXPECT_EQ(Snap().state, GameState::kRunning);
}

// ---- The ball ----

TEST_F(GameTest, ServingStartSendsSeqOneAtEffectiveAt) {
  ASSERT_THAT(Submit(MakeStart("s1", 1000, true, kGameA, WallAt(Ms(100)))),
              HasPhase(CommandPhase::kScheduled));
  EXPECT_EQ(PingDeadline(), std::nullopt);
  RunTo(Ms(100) - absl::Nanoseconds(1));
  EXPECT_EQ(Take(), std::nullopt);
  RunTo(Ms(100));
  const std::optional<OutboundPing> ping = Take();
  ASSERT_TRUE(ping.has_value());
  EXPECT_EQ(ping->ping, (GamePing{std::string(kGameA), 1, 1000}));
  EXPECT_EQ(ping->attempt, 1);
  EXPECT_EQ(Take(), std::nullopt);

  GameSnapshot s = Snap();
  EXPECT_EQ(s.ball, Ball::kInFlight);
  EXPECT_EQ(s.last_seq, 1u);
  EXPECT_EQ(s.pings_sent, 1u);
  EXPECT_THAT(s.last_ping_sent_at, Optional(WallAt(Ms(100))));
  EXPECT_EQ(PingDeadline(), std::nullopt);

  ClockTo(Ms(101));
  Report(*ping, Delivered(absl::Microseconds(250)));
  s = Snap();
  EXPECT_EQ(s.ball, Ball::kAtPeer);
  EXPECT_THAT(s.peer.last_rtt, Optional(absl::Microseconds(250)));
  EXPECT_TRUE(s.peer.reachable);
  EXPECT_THAT(Kinds(), ElementsAre(GameEvent::kCommandScheduled, GameEvent::kCommandApplied,
                                   GameEvent::kPingSent, GameEvent::kPongReceived));
}

TEST_F(GameTest, NonServingStartLeavesTheBallAtThePeer) {
  StartNow(/*serve=*/false);
  EXPECT_EQ(Snap().ball, Ball::kAtPeer);
  EXPECT_EQ(PingDeadline(), ToAbsl(kBallLostGrace));  // only to notice a lost ball
  RunFor(absl::Hours(5));
  EXPECT_EQ(Take(), std::nullopt);
  EXPECT_EQ(Snap().pings_sent, 0u);
}

TEST_F(GameTest, ReceivedPingMakesTheNextDuePongTimeAfterItArrived) {
  StartNow(/*serve=*/false);
  RunTo(Ms(3));
  events_.clear();
  const PingVerdict verdict = Receive(1);
  EXPECT_EQ(verdict.kind, PingVerdict::kAccepted);
  EXPECT_EQ(verdict.reason, "");
  GameSnapshot s = Snap();
  EXPECT_EQ(s.ball, Ball::kHeld);
  EXPECT_THAT(s.ball_due_at, Optional(WallAt(Ms(1003))));
  EXPECT_EQ(s.time_left, std::nullopt);
  EXPECT_EQ(s.last_seq, 1u);
  EXPECT_EQ(s.pings_received, 1u);
  EXPECT_THAT(s.last_ping_received_at, Optional(WallAt(Ms(3))));
  EXPECT_EQ(PingDeadline(), Ms(1003));
  EXPECT_THAT(Kinds(), ElementsAre(GameEvent::kPingReceived));

  RunTo(Ms(1003) - absl::Nanoseconds(1));
  EXPECT_EQ(Take(), std::nullopt);
  RunTo(Ms(1003));
  const std::optional<OutboundPing> ping = Take();
  ASSERT_TRUE(ping.has_value());
  EXPECT_EQ(ping->ping, (GamePing{std::string(kGameA), 2, 1000}));
  EXPECT_EQ(ping->attempt, 1);
  Report(*ping, Delivered());
  s = Snap();
  EXPECT_EQ(s.ball, Ball::kAtPeer);
  EXPECT_EQ(s.last_seq, 2u);
  EXPECT_EQ(s.pings_sent, 1u);
}

TEST_F(GameTest, ZeroPongTimeSendsTheNextPingAtOnce) {
  StartNow(/*serve=*/false, /*pong_time_ms=*/0);
  RunTo(Ms(7));
  ASSERT_EQ(Receive(1).kind, PingVerdict::kAccepted);
  EXPECT_EQ(PingDeadline(), Ms(7));
  game_.Advance(Now());
  const std::optional<OutboundPing> ping = Take();
  ASSERT_TRUE(ping.has_value());
  EXPECT_EQ(ping->ping.seq, 2u);
  EXPECT_EQ(ping->ping.pong_time_ms, 0);
}

// ---- Deadline-based timing ----

// received_at is when the ping's bytes arrived, not when the handler got to it.
TEST_F(GameTest, TheBallIsDuePongTimeAfterThePingArrived) {
  StartNow(/*serve=*/false);
  RunFor(Ms(3));
  const absl::Duration arrived = Elapsed();
  ClockTo(arrived + Ms(2));  // the handler woke and parsed for 2 ms
  ASSERT_EQ(game_.OnPing(GamePing{std::string(kGameA), 1, 1000}, Now(), MonoAt(arrived)).kind,
            PingVerdict::kAccepted);
  EXPECT_THAT(PingDeadline(), Optional(arrived + Ms(1000)));
}

TEST_F(GameTest, AnArrivalAfterNowCountsAsNow) {
  StartNow(/*serve=*/false);
  RunFor(Ms(3));
  const absl::Duration now = Elapsed();
  ASSERT_EQ(game_.OnPing(GamePing{std::string(kGameA), 1, 1000}, Now(), MonoAt(now + Ms(5))).kind,
            PingVerdict::kAccepted);
  EXPECT_THAT(PingDeadline(), Optional(now + Ms(1000)));
}

TEST_F(GameTest, LateWakeUpsDoNotShiftPauseOrResume) {
  const absl::Duration received = ReceiveFirstPing();  // due at received + 1000 ms
  ASSERT_THAT(Submit(MakeCommand("p1", CommandKind::kPause, WallAt(received + Ms(400)))),
              HasPhase(CommandPhase::kScheduled));
  RunTo(received + Ms(407));  // the timer wakes 7 ms late
  GameSnapshot s = Snap();
  EXPECT_EQ(s.state, GameState::kPaused);
  EXPECT_THAT(s.time_left, Optional(Ms(600)));

  const absl::Duration resume_at = received + Ms(2000);
  ASSERT_THAT(Submit(MakeCommand("r1", CommandKind::kResume, WallAt(resume_at))),
              HasPhase(CommandPhase::kScheduled));
  RunTo(resume_at + Ms(7));
  s = Snap();
  EXPECT_EQ(s.state, GameState::kRunning);
  EXPECT_EQ(PingDeadline(), resume_at + Ms(600));
  EXPECT_THAT(s.ball_due_at, Optional(WallAt(resume_at + Ms(600))));
  RunTo(resume_at + Ms(600) - absl::Nanoseconds(1));
  EXPECT_EQ(Take(), std::nullopt);
  RunTo(resume_at + Ms(600));
  ASSERT_TRUE(Take().has_value());
}

TEST_F(GameTest, ALateSendDoesNotShiftTheNextDue) {
  const absl::Duration received = ReceiveFirstPing();
  EXPECT_EQ(PingDeadline(), received + Ms(1000));
  RunTo(received + Ms(1007));  // woke 7 ms late
  const std::optional<OutboundPing> ping = Take();
  ASSERT_TRUE(ping.has_value());
  EXPECT_EQ(ping->ping.seq, 2u);
  RunTo(received + Ms(1009));
  Report(*ping, Delivered());
  RunTo(received + Ms(2345));
  ASSERT_EQ(Receive(3).kind, PingVerdict::kAccepted);
  EXPECT_EQ(PingDeadline(), received + Ms(3345));
  EXPECT_THAT(Snap().ball_due_at, Optional(WallAt(received + Ms(3345))));
}

TEST_F(GameTest, LateAdvanceAppliesCommandsAndDeadlinesInTheOrderTheyWereDue) {
  const absl::Duration received = ReceiveFirstPing();
  ASSERT_THAT(Submit(MakeCommand("x1", CommandKind::kStop, WallAt(received + Ms(995)))),
              HasPhase(CommandPhase::kScheduled));
  RunTo(received + Ms(1010));  // both are overdue; the stop came first
  EXPECT_EQ(Snap().state, GameState::kIdle);
  EXPECT_EQ(Take(), std::nullopt);
  EXPECT_THAT(Kinds(), Not(Contains(GameEvent::kPingSent)));
}

TEST_F(GameTest, LateAdvanceSendsAPingThatWasDueBeforeAPause) {
  const absl::Duration received = ReceiveFirstPing();
  ASSERT_THAT(Submit(MakeCommand("p1", CommandKind::kPause, WallAt(received + Ms(1005)))),
              HasPhase(CommandPhase::kScheduled));
  RunTo(received + Ms(1010));  // the ping was due before the pause
  EXPECT_EQ(Snap().state, GameState::kPaused);
  const std::optional<OutboundPing> ping = Take();
  ASSERT_TRUE(ping.has_value());
  EXPECT_EQ(ping->ping.seq, 2u);
}

TEST_F(GameTest, LateAdvanceSendsNothingAfterAStopEvenIfThePingWasDueBefore) {
  const absl::Duration received = ReceiveFirstPing();
  ASSERT_THAT(Submit(MakeCommand("x1", CommandKind::kStop, WallAt(received + Ms(1005)))),
              HasPhase(CommandPhase::kScheduled));
  RunTo(received + Ms(1010));  // Stop drops the ball, even one that was due just before
  EXPECT_EQ(Snap().state, GameState::kIdle);
  EXPECT_EQ(Take(), std::nullopt);
  EXPECT_EQ(PingDeadline(), std::nullopt);
}

// ---- Send lead ----

TEST_F(GameTest, TheSendLeadHandsTheBallOutThatMuchBeforeItIsDue) {
  const absl::Duration received = ReceiveFirstPing();
  game_.SetSendLead(std::chrono::microseconds(80));
  EXPECT_EQ(PingDeadline(), received + Ms(1000) - absl::Microseconds(80));
  EXPECT_THAT(Snap().ball_due_at, Optional(WallAt(received + Ms(1000))));  // still its due
  RunTo(received + Ms(1000) - absl::Microseconds(81));
  EXPECT_EQ(Take(), std::nullopt);
  RunTo(received + Ms(1000) - absl::Microseconds(80));
  const std::optional<OutboundPing> ping = Take();
  ASSERT_TRUE(ping.has_value());
  EXPECT_EQ(ping->ping.seq, 2u);
  Report(*ping, Delivered());
  // The next ball counts from its own arrival, not from the early hand-out.
  RunTo(received + Ms(2000));
  ASSERT_EQ(Receive(3).kind, PingVerdict::kAccepted);
  EXPECT_EQ(PingDeadline(), received + Ms(3000) - absl::Microseconds(80));
}

TEST_F(GameTest, ACommandDueJustBeforeTheBallStillGoesFirstWhateverTheSendLead) {
  const absl::Duration received = ReceiveFirstPing();
  game_.SetSendLead(std::chrono::microseconds(200));
  const absl::Duration pause_at = received + Ms(1000) - absl::Microseconds(100);
  ASSERT_THAT(Submit(MakeCommand("p1", CommandKind::kPause, WallAt(pause_at))),
              HasPhase(CommandPhase::kScheduled));
  EXPECT_EQ(PingDeadline(), received + Ms(1000));  // behind the pause, no lead
  RunTo(pause_at - absl::Microseconds(50));
  EXPECT_EQ(Take(), std::nullopt);
  RunTo(pause_at);
  EXPECT_EQ(Take(), std::nullopt);
  const GameSnapshot s = Snap();
  EXPECT_EQ(s.state, GameState::kPaused);
  EXPECT_THAT(s.time_left, Optional(absl::Microseconds(100)));
  EXPECT_THAT(Kinds(), Not(Contains(GameEvent::kPingSent)));
}

TEST_F(GameTest, ACommandDueAfterTheBallDoesNotHoldTheLeadBack) {
  const absl::Duration received = ReceiveFirstPing();
  game_.SetSendLead(std::chrono::microseconds(200));
  ASSERT_THAT(Submit(MakeCommand("p1", CommandKind::kPause, WallAt(received + Ms(1001)))),
              HasPhase(CommandPhase::kScheduled));
  EXPECT_EQ(PingDeadline(), received + Ms(1000) - absl::Microseconds(200));
  RunTo(received + Ms(1000) - absl::Microseconds(200));
  ASSERT_TRUE(Take().has_value());
}

// ---- Pause and resume ----

TEST_F(GameTest, PauseKeepsTimeLeftSendsNothingAndResumeKeepsIt) {
  const absl::Duration received = ReceiveFirstPing();
  ASSERT_THAT(Submit(MakeCommand("p1", CommandKind::kPause, WallAt(received + Ms(300)))),
              HasPhase(CommandPhase::kScheduled));
  RunTo(received + Ms(300));
  GameSnapshot s = Snap();
  EXPECT_EQ(s.state, GameState::kPaused);
  EXPECT_EQ(s.ball, Ball::kHeld);
  EXPECT_THAT(s.time_left, Optional(Ms(700)));
  EXPECT_EQ(s.ball_due_at, std::nullopt);
  EXPECT_EQ(PingDeadline(), std::nullopt);

  RunTo(received + absl::Hours(3));
  EXPECT_EQ(Take(), std::nullopt);
  EXPECT_THAT(Snap().time_left, Optional(Ms(700)));
  EXPECT_EQ(Snap().pings_sent, 0u);

  const absl::Duration resume_at = Elapsed();
  ApplyNow(CommandKind::kResume);
  s = Snap();
  EXPECT_EQ(s.ball, Ball::kHeld);
  EXPECT_EQ(s.pong_time_ms, 1000);
  EXPECT_EQ(s.time_left, std::nullopt);
  EXPECT_EQ(PingDeadline(), resume_at + Ms(700));
  RunTo(resume_at + Ms(700) - absl::Nanoseconds(1));
  EXPECT_EQ(Take(), std::nullopt);
  RunTo(resume_at + Ms(700));
  const std::optional<OutboundPing> ping = Take();
  ASSERT_TRUE(ping.has_value());
  // Same direction (this instance still sends the next seq), same pong_time_ms.
  EXPECT_EQ(ping->ping, (GamePing{std::string(kGameA), 2, 1000}));
}

TEST_F(GameTest, PingInFlightAtThePauseIsAcceptedWithTheWholePongTimeLeft) {
  StartNow(/*serve=*/false);
  RunTo(Ms(10));
  ApplyNow(CommandKind::kPause);
  RunTo(Ms(11));
  events_.clear();
  const PingVerdict verdict = Receive(1);
  EXPECT_EQ(verdict.kind, PingVerdict::kAccepted);
  GameSnapshot s = Snap();
  EXPECT_EQ(s.state, GameState::kPaused);
  EXPECT_EQ(s.ball, Ball::kHeld);
  EXPECT_THAT(s.time_left, Optional(Ms(1000)));
  EXPECT_EQ(s.pings_received, 1u);
  EXPECT_THAT(Kinds(), ElementsAre(GameEvent::kPingReceived));
  RunTo(absl::Hours(1));
  EXPECT_EQ(Take(), std::nullopt);
  EXPECT_THAT(Snap().time_left, Optional(Ms(1000)));

  ApplyNow(CommandKind::kResume);
  EXPECT_EQ(PingDeadline(), absl::Hours(1) + Ms(1000));
}

TEST_F(GameTest, OwnPingInFlightAtThePauseEndsAtThePeer) {
  StartNow(/*serve=*/true);
  const std::optional<OutboundPing> ping = Take();
  ASSERT_TRUE(ping.has_value());
  ApplyNow(CommandKind::kPause);
  Report(*ping, Delivered());
  EXPECT_EQ(Snap().state, GameState::kPaused);
  EXPECT_EQ(Snap().ball, Ball::kAtPeer);
  EXPECT_EQ(Snap().time_left, std::nullopt);
  ApplyNow(CommandKind::kResume);
  RunFor(Ms(1000) + ToAbsl(kBallLostGrace) - absl::Nanoseconds(1));
  EXPECT_EQ(Take(), std::nullopt);
  EXPECT_EQ(Snap().ball, Ball::kAtPeer);
}

TEST_F(GameTest, FailedSendWhilePausedKeepsTheRetryAsTimeLeft) {
  StartNow(/*serve=*/true);
  const std::optional<OutboundPing> ping = Take();
  ASSERT_TRUE(ping.has_value());
  ApplyNow(CommandKind::kPause);
  Report(*ping, Failed());
  EXPECT_EQ(Snap().ball, Ball::kHeld);
  EXPECT_THAT(Snap().time_left, Optional(Ms(20)));
  RunFor(absl::Hours(1));
  EXPECT_EQ(Take(), std::nullopt);
  const absl::Duration resume_at = Elapsed();
  ApplyNow(CommandKind::kResume);
  EXPECT_EQ(PingDeadline(), resume_at + Ms(20));
  RunTo(resume_at + Ms(20));
  const std::optional<OutboundPing> retry = Take();
  ASSERT_TRUE(retry.has_value());
  EXPECT_EQ(retry->ping.seq, 1u);
  EXPECT_EQ(retry->attempt, 2);
}

TEST_F(GameTest, PauseAtTheDueInstantSendsNothing) {
  const absl::Duration received = ReceiveFirstPing();
  ASSERT_THAT(Submit(MakeCommand("p1", CommandKind::kPause, WallAt(received + Ms(1000)))),
              HasPhase(CommandPhase::kScheduled));
  RunTo(received + Ms(1000));
  EXPECT_EQ(Snap().state, GameState::kPaused);
  EXPECT_EQ(Take(), std::nullopt);
  EXPECT_THAT(Snap().time_left, Optional(absl::ZeroDuration()));
  EXPECT_THAT(Kinds(), Not(Contains(GameEvent::kPingSent)));

  ASSERT_THAT(Submit(MakeCommand("r1", CommandKind::kResume, WallAt(received + Ms(5000)))),
              HasPhase(CommandPhase::kScheduled));
  RunTo(received + Ms(5000) - absl::Nanoseconds(1));
  EXPECT_EQ(Take(), std::nullopt);
  RunTo(received + Ms(5000));  // due at resume + 0 left
  const std::optional<OutboundPing> ping = Take();
  ASSERT_TRUE(ping.has_value());
  EXPECT_EQ(ping->ping.seq, 2u);
}

TEST_F(GameTest, StopAtTheDueInstantSendsNothing) {
  const absl::Duration received = ReceiveFirstPing();
  ASSERT_THAT(Submit(MakeCommand("x1", CommandKind::kStop, WallAt(received + Ms(1000)))),
              HasPhase(CommandPhase::kScheduled));
  RunTo(received + Ms(1000));
  EXPECT_EQ(Snap().state, GameState::kIdle);
  EXPECT_EQ(Take(), std::nullopt);
}

// ---- Duplicates ----

TEST_F(GameTest, DuplicatePingIsAnsweredAndChangesNothingButItsCounter) {
  const absl::Duration received = ReceiveFirstPing();
  RunTo(received + Ms(5));
  const GameSnapshot before = Snap();
  events_.clear();
  const PingVerdict verdict = Receive(1);
  EXPECT_EQ(verdict.kind, PingVerdict::kDuplicate);
  GameSnapshot after = Snap();
  EXPECT_EQ(after.duplicate_pings, before.duplicate_pings + 1);
  EXPECT_EQ(after.pings_received, 1u);
  EXPECT_THAT(after.ball_due_at, Optional(WallAt(received + Ms(1000))));
  EXPECT_EQ(PingDeadline(), received + Ms(1000));
  after.duplicate_pings = before.duplicate_pings;
  EXPECT_EQ(Describe(after), Describe(before));
  EXPECT_THAT(Kinds(), ElementsAre(GameEvent::kPingDuplicate));
}

TEST_F(GameTest, OlderSeqIsADuplicate) {
  const absl::Duration received = ReceiveFirstPing();
  RunTo(received + Ms(1000));
  const std::optional<OutboundPing> two = Take();
  ASSERT_TRUE(two.has_value());
  Report(*two, Delivered());
  RunTo(received + Ms(2000));
  ASSERT_EQ(Receive(3).kind, PingVerdict::kAccepted);
  RunTo(received + Ms(2100));
  EXPECT_EQ(Receive(1).kind, PingVerdict::kDuplicate);
  EXPECT_EQ(Receive(3).kind, PingVerdict::kDuplicate);
  const GameSnapshot s = Snap();
  EXPECT_EQ(s.duplicate_pings, 2u);
  EXPECT_EQ(s.pings_received, 2u);
  EXPECT_EQ(s.ball, Ball::kHeld);
  EXPECT_EQ(PingDeadline(), received + Ms(3000));
}

TEST_F(GameTest, DuplicateWhileTheBallIsAtThePeerLeavesItThere) {
  const absl::Duration received = ReceiveFirstPing();
  RunTo(received + Ms(1000));
  const std::optional<OutboundPing> two = Take();
  ASSERT_TRUE(two.has_value());
  Report(*two, Delivered());
  EXPECT_EQ(Receive(1).kind, PingVerdict::kDuplicate);
  EXPECT_EQ(Snap().ball, Ball::kAtPeer);
  EXPECT_EQ(PingDeadline(), received + Ms(2000) + ToAbsl(kBallLostGrace));
  RunTo(received + Ms(2000) + ToAbsl(kBallLostGrace) - absl::Nanoseconds(1));
  EXPECT_EQ(Take(), std::nullopt);
  EXPECT_EQ(Snap().ball, Ball::kAtPeer);
}

// ---- Refused pings ----

TEST_F(GameTest, PingOfAnUnknownGameIsRefused) {
  const absl::Duration received = ReceiveFirstPing();
  RunTo(received + Ms(10));
  const GameSnapshot before = Snap();
  events_.clear();
  const PingVerdict verdict = Receive(2, kGameB);
  EXPECT_EQ(verdict.kind, PingVerdict::kRefused);
  EXPECT_EQ(verdict.reason, "unknown game");
  GameSnapshot after = Snap();
  EXPECT_EQ(after.rejected_pings, before.rejected_pings + 1);
  after.rejected_pings = before.rejected_pings;
  EXPECT_EQ(Describe(after), Describe(before));
  EXPECT_EQ(PingDeadline(), received + Ms(1000));
  EXPECT_THAT(Kinds(), ElementsAre(GameEvent::kPingRefused));
}

TEST_F(GameTest, PingOfAStoppedGameIsRefused) {
  ReceiveFirstPing();
  ApplyNow(CommandKind::kStop);
  const GameSnapshot before = Snap();
  PingVerdict verdict = Receive(3);
  EXPECT_EQ(verdict.kind, PingVerdict::kRefused);
  EXPECT_EQ(verdict.reason, "game stopped");
  GameSnapshot after = Snap();
  EXPECT_EQ(after.rejected_pings, before.rejected_pings + 1);
  after.rejected_pings = before.rejected_pings;
  EXPECT_EQ(Describe(after), Describe(before));

  StartNow(/*serve=*/false, 1000, kGameB);
  verdict = Receive(1, kGameA);
  EXPECT_EQ(verdict.kind, PingVerdict::kRefused);
  EXPECT_EQ(verdict.reason, "game stopped");
  EXPECT_EQ(Snap().ball, Ball::kAtPeer);
  EXPECT_EQ(Receive(1, kGameB).kind, PingVerdict::kAccepted);
}

// ---- Rejoining after a restart ----

TEST_F(GameTest, IdleInstanceRejoinsTheGameOfAPing) {
  const PingVerdict verdict = game_.OnPing(GamePing{std::string(kGameA), 7, 250}, Now());
  EXPECT_EQ(verdict.kind, PingVerdict::kAccepted);
  const GameSnapshot s = Snap();
  EXPECT_EQ(s.state, GameState::kRunning);
  EXPECT_EQ(s.game_id, kGameA);
  EXPECT_EQ(s.pong_time_ms, 250);
  EXPECT_FALSE(s.serve);  // the peer sends the odd seqs
  EXPECT_EQ(s.ball, Ball::kHeld);
  EXPECT_EQ(s.last_seq, 7u);
  EXPECT_EQ(s.pings_received, 1u);
  EXPECT_EQ(s.rejected_pings, 0u);
  EXPECT_THAT(Kinds(), ElementsAre(GameEvent::kGameRejoined, GameEvent::kPingReceived));
  EXPECT_THAT(events_[0].text, HasSubstr("rejoined game"));
  EXPECT_THAT(events_[0].text, HasSubstr("seq=7, pong_time_ms=250"));
  EXPECT_EQ(PingDeadline(), Ms(250));
  RunTo(Ms(249));
  EXPECT_FALSE(Take().has_value());
  RunTo(Ms(250));
  const std::optional<OutboundPing> next = Take();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->ping, (GamePing{std::string(kGameA), 8, 250}));
}

TEST_F(GameTest, RejoinedWithAnEvenSeqThisInstanceServes) {
  ASSERT_EQ(Receive(12).kind, PingVerdict::kAccepted);
  EXPECT_TRUE(Snap().serve);
  RunFor(Ms(1000));
  const std::optional<OutboundPing> next = Take();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->ping.seq, 13u);
  Report(*next, Delivered());
  EXPECT_EQ(Receive(14).kind, PingVerdict::kAccepted);
}

TEST_F(GameTest, PingOfAStoppedGameNeverRejoins) {
  StartNow(/*serve=*/false, 1000, kGameA);
  ApplyNow(CommandKind::kStop);
  StartNow(/*serve=*/false, 1000, kGameB);
  ApplyNow(CommandKind::kStop);
  for (absl::string_view game : {kGameA, kGameB}) {
    const GameSnapshot before = Snap();
    const PingVerdict verdict = Receive(9, game);
    EXPECT_EQ(verdict.kind, PingVerdict::kRefused);
    EXPECT_EQ(verdict.reason, "game stopped");
    EXPECT_EQ(Snap().state, GameState::kIdle);
    EXPECT_EQ(Snap().rejected_pings, before.rejected_pings + 1);
  }
}

TEST_F(GameTest, AStoppedGameIsRememberedAmongTheLastSixteen) {
  auto game_id = [](int i) { return absl::StrFormat("%032x", i + 1); };
  for (int i = 0; i < static_cast<int>(kRememberedStoppedGames) + 1; ++i) {
    StartNow(/*serve=*/false, 1000, game_id(i));
    ApplyNow(CommandKind::kStop);
  }
  EXPECT_EQ(Receive(3, game_id(1)).reason, "game stopped");        // 16 games ago
  EXPECT_EQ(Receive(3, game_id(0)).kind, PingVerdict::kAccepted);  // 17: forgotten
}

TEST_F(GameTest, IdleInstanceWithAPendingStartDoesNotRejoin) {
  ASSERT_THAT(Submit(MakeStart(NextId(), 1000, false, kGameB, WallIn(Ms(500)))),
              HasPhase(CommandPhase::kScheduled));
  const std::string before = Describe(Snap());
  events_.clear();
  const PingVerdict verdict = Receive(5, kGameA);
  EXPECT_EQ(verdict.kind, PingVerdict::kRefused);
  EXPECT_EQ(verdict.reason, "no game running");
  GameSnapshot after = Snap();
  EXPECT_EQ(after.rejected_pings, 1u);
  after.rejected_pings = 0;
  EXPECT_EQ(Describe(after), before);
  EXPECT_THAT(Kinds(), ElementsAre(GameEvent::kPingRefused));
}

TEST_F(GameTest, AStopScheduledWhileIdleHoldsOffARejoinAndIsANoOpAtItsTime) {
  const std::string stop_id = NextId();
  ASSERT_THAT(Submit(MakeCommand(stop_id, CommandKind::kStop, WallIn(Ms(100)))),
              HasPhase(CommandPhase::kScheduled));
  const PingVerdict verdict = Receive(3, kGameA);
  EXPECT_EQ(verdict.kind, PingVerdict::kRefused);
  EXPECT_EQ(verdict.reason, "no game running");
  events_.clear();
  RunTo(Ms(100));
  EXPECT_EQ(Snap().state, GameState::kIdle);
  EXPECT_THAT(Submit(MakeCommand(stop_id, CommandKind::kStop)), HasPhase(CommandPhase::kNoOp));
  ASSERT_THAT(Kinds(), ElementsAre(GameEvent::kCommandNoOp));
  EXPECT_THAT(events_[0].text, HasSubstr("no-op, already idle"));
  // Once it is done, the instance may rejoin again.
  EXPECT_EQ(Receive(3, kGameA).kind, PingVerdict::kAccepted);
}

TEST_F(GameTest, RunningInstanceRefusesAnotherGamesPing) {
  StartNow(/*serve=*/false, 1000, kGameA);
  const PingVerdict verdict = Receive(1, kGameB);
  EXPECT_EQ(verdict.kind, PingVerdict::kRefused);
  EXPECT_EQ(verdict.reason, "unknown game");
  EXPECT_EQ(Snap().game_id, kGameA);
}

// ---- A lost ball ----

TEST_F(GameTest, BallIsLostWhenThePeersPingIsOverdueAndComesBackWithIt) {
  StartNow(/*serve=*/true, 1000);
  std::optional<OutboundPing> one = Take();
  ASSERT_TRUE(one.has_value());
  RunTo(Ms(1));
  Report(*one, Delivered());
  EXPECT_EQ(Snap().ball, Ball::kAtPeer);
  EXPECT_EQ(PingDeadline(), Ms(1) + Ms(1000) + ToAbsl(kBallLostGrace));
  RunTo(Ms(3000));
  EXPECT_EQ(Snap().ball, Ball::kAtPeer);
  events_.clear();
  RunTo(Ms(3001));
  EXPECT_EQ(Snap().ball, Ball::kLost);
  EXPECT_EQ(Snap().state, GameState::kRunning);
  EXPECT_EQ(PingDeadline(), -absl::InfiniteDuration());  // a probe, see below
  ASSERT_THAT(Kinds(), ElementsAre(GameEvent::kBallLost));
  EXPECT_THAT(events_[0].text, HasSubstr("seq=2 is 2000 ms overdue"));
  EXPECT_THAT(events_[0].text, HasSubstr("pong-cli stop && pong-cli start 1000"));
  RunFor(absl::Seconds(60));  // said once
  EXPECT_THAT(Kinds(), ElementsAre(GameEvent::kBallLost));

  ASSERT_EQ(Receive(2).kind, PingVerdict::kAccepted);
  EXPECT_EQ(Snap().ball, Ball::kHeld);
  EXPECT_THAT(events_.back().text, HasSubstr("the lost ball is back"));
}

TEST_F(GameTest, ALostBallIsProbedForWithOurLastPingUntilThePeerAnswers) {
  StartNow(/*serve=*/true, 1000);
  const std::optional<OutboundPing> one = Take();
  ASSERT_TRUE(one.has_value());
  Report(*one, Delivered());
  RunTo(Ms(3000));
  ASSERT_EQ(Snap().ball, Ball::kLost);
  events_.clear();
  std::optional<OutboundPing> probe = Take();
  ASSERT_TRUE(probe.has_value());
  EXPECT_EQ(probe->ping, (GamePing{std::string(kGameA), 1, 1000}));
  EXPECT_THAT(events_.back().text, HasSubstr("ping sent again seq=1 to probe the peer"));
  EXPECT_EQ(Take(), std::nullopt);  // one probe at a time

  Report(*probe, Failed(), /*jitter01=*/0.5);
  EXPECT_EQ(Snap().ball, Ball::kLost);
  EXPECT_FALSE(Snap().peer.reachable);
  EXPECT_THAT(events_.back().text,
              HasSubstr("probe seq=1: connection refused; again in 20.000 ms"));
  EXPECT_EQ(PingDeadline(), Ms(3020));
  RunTo(Ms(3019));
  EXPECT_EQ(Take(), std::nullopt);
  RunTo(Ms(3020));
  probe = Take();
  ASSERT_TRUE(probe.has_value());
  Report(*probe, Failed(), /*jitter01=*/0.5);
  EXPECT_EQ(PingDeadline(), Ms(3060));  // 40 ms: backing off as a ping's retries do
  RunTo(Ms(3060));
  probe = Take();
  ASSERT_TRUE(probe.has_value());
  EXPECT_EQ(Snap().pings_sent, 1u);  // probes are not new pings

  // The peer answers (it still has the game, or it rejoined with the probe): the ball is
  // at the peer again, and its ping is awaited as before.
  Report(*probe, Delivered());
  EXPECT_EQ(Snap().ball, Ball::kAtPeer);
  EXPECT_TRUE(Snap().peer.reachable);
  EXPECT_EQ(PingDeadline(), Ms(3060) + Ms(1000) + ToAbsl(kBallLostGrace));
  EXPECT_EQ(Receive(2).kind, PingVerdict::kAccepted);
}

TEST_F(GameTest, APingDuringAProbeTakesTheBallAndTheProbesResultChangesNothing) {
  StartNow(/*serve=*/true, 1000);
  const std::optional<OutboundPing> one = Take();
  ASSERT_TRUE(one.has_value());
  Report(*one, Delivered());
  RunTo(Ms(3000));
  const std::optional<OutboundPing> probe = Take();
  ASSERT_TRUE(probe.has_value());
  ASSERT_EQ(Receive(2).kind, PingVerdict::kAccepted);
  Report(*probe, Failed());
  EXPECT_EQ(Snap().ball, Ball::kHeld);
  EXPECT_EQ(PingDeadline(), Ms(4000));
}

TEST_F(GameTest, NonServingStartLosesTheBallWhenNoFirstPingComes) {
  StartNow(/*serve=*/false, 100);
  EXPECT_EQ(PingDeadline(), ToAbsl(kBallLostGrace));
  RunTo(ToAbsl(kBallLostGrace));
  EXPECT_EQ(Snap().ball, Ball::kLost);
  // It never sent a ping, so it has none to probe with.
  EXPECT_EQ(PingDeadline(), std::nullopt);
  EXPECT_EQ(Take(), std::nullopt);
}

TEST_F(GameTest, APausedGameLosesNoBallAndResumeRestartsTheWait) {
  StartNow(/*serve=*/false, 1000);
  RunTo(Ms(500));
  ApplyNow(CommandKind::kPause);
  EXPECT_EQ(PingDeadline(), std::nullopt);
  RunTo(absl::Seconds(30));
  EXPECT_EQ(Snap().ball, Ball::kAtPeer);
  ApplyNow(CommandKind::kResume);
  EXPECT_EQ(PingDeadline(), absl::Seconds(30) + Ms(1000) + ToAbsl(kBallLostGrace));
  RunTo(absl::Seconds(33) - Ms(1));
  EXPECT_EQ(Snap().ball, Ball::kAtPeer);
  RunTo(absl::Seconds(33));
  EXPECT_EQ(Snap().ball, Ball::kLost);
}

TEST_F(GameTest, AStopDueWhenTheBallWouldBeLostGoesFirst) {
  StartNow(/*serve=*/false, 1000);
  ASSERT_THAT(Submit(MakeCommand(NextId(), CommandKind::kStop, WallIn(ToAbsl(kBallLostGrace)))),
              HasPhase(CommandPhase::kScheduled));
  events_.clear();
  RunTo(ToAbsl(kBallLostGrace));
  EXPECT_EQ(Snap().state, GameState::kIdle);
  EXPECT_THAT(Kinds(), ElementsAre(GameEvent::kCommandApplied));
}

TEST_F(GameTest, StopAndStartRecoverFromALostBall) {
  StartNow(/*serve=*/false, 100);
  RunTo(absl::Seconds(5));
  ASSERT_EQ(Snap().ball, Ball::kLost);
  ApplyNow(CommandKind::kStop);
  StartNow(/*serve=*/true, 100, kGameB);
  const std::optional<OutboundPing> one = Take();
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->ping, (GamePing{std::string(kGameB), 1, 100}));
}

// ---- The peer stopped the game ----

SendResult GameOver() { return SendResult{SendResult::kGameOver, {}, "HTTP 409 game stopped"}; }

TEST_F(GameTest, APeerThatStoppedTheGameEndsItHereToo) {
  StartNow(/*serve=*/true, 1000);
  const std::optional<OutboundPing> one = Take();
  ASSERT_TRUE(one.has_value());
  events_.clear();
  Report(*one, GameOver());
  const GameSnapshot s = Snap();
  EXPECT_EQ(s.state, GameState::kIdle);
  EXPECT_EQ(s.ball, Ball::kNone);
  EXPECT_EQ(PingDeadline(), std::nullopt);
  ASSERT_THAT(Kinds(), ElementsAre(GameEvent::kGameOverAtPeer));
  EXPECT_THAT(events_[0].text, HasSubstr("the game is over here too"));
  // Its pings are refused from now on: never rejoined.
  EXPECT_EQ(Receive(2).reason, "game stopped");
}

TEST_F(GameTest, APeersStopAppliesAStopPendingHereAtOnce) {
  StartNow(/*serve=*/true, 1000);
  const std::optional<OutboundPing> one = Take();
  ASSERT_TRUE(one.has_value());
  const std::string stop_id = NextId();
  ASSERT_THAT(Submit(MakeCommand(stop_id, CommandKind::kStop, WallIn(Ms(20)))),
              HasPhase(CommandPhase::kScheduled));
  Report(*one, GameOver());
  EXPECT_EQ(Snap().state, GameState::kIdle);
  EXPECT_FALSE(Snap().pending.has_value());
  EXPECT_THAT(Submit(MakeCommand(stop_id, CommandKind::kStop)), HasPhase(CommandPhase::kApplied));
  EXPECT_THAT(events_.back().text, HasSubstr("applied on the peer's refusal"));
}

TEST_F(GameTest, APauseScheduledBeforeThePeerStoppedTheGameIsANoOp) {
  StartNow(/*serve=*/true, 1000);
  const std::optional<OutboundPing> one = Take();
  ASSERT_TRUE(one.has_value());
  const std::string pause_id = NextId();
  ASSERT_THAT(Submit(MakeCommand(pause_id, CommandKind::kPause, WallIn(Ms(20)))),
              HasPhase(CommandPhase::kScheduled));
  Report(*one, GameOver());
  RunFor(Ms(20));
  EXPECT_EQ(Snap().state, GameState::kIdle);
  EXPECT_THAT(Submit(MakeCommand(pause_id, CommandKind::kPause)), HasPhase(CommandPhase::kNoOp));
}

TEST_F(GameTest, GameOverOfAnOlderGameIsIgnored) {
  StartNow(/*serve=*/true, 1000, kGameA);
  const std::optional<OutboundPing> one = Take();
  ASSERT_TRUE(one.has_value());
  ApplyNow(CommandKind::kStop);
  StartNow(/*serve=*/true, 1000, kGameB);
  Report(*one, GameOver());
  EXPECT_EQ(Snap().state, GameState::kRunning);
  EXPECT_EQ(Snap().game_id, kGameB);
}

TEST_F(GameTest, SkippedSeqIsRefused) {
  StartNow(/*serve=*/false);
  PingVerdict verdict = Receive(3);
  EXPECT_EQ(verdict.kind, PingVerdict::kRefused);
  EXPECT_THAT(verdict.reason, HasSubstr("unexpected seq 3"));
  EXPECT_EQ(Snap().ball, Ball::kAtPeer);
  EXPECT_EQ(Snap().last_seq, 0u);
  ASSERT_EQ(Receive(1).kind, PingVerdict::kAccepted);
  RunFor(Ms(1000));
  const std::optional<OutboundPing> two = Take();
  ASSERT_TRUE(two.has_value());
  Report(*two, Delivered());
  verdict = Receive(5);
  EXPECT_EQ(verdict.kind, PingVerdict::kRefused);
  EXPECT_EQ(Snap().ball, Ball::kAtPeer);
  EXPECT_EQ(Snap().rejected_pings, 2u);
}

// ---- Exactly one ball ----

TEST_F(GameTest, PingWithTheSeqWeHoldIsRefused) {
  const absl::Duration received = ReceiveFirstPing();  // we hold seq 2
  RunTo(received + Ms(10));
  const GameSnapshot before = Snap();
  const PingVerdict verdict = Receive(2);
  EXPECT_EQ(verdict.kind, PingVerdict::kRefused);
  GameSnapshot after = Snap();
  EXPECT_EQ(after.rejected_pings, 1u);
  after.rejected_pings = before.rejected_pings;
  EXPECT_EQ(Describe(after), Describe(before));
  EXPECT_EQ(PingDeadline(), received + Ms(1000));
}

TEST_F(GameTest, PingWithTheSeqWeSentIsRefusedNotTakenForADuplicate) {
  const absl::Duration received = ReceiveFirstPing();
  RunTo(received + Ms(1000));
  const std::optional<OutboundPing> two = Take();
  ASSERT_TRUE(two.has_value());
  EXPECT_EQ(Receive(2).kind, PingVerdict::kRefused);  // in flight
  Report(*two, Delivered());
  EXPECT_EQ(Receive(2).kind, PingVerdict::kRefused);  // at the peer
  const GameSnapshot s = Snap();
  EXPECT_EQ(s.duplicate_pings, 0u);
  EXPECT_EQ(s.rejected_pings, 2u);
  EXPECT_EQ(s.ball, Ball::kAtPeer);
}

TEST_F(GameTest, PingOfTheServingSideIsRefusedByTheServer) {
  StartNow(/*serve=*/true);
  const std::optional<OutboundPing> one = Take();
  ASSERT_TRUE(one.has_value());
  Report(*one, Delivered());
  RunFor(Ms(1000));
  EXPECT_EQ(Receive(3).kind, PingVerdict::kRefused);  // odd seqs are ours
  EXPECT_EQ(Receive(1).kind, PingVerdict::kRefused);
  EXPECT_EQ(Snap().ball, Ball::kAtPeer);
  EXPECT_EQ(Receive(2).kind, PingVerdict::kAccepted);
}

// ---- Joining a game by its first ping ----

TEST_F(GameTest, NonServingStartWithoutIdJoinsTheGameOfTheFirstPing) {
  const absl::StatusOr<CommandOutcome> outcome = Submit(MakeStart("s1", 1000, false, ""));
  ASSERT_THAT(outcome, HasPhase(CommandPhase::kApplied));
  EXPECT_THAT(outcome->message, HasSubstr("first ping"));
  EXPECT_EQ(Snap().game_id, "");
  EXPECT_EQ(ids_made_, 0);
  events_.clear();

  RunTo(Ms(5));
  ASSERT_EQ(Receive(1, kGameB).kind, PingVerdict::kAccepted);
  EXPECT_EQ(Snap().game_id, kGameB);
  EXPECT_THAT(Kinds(), ElementsAre(GameEvent::kGameJoined, GameEvent::kPingReceived));
  EXPECT_THAT(events_[0].text, HasSubstr(std::string(kGameB)));

  const PingVerdict other = Receive(1, kGameA);
  EXPECT_EQ(other.kind, PingVerdict::kRefused);
  EXPECT_EQ(other.reason, "unknown game");
  EXPECT_EQ(Snap().game_id, kGameB);

  RunTo(Ms(1005));
  const std::optional<OutboundPing> ping = Take();
  ASSERT_TRUE(ping.has_value());
  EXPECT_EQ(ping->ping, (GamePing{std::string(kGameB), 2, 1000}));
}

TEST_F(GameTest, JoiningNeedsSeqOne) {
  ASSERT_THAT(Submit(MakeStart("s1", 1000, false, "")), HasPhase(CommandPhase::kApplied));
  EXPECT_EQ(Receive(3, kGameB).kind, PingVerdict::kRefused);
  EXPECT_EQ(Receive(2, kGameB).kind, PingVerdict::kRefused);
  EXPECT_EQ(Snap().game_id, "");
  EXPECT_THAT(Kinds(), Not(Contains(GameEvent::kGameJoined)));
  EXPECT_EQ(Receive(1, kGameA).kind, PingVerdict::kAccepted);
  EXPECT_EQ(Snap().game_id, kGameA);
}

TEST_F(GameTest, ServingStartWithoutIdMakesOne) {
  const absl::StatusOr<CommandOutcome> outcome = Submit(MakeStart("s1", 1000, true, ""));
  ASSERT_THAT(outcome, HasPhase(CommandPhase::kApplied));
  EXPECT_EQ(ids_made_, 1);
  EXPECT_THAT(outcome->message, HasSubstr(std::string(kGeneratedId)));
  EXPECT_EQ(Snap().game_id, kGeneratedId);
  const std::optional<OutboundPing> ping = Take();
  ASSERT_TRUE(ping.has_value());
  EXPECT_EQ(ping->ping.game_id, kGeneratedId);
}

TEST_F(GameTest, StartWithAnIdMakesNone) {
  StartNow(/*serve=*/true);
  EXPECT_EQ(ids_made_, 0);
  EXPECT_EQ(Snap().game_id, kGameA);
}

// ---- Lost replies and an unreachable peer ----

TEST_F(GameTest, FailedSendKeepsTheBallAndRetriesTheSameSeq) {
  StartNow(/*serve=*/true);
  const std::optional<OutboundPing> ping = Take();
  ASSERT_TRUE(ping.has_value());
  RunTo(Ms(3));
  events_.clear();
  Report(*ping, Failed(), 0.5);
  GameSnapshot s = Snap();
  EXPECT_EQ(s.ball, Ball::kHeld);
  EXPECT_FALSE(s.peer.reachable);
  EXPECT_EQ(s.peer.consecutive_failures, 1u);
  EXPECT_EQ(s.peer.last_error, "connection refused");
  EXPECT_EQ(PingDeadline(), Ms(23));
  EXPECT_THAT(Kinds(), ElementsAre(GameEvent::kPeerError));
  EXPECT_THAT(events_[0].text, HasSubstr("connection refused"));

  RunTo(Ms(23) - absl::Nanoseconds(1));
  EXPECT_EQ(Take(), std::nullopt);
  RunTo(Ms(23));
  const std::optional<OutboundPing> retry = Take();
  ASSERT_TRUE(retry.has_value());
  EXPECT_EQ(retry->ping, ping->ping);
  EXPECT_EQ(retry->epoch, ping->epoch);
  EXPECT_EQ(retry->attempt, 2);
  EXPECT_EQ(Snap().pings_sent, 1u);

  Report(*retry, Delivered(Ms(2)));
  s = Snap();
  EXPECT_EQ(s.ball, Ball::kAtPeer);
  EXPECT_TRUE(s.peer.reachable);
  EXPECT_EQ(s.peer.consecutive_failures, 0u);
  EXPECT_THAT(s.peer.last_rtt, Optional(Ms(2)));
}

TEST_F(GameTest, BackoffDoublesAndCapsAtOneSecond) {
  StartNow(/*serve=*/true);
  const std::vector<int64_t> nominal_ms = {20, 40, 80, 160, 320, 640, 1000, 1000, 1000, 1000, 1000};
  for (size_t i = 0; i < nominal_ms.size() + 30; ++i) {
    SCOPED_TRACE(absl::StrCat("failure ", i + 1));
    const std::optional<OutboundPing> ping = Take();
    ASSERT_TRUE(ping.has_value());
    EXPECT_EQ(ping->ping.seq, 1u);
    EXPECT_EQ(ping->attempt, static_cast<int>(i + 1));
    const absl::Duration failed_at = Elapsed();
    Report(*ping, Failed(), 0.5);
    EXPECT_EQ(Snap().peer.consecutive_failures, i + 1);
    const int64_t expected = i < nominal_ms.size() ? nominal_ms[i] : 1000;
    ASSERT_EQ(PingDeadline(), failed_at + Ms(expected));
    RunTo(failed_at + Ms(expected));
  }
  EXPECT_EQ(Snap().pings_sent, 1u);
}

absl::Duration FirstRetryWait(double jitter01, int failures = 1) {
  FakeClock clock;
  Game game([] { return std::string(kGeneratedId); }, nullptr);
  Command start = MakeStart("s1", 1000, true);
  EXPECT_TRUE(game.Submit(start, clock.Read()).ok());
  std::optional<absl::Duration> wait;
  for (int i = 0; i < failures; ++i) {
    game.Advance(clock.Read());
    const std::optional<OutboundPing> ping = game.TakePingToSend(clock.Read());
    if (!ping) {
      ADD_FAILURE() << "no ping to send";
      return absl::ZeroDuration();
    }
    game.OnSendResult(*ping, Failed(), clock.Read(), jitter01);
    wait = ToAbsl(*game.NextPingDeadline() - clock.Now());
    clock.AdvanceTo(*game.NextPingDeadline());
  }
  return *wait;
}

TEST(BackoffJitterTest, StaysWithinTwentyPercentOfTheStep) {
  EXPECT_EQ(FirstRetryWait(0.0), Ms(16));
  EXPECT_EQ(FirstRetryWait(0.5), Ms(20));
  EXPECT_EQ(FirstRetryWait(1.0), Ms(24));
  EXPECT_EQ(FirstRetryWait(-3.0), Ms(16));
  EXPECT_EQ(FirstRetryWait(7.0), Ms(24));
  for (double jitter : {0.0, 0.1, 0.25, 0.33, 0.5, 0.75, 0.9, 0.999, 1.0}) {
    SCOPED_TRACE(jitter);
    EXPECT_THAT(FirstRetryWait(jitter), AllOf(Ge(Ms(16)), Le(Ms(24))));
    EXPECT_THAT(FirstRetryWait(jitter, 2), AllOf(Ge(Ms(32)), Le(Ms(48))));
    EXPECT_THAT(FirstRetryWait(jitter, 12), AllOf(Ge(Ms(800)), Le(Ms(1000))));
  }
  EXPECT_LT(FirstRetryWait(0.2), FirstRetryWait(0.8));
}

TEST(BackoffJitterTest, NeverWaitsLongerThanTheCap) {
  EXPECT_EQ(FirstRetryWait(1.0, 12), Ms(1000));
  EXPECT_EQ(FirstRetryWait(0.0, 12), Ms(800));
}

// ---- The two timers of a Start ----

TEST_F(GameTest, ThePeersFirstPingJustBeforeOurStartIsTheStart) {
  ASSERT_THAT(Submit(MakeStart("s1", 100, false, kGameA, WallIn(Ms(100)))),
              HasPhase(CommandPhase::kScheduled));
  ClockTo(Ms(100) - absl::Microseconds(300));  // the serving peer's timer fired first
  events_.clear();
  EXPECT_EQ(Receive(1).kind, PingVerdict::kAccepted);
  const GameSnapshot s = Snap();
  EXPECT_EQ(s.state, GameState::kRunning);
  EXPECT_EQ(s.ball, Ball::kHeld);
  EXPECT_EQ(s.last_seq, 1u);
  EXPECT_FALSE(s.pending.has_value());
  EXPECT_EQ(CommandDeadline(), std::nullopt);
  EXPECT_EQ(PingDeadline(), Elapsed() + Ms(100));
  EXPECT_THAT(Submit(MakeStart("s1", 100, false, kGameA, WallIn(Ms(100)))),
              HasPhase(CommandPhase::kApplied));
  EXPECT_THAT(Kinds(), ElementsAre(GameEvent::kCommandApplied, GameEvent::kPingReceived));
  EXPECT_THAT(events_[0].text, HasSubstr("on the peer's first ping"));
}

TEST_F(GameTest, ThePeersFirstPingJoinsAPendingStartWithoutGameId) {
  ASSERT_THAT(Submit(MakeStart("s1", 100, false, "", WallIn(Ms(30)))),
              HasPhase(CommandPhase::kScheduled));
  ClockTo(Ms(1));
  EXPECT_EQ(Receive(1, kGameB).kind, PingVerdict::kAccepted);
  EXPECT_EQ(Snap().game_id, kGameB);
  EXPECT_EQ(Snap().state, GameState::kRunning);
}

TEST_F(GameTest, APingLongBeforeAPendingStartOrOfAnotherGameIsRefused) {
  ASSERT_THAT(Submit(MakeStart("s1", 100, false, kGameA, WallIn(Ms(500)))),
              HasPhase(CommandPhase::kScheduled));
  ClockTo(Ms(500) - ToAbsl(kEarlyStart) - absl::Microseconds(1));
  EXPECT_EQ(Receive(1).kind, PingVerdict::kRefused);
  ClockTo(Ms(490));
  EXPECT_EQ(Receive(1, kGameB).kind, PingVerdict::kRefused);
  EXPECT_EQ(Receive(3).kind, PingVerdict::kRefused);
  EXPECT_EQ(Snap().state, GameState::kIdle);
  EXPECT_TRUE(Snap().pending.has_value());
}

TEST_F(GameTest, AServingPendingStartIsNotStartedByAPing) {
  ASSERT_THAT(Submit(MakeStart("s1", 100, true, kGameA, WallIn(Ms(10)))),
              HasPhase(CommandPhase::kScheduled));
  ClockTo(Ms(9));
  EXPECT_EQ(Receive(1).kind, PingVerdict::kRefused);
  EXPECT_EQ(Snap().state, GameState::kIdle);
}

TEST_F(GameTest, APingAfterAStopsEffectiveAtIsRefusedBeforeTheTimerFires) {
  StartNow(/*serve=*/false);
  ASSERT_THAT(Submit(MakeCommand("stop", CommandKind::kStop, WallIn(Ms(10)))),
              HasPhase(CommandPhase::kScheduled));
  ClockTo(Ms(11));  // the timer has not fired yet
  EXPECT_EQ(Receive(1).kind, PingVerdict::kRefused);
  EXPECT_EQ(Snap().state, GameState::kIdle);
}

TEST_F(GameTest, RefusedSendKeepsTheBallToo) {
  StartNow(/*serve=*/true);
  const std::optional<OutboundPing> ping = Take();
  ASSERT_TRUE(ping.has_value());
  events_.clear();
  Report(*ping, SendResult{SendResult::kRefused, {}, "409 unknown game"});
  EXPECT_EQ(Snap().ball, Ball::kHeld);
  EXPECT_TRUE(Snap().peer.reachable) << "it answered, with a refusal";
  EXPECT_EQ(Snap().peer.consecutive_failures, 1u);
  EXPECT_EQ(Snap().peer.last_error, "409 unknown game");
  ASSERT_THAT(Kinds(), ElementsAre(GameEvent::kPeerError));
  EXPECT_THAT(events_[0].text, HasSubstr("ping refused by peer seq=1"));
  RunFor(Ms(20));
  const std::optional<OutboundPing> retry = Take();
  ASSERT_TRUE(retry.has_value());
  EXPECT_EQ(retry->ping.seq, 1u);
}

TEST_F(GameTest, PeersNextPingWhileWeRetryIsAccepted) {
  StartNow(/*serve=*/true);
  const std::optional<OutboundPing> one = Take();
  ASSERT_TRUE(one.has_value());
  Report(*one, Failed(), 0.5);  // the peer got seq 1, but its pong was lost
  EXPECT_EQ(PingDeadline(), Ms(20));
  RunTo(Ms(5));
  EXPECT_EQ(Receive(2).kind, PingVerdict::kAccepted);
  const GameSnapshot s = Snap();
  EXPECT_EQ(s.ball, Ball::kHeld);
  EXPECT_TRUE(s.peer.reachable);
  EXPECT_EQ(s.peer.consecutive_failures, 0u);
  EXPECT_EQ(PingDeadline(), Ms(1005));
  RunTo(Ms(20));
  EXPECT_EQ(Take(), std::nullopt);  // the retry of seq 1 is gone
  RunTo(Ms(1005));
  const std::optional<OutboundPing> three = Take();
  ASSERT_TRUE(three.has_value());
  EXPECT_EQ(three->ping.seq, 3u);
  EXPECT_EQ(three->attempt, 1);
}

TEST_F(GameTest, StaleSendResultAfterThePeersNextPingMovesNoBall) {
  StartNow(/*serve=*/true);
  const std::optional<OutboundPing> one = Take();
  ASSERT_TRUE(one.has_value());
  RunTo(Ms(1000));
  ASSERT_EQ(Receive(2).kind, PingVerdict::kAccepted);  // overtook the pong of seq 1
  const std::string before = Describe(Snap());
  events_.clear();
  Report(*one, Failed());
  EXPECT_EQ(Describe(Snap()), before);
  EXPECT_THAT(events_, IsEmpty());
  // The late pong still counts: logged with its round trip, the ball stays here.
  Report(*one, Delivered(Ms(3)));
  EXPECT_EQ(Snap().ball, Ball::kHeld);
  EXPECT_EQ(PingDeadline(), Ms(2000));
  EXPECT_THAT(Snap().peer.last_rtt, Optional(Ms(3)));
  ASSERT_THAT(Kinds(), ElementsAre(GameEvent::kPongReceived));
  EXPECT_THAT(events_[0].text, HasSubstr("pong received seq=1 rtt=3.000 ms"));

  RunTo(Ms(2000));
  const std::optional<OutboundPing> three = Take();
  ASSERT_TRUE(three.has_value());
  const std::string in_flight = Describe(Snap());
  Report(*one, Failed());  // still stale: it must not be taken for seq 3's result
  EXPECT_EQ(Describe(Snap()), in_flight);
  Report(*one, Delivered());
  EXPECT_EQ(Snap().ball, Ball::kInFlight);
  Report(*three, Delivered());
  EXPECT_EQ(Snap().ball, Ball::kAtPeer);
}

// ---- Stop and restart ----

TEST_F(GameTest, SendResultAfterStopIsIgnored) {
  StartNow(/*serve=*/true);
  const std::optional<OutboundPing> ping = Take();
  ASSERT_TRUE(ping.has_value());
  ApplyNow(CommandKind::kStop);
  const std::string before = Describe(Snap());
  events_.clear();
  Report(*ping, Failed());
  EXPECT_EQ(Describe(Snap()), before);
  EXPECT_EQ(PingDeadline(), std::nullopt);
  EXPECT_THAT(events_, IsEmpty());
  RunFor(absl::Seconds(5));
  EXPECT_EQ(Take(), std::nullopt);
  Report(*ping, Delivered());
  EXPECT_EQ(Describe(Snap()), before);
}

TEST_F(GameTest, StartAfterStopBeginsAFreshGame) {
  StartNow(/*serve=*/true);
  const std::optional<OutboundPing> one = Take();
  ASSERT_TRUE(one.has_value());
  Report(*one, Failed());
  RunFor(Ms(20));
  const std::optional<OutboundPing> one_again = Take();
  ASSERT_TRUE(one_again.has_value());
  Report(*one_again, Delivered());
  RunFor(Ms(500));
  ASSERT_EQ(Receive(2).kind, PingVerdict::kAccepted);
  ASSERT_EQ(Receive(2).kind, PingVerdict::kDuplicate);
  ASSERT_EQ(Receive(1, kGameB).kind, PingVerdict::kRefused);
  RunFor(Ms(1000));
  const std::optional<OutboundPing> three = Take();
  ASSERT_TRUE(three.has_value());
  ApplyNow(CommandKind::kStop);

  RunFor(Ms(50));
  StartNow(/*serve=*/true, 250, kGameB);
  GameSnapshot s = Snap();
  EXPECT_EQ(s.state, GameState::kRunning);
  EXPECT_EQ(s.game_id, kGameB);
  EXPECT_EQ(s.pong_time_ms, 250);
  EXPECT_EQ(s.last_seq, 0u);
  EXPECT_EQ(s.pings_sent, 0u);
  EXPECT_EQ(s.pings_received, 0u);
  EXPECT_EQ(s.duplicate_pings, 0u);
  EXPECT_EQ(s.rejected_pings, 0u);
  EXPECT_EQ(s.last_ping_sent_at, std::nullopt);
  EXPECT_EQ(s.last_ping_received_at, std::nullopt);
  EXPECT_TRUE(s.peer.reachable);
  EXPECT_EQ(s.peer.consecutive_failures, 0u);
  EXPECT_EQ(s.peer.last_error, "");
  EXPECT_EQ(s.peer.last_rtt, std::nullopt);

  const std::optional<OutboundPing> fresh = Take();
  ASSERT_TRUE(fresh.has_value());
  EXPECT_EQ(fresh->ping, (GamePing{std::string(kGameB), 1, 250}));
  EXPECT_EQ(fresh->attempt, 1);
  EXPECT_NE(fresh->epoch, one->epoch);
  // Results of the old game, even for the same seq, do not touch the new one.
  Report(*three, Delivered());
  Report(*one, Delivered());
  EXPECT_EQ(Snap().ball, Ball::kInFlight);
  Report(*fresh, Delivered());
  EXPECT_EQ(Snap().ball, Ball::kAtPeer);
}

// ---- Two instances playing ----

struct SentPing {
  int from;  // 0 first, 1 second
  uint64_t seq;
  absl::Duration at;  // since the clock's start
  PingVerdict::Kind verdict;
};

// Two Games wired back to back: each ping is delivered the instant it is sent.
class Table {
 public:
  explicit Table(FakeClock* clock) : clock_(clock) {}

  Game& game(int i) { return i == 0 ? first_ : second_; }
  // Replaces one instance by a fresh one that knows nothing (a restart).
  void Restart(int i) {
    game(i) = Game([] { return std::string(kGeneratedId); }, nullptr);
  }
  // A down instance takes no pings: its peer's sends fail (and are not recorded).
  void SetDown(int i, bool down) { down_[i] = down; }
  const std::vector<SentPing>& sent() const { return sent_; }

  // Wakes at every deadline of either game up to `until`, as their owners' timers would.
  void RunUntil(absl::Duration until) {
    if (!RunDeadlines(
            *clock_, first_, second_, MonoAt(until), [this] { Step(); }, 100'000)) {
      ADD_FAILURE() << "the games never settled";
    }
  }

 private:
  void Step() {
    const Instant now = clock_->Read();
    first_.Advance(now);
    second_.Advance(now);
    Exchange(0, now);
    Exchange(1, now);
  }

  // What the peer link makes of the receiver's answer.
  static SendResult ResultOf(const PingVerdict& verdict) {
    if (verdict.kind != PingVerdict::kRefused) return SendResult{SendResult::kDelivered, {}, ""};
    if (verdict.reason == kGameStopped)
      return SendResult{SendResult::kGameOver, {}, verdict.reason};
    return SendResult{SendResult::kRefused, {}, verdict.reason};
  }

  void Exchange(int from, Instant now) {
    Game& sender = game(from);
    Game& receiver = game(1 - from);
    while (std::optional<OutboundPing> out = sender.TakePingToSend(now)) {
      if (down_[1 - from]) {
        sender.OnSendResult(*out, SendResult{SendResult::kFailed, {}, "connection refused"}, now,
                            0.5);
        continue;
      }
      const PingVerdict verdict = receiver.OnPing(out->ping, now);
      sent_.push_back(
          {from, out->ping.seq, ToAbsl(now.mono - FakeClock::kStartMono), verdict.kind});
      sender.OnSendResult(*out, ResultOf(verdict), now, 0.5);
    }
  }

  FakeClock* clock_;
  Game first_{[] { return std::string(kGeneratedId); }, nullptr};
  Game second_{[] { return std::string(kGameB); }, nullptr};
  std::vector<SentPing> sent_;
  bool down_[2] = {false, false};
};

TEST(TwoGamesTest, PingsAlternateWithContiguousSeqsPongTimeApart) {
  FakeClock clock;
  Table table(&clock);
  const absl::Time start_at = clock.WallNow() + Ms(100);
  // The CLI's fan-out: the same id and effective_at to both, in either order.
  ASSERT_THAT(table.game(1).Submit(MakeStart("s", 1000, false, kGameA, start_at), clock.Read()),
              HasPhase(CommandPhase::kScheduled));
  clock.Advance(Ms(1));
  ASSERT_THAT(table.game(0).Submit(MakeStart("s", 1000, true, kGameA, start_at), clock.Read()),
              HasPhase(CommandPhase::kScheduled));
  table.RunUntil(Ms(100) + absl::Seconds(50) - Ms(1));

  const std::vector<SentPing>& sent = table.sent();
  ASSERT_EQ(sent.size(), 50u);
  for (size_t i = 0; i < sent.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(sent[i].seq, i + 1);
    EXPECT_EQ(sent[i].from, sent[i].seq % 2 == 1 ? 0 : 1);
    EXPECT_EQ(sent[i].at, Ms(100) + absl::Seconds(static_cast<int64_t>(i)));
    EXPECT_EQ(sent[i].verdict, PingVerdict::kAccepted);
  }
  for (int i : {0, 1}) {
    const GameSnapshot s = table.game(i).Snapshot(clock.Read());
    EXPECT_EQ(s.pings_sent, 25u);
    EXPECT_EQ(s.pings_received, 25u);
    EXPECT_EQ(s.duplicate_pings, 0u);
    EXPECT_EQ(s.rejected_pings, 0u);
    EXPECT_EQ(s.last_seq, 50u);
  }
  EXPECT_EQ(table.game(0).Snapshot(clock.Read()).ball, Ball::kHeld);
  EXPECT_EQ(table.game(1).Snapshot(clock.Read()).ball, Ball::kAtPeer);
}

TEST(TwoGamesTest, StartWithoutIdsPlaysAGame) {
  FakeClock clock;
  Table table(&clock);
  ASSERT_THAT(table.game(1).Submit(MakeStart("a", 500, false, ""), clock.Read()),
              HasPhase(CommandPhase::kApplied));
  clock.Advance(Ms(10));
  ASSERT_THAT(table.game(0).Submit(MakeStart("b", 500, true, ""), clock.Read()),
              HasPhase(CommandPhase::kApplied));
  table.RunUntil(Ms(10) + Ms(500 * 9));
  ASSERT_EQ(table.sent().size(), 10u);
  for (const SentPing& ping : table.sent()) EXPECT_EQ(ping.verdict, PingVerdict::kAccepted);
  EXPECT_EQ(table.game(0).Snapshot(clock.Read()).game_id, kGeneratedId);
  EXPECT_EQ(table.game(1).Snapshot(clock.Read()).game_id, kGeneratedId);
}

TEST(TwoGamesTest, PauseAndResumeTogetherKeepTheRhythm) {
  FakeClock clock;
  Table table(&clock);
  for (int i : {1, 0}) {
    ASSERT_THAT(table.game(i).Submit(MakeStart("s", 1000, i == 0), clock.Read()),
                HasPhase(CommandPhase::kApplied));
  }
  table.RunUntil(Ms(2300));  // seq 1 at 0, 2 at 1000, 3 at 2000; second holds 4 due at 3000
  ASSERT_EQ(table.sent().size(), 3u);
  const absl::Time pause_at = clock.WallNow() + Ms(100);
  for (int i : {0, 1}) {
    ASSERT_THAT(table.game(i).Submit(MakeCommand("p", CommandKind::kPause, pause_at), clock.Read()),
                HasPhase(CommandPhase::kScheduled));
  }
  table.RunUntil(absl::Seconds(60));
  ASSERT_EQ(table.sent().size(), 3u);
  EXPECT_EQ(table.game(0).Snapshot(clock.Read()).ball, Ball::kAtPeer);
  EXPECT_THAT(table.game(1).Snapshot(clock.Read()).time_left, Optional(Ms(600)));

  const absl::Time resume_at = clock.WallNow() + Ms(100);
  for (int i : {0, 1}) {
    ASSERT_THAT(
        table.game(i).Submit(MakeCommand("r", CommandKind::kResume, resume_at), clock.Read()),
        HasPhase(CommandPhase::kScheduled));
  }
  table.RunUntil(absl::Seconds(60) + Ms(100 + 600 + 1000));
  const std::vector<SentPing>& sent = table.sent();
  ASSERT_EQ(sent.size(), 5u);
  EXPECT_EQ(sent[3].seq, 4u);
  EXPECT_EQ(sent[3].from, 1);
  EXPECT_EQ(sent[3].at, absl::Seconds(60) + Ms(700));
  EXPECT_EQ(sent[4].seq, 5u);
  EXPECT_EQ(sent[4].from, 0);
  EXPECT_EQ(sent[4].at, absl::Seconds(60) + Ms(1700));
}

TEST(TwoGamesTest, RetriedSeqIsAnsweredAsADuplicateAndOneBallRemains) {
  FakeClock clock;
  Game first([] { return std::string(kGeneratedId); }, nullptr);
  Game second([] { return std::string(kGeneratedId); }, nullptr);
  ASSERT_TRUE(second.Submit(MakeStart("s", 1000, false), clock.Read()).ok());
  ASSERT_TRUE(first.Submit(MakeStart("s", 1000, true), clock.Read()).ok());
  const std::optional<OutboundPing> one = first.TakePingToSend(clock.Read());
  ASSERT_TRUE(one.has_value());
  ASSERT_EQ(second.OnPing(one->ping, clock.Read()).kind, PingVerdict::kAccepted);
  first.OnSendResult(*one, Failed(), clock.Read(), 0.5);  // the pong was lost

  clock.Advance(Ms(20));
  first.Advance(clock.Read());
  const std::optional<OutboundPing> retry = first.TakePingToSend(clock.Read());
  ASSERT_TRUE(retry.has_value());
  EXPECT_EQ(retry->ping.seq, 1u);
  EXPECT_EQ(second.OnPing(retry->ping, clock.Read()).kind, PingVerdict::kDuplicate);
  first.OnSendResult(*retry, Delivered(), clock.Read(), 0.5);

  const GameSnapshot a = first.Snapshot(clock.Read());
  const GameSnapshot b = second.Snapshot(clock.Read());
  EXPECT_EQ(a.ball, Ball::kAtPeer);
  EXPECT_EQ(b.ball, Ball::kHeld);
  EXPECT_EQ(b.pings_received, 1u);
  EXPECT_EQ(b.duplicate_pings, 1u);
  EXPECT_EQ(Offset(second.NextPingDeadline()), Ms(1000));  // from the first arrival
}

TEST(TwoGamesTest, BothServingRefuseEachOthersSeqOneWhenThePingsCross) {
  FakeClock clock;
  Game first([] { return std::string(kGeneratedId); }, nullptr);
  Game second([] { return std::string(kGeneratedId); }, nullptr);
  ASSERT_TRUE(first.Submit(MakeStart("s", 1000, true), clock.Read()).ok());
  ASSERT_TRUE(second.Submit(MakeStart("s", 1000, true), clock.Read()).ok());
  const std::optional<OutboundPing> from_first = first.TakePingToSend(clock.Read());
  const std::optional<OutboundPing> from_second = second.TakePingToSend(clock.Read());
  ASSERT_TRUE(from_first.has_value());
  ASSERT_TRUE(from_second.has_value());
  EXPECT_EQ(second.OnPing(from_first->ping, clock.Read()).kind, PingVerdict::kRefused);
  EXPECT_EQ(first.OnPing(from_second->ping, clock.Read()).kind, PingVerdict::kRefused);
  EXPECT_EQ(first.Snapshot(clock.Read()).duplicate_pings, 0u);
  EXPECT_EQ(second.Snapshot(clock.Read()).duplicate_pings, 0u);
}

TEST(TwoGamesTest, BothServingRefuseEachOthersSeqOneBeforeSending) {
  FakeClock clock;
  Game first([] { return std::string(kGeneratedId); }, nullptr);
  Game second([] { return std::string(kGeneratedId); }, nullptr);
  ASSERT_TRUE(first.Submit(MakeStart("s", 1000, true), clock.Read()).ok());
  ASSERT_TRUE(second.Submit(MakeStart("s", 1000, true), clock.Read()).ok());
  const std::optional<OutboundPing> from_first = first.TakePingToSend(clock.Read());
  ASSERT_TRUE(from_first.has_value());
  EXPECT_EQ(second.OnPing(from_first->ping, clock.Read()).kind, PingVerdict::kRefused);
  const GameSnapshot s = second.Snapshot(clock.Read());
  EXPECT_EQ(s.pings_received, 0u);
  EXPECT_EQ(s.rejected_pings, 1u);
  const std::optional<OutboundPing> from_second = second.TakePingToSend(clock.Read());
  ASSERT_TRUE(from_second.has_value());
  EXPECT_EQ(from_second->ping.seq, 1u);
}

TEST(TwoGamesTest, AnInstanceRestartedMidGameRejoinsAndTheGameGoesOn) {
  FakeClock clock;
  Table table(&clock);
  ASSERT_TRUE(table.game(1).Submit(MakeStart("s", 100, false), clock.Read()).ok());
  ASSERT_TRUE(table.game(0).Submit(MakeStart("s", 100, true), clock.Read()).ok());
  table.RunUntil(Ms(350));  // seqs 1..4; first holds seq 5 until 400 ms
  ASSERT_EQ(table.sent().size(), 4u);
  table.Restart(1);
  table.RunUntil(Ms(1450));
  const std::vector<SentPing>& sent = table.sent();
  ASSERT_EQ(sent.size(), 15u);
  for (size_t i = 0; i < sent.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(sent[i].seq, i + 1);
    EXPECT_EQ(sent[i].from, sent[i].seq % 2 == 1 ? 0 : 1);
    EXPECT_EQ(sent[i].at, Ms(100) * static_cast<int64_t>(i));
    EXPECT_EQ(sent[i].verdict, PingVerdict::kAccepted);
  }
  const GameSnapshot rejoined = table.game(1).Snapshot(clock.Read());
  EXPECT_EQ(rejoined.state, GameState::kRunning);
  EXPECT_EQ(rejoined.game_id, kGameA);
  EXPECT_FALSE(rejoined.serve);
}

TEST(TwoGamesTest, AStopThatReachedOneInstanceOnlyEndsTheGameOnBoth) {
  FakeClock clock;
  Table table(&clock);
  ASSERT_TRUE(table.game(1).Submit(MakeStart("s", 100, false), clock.Read()).ok());
  ASSERT_TRUE(table.game(0).Submit(MakeStart("s", 100, true), clock.Read()).ok());
  table.RunUntil(Ms(250));  // second holds seq 4 until 300 ms
  ASSERT_TRUE(table.game(0).Submit(MakeCommand("x", CommandKind::kStop), clock.Read()).ok());
  table.RunUntil(Ms(2000));
  ASSERT_EQ(table.sent().size(), 4u);
  EXPECT_EQ(table.sent().back().verdict, PingVerdict::kRefused);
  for (int i : {0, 1}) EXPECT_EQ(table.game(i).state(), GameState::kIdle);
}

TEST(TwoGamesTest, AHolderRestartedAfterTheBallWasLostRejoinsThroughAProbe) {
  FakeClock clock;
  Table table(&clock);
  ASSERT_TRUE(table.game(1).Submit(MakeStart("s", 100, false), clock.Read()).ok());
  ASSERT_TRUE(table.game(0).Submit(MakeStart("s", 100, true), clock.Read()).ok());
  table.RunUntil(Ms(350));  // seqs 1..4; first holds seq 5 until 400 ms
  ASSERT_EQ(table.sent().size(), 4u);
  table.SetDown(0, true);  // first dies holding the ball
  table.Restart(0);
  table.RunUntil(Ms(3000));
  EXPECT_EQ(table.game(1).Snapshot(clock.Read()).ball, Ball::kLost);
  table.SetDown(0, false);  // and comes back, knowing nothing
  table.RunUntil(Ms(5000));
  const std::vector<SentPing>& sent = table.sent();
  ASSERT_GE(sent.size(), 10u);
  // The probe is second's seq 4 again; first rejoins with it and serves seq 5 on.
  EXPECT_EQ(sent[4].from, 1);
  EXPECT_EQ(sent[4].seq, 4u);
  EXPECT_EQ(sent[4].verdict, PingVerdict::kAccepted);
  for (size_t i = 5; i < sent.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(sent[i].seq, i);
    EXPECT_EQ(sent[i].from, sent[i].seq % 2 == 1 ? 0 : 1);
    EXPECT_EQ(sent[i].verdict, PingVerdict::kAccepted);
    EXPECT_EQ(sent[i].at - sent[i - 1].at, Ms(100));
  }
  EXPECT_LE(sent[4].at, Ms(4000));  // within the retry cap of its return
  EXPECT_EQ(table.game(0).Snapshot(clock.Read()).game_id, kGameA);
}

TEST(TwoGamesTest, AStopThatReachedOnlyTheHolderEndsTheGameOnBothThroughAProbe) {
  FakeClock clock;
  Table table(&clock);
  ASSERT_TRUE(table.game(1).Submit(MakeStart("s", 100, false), clock.Read()).ok());
  ASSERT_TRUE(table.game(0).Submit(MakeStart("s", 100, true), clock.Read()).ok());
  table.RunUntil(Ms(350));  // first holds seq 5
  ASSERT_TRUE(table.game(0).Submit(MakeCommand("x", CommandKind::kStop), clock.Read()).ok());
  table.RunUntil(Ms(2000) + Ms(400) - Ms(1));
  EXPECT_EQ(table.game(1).state(), GameState::kRunning);  // lost at 300 + 100 + 2000 ms
  table.RunUntil(Ms(2400));
  for (int i : {0, 1}) EXPECT_EQ(table.game(i).state(), GameState::kIdle);
}

}  // namespace
}  // namespace pong
