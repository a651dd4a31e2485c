// Paired commands: an instance applies one only once the peer confirmed it has it too, so
// a command sent to both instances never takes effect on one alone because its sender
// died between the two, or cancelled it on one only.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/clock.h"
#include "server/core/game.h"
#include "tests/core/fake_clock.h"

namespace pong {
namespace {

using ::testing::HasSubstr;

constexpr absl::string_view kGameA = "0123456789abcdef0123456789abcdef";
constexpr absl::string_view kId = "cmd-1";

absl::Duration Ms(int64_t ms) { return absl::Milliseconds(ms); }
MonoTime MonoAt(absl::Duration offset) { return FakeClock::kStartMono + ToChrono(offset); }
absl::Time WallAt(absl::Duration offset) { return FakeClock::StartWall() + offset; }

Command Paired(CommandKind kind, absl::Duration effective, bool serve = false,
               absl::string_view id = kId) {
  Command command;
  command.command_id = std::string(id);
  command.kind = kind;
  command.effective_at = WallAt(effective);
  command.paired = true;
  if (kind == CommandKind::kStart) {
    command.pong_time_ms = 1000;
    command.serve = serve;
    command.game_id = std::string(kGameA);
  }
  return command;
}

ConfirmReply Reply(ConfirmReply::Kind kind) { return ConfirmReply{kind, "why"}; }

// One Game on a fake clock, whose peer the test plays.
class PairedCommandTest : public ::testing::Test {
 protected:
  PairedCommandTest()
      : game_([] { return std::string(kGameA); },
              [this](const GameEvent& event) { events_.push_back(event); }) {}

  Instant Now() const { return clock_.Read(); }
  void RunTo(absl::Duration t) {
    clock_.AdvanceTo(MonoAt(t));
    game_.Advance(Now());
  }
  absl::StatusOr<CommandOutcome> Submit(const Command& command) {
    return game_.Submit(command, Now());
  }
  std::optional<ConfirmAsk> Take() { return game_.TakeConfirmToSend(Now()); }
  void Answer(const ConfirmAsk& ask, ConfirmReply::Kind kind) {
    game_.OnConfirmResult(ask, Reply(kind), Now());
    game_.Advance(Now());
  }
  CommandPhase LastPhase() const {
    const GameSnapshot s = game_.Snapshot(clock_.Read());
    return s.last_command ? s.last_command->phase : CommandPhase::kScheduled;
  }
  bool Logged(GameEvent::Kind kind, absl::string_view text) const {
    return std::any_of(events_.begin(), events_.end(), [&](const GameEvent& e) {
      return e.kind == kind && absl::StrContains(e.text, text);
    });
  }

  FakeClock clock_;
  std::vector<GameEvent> events_;
  Game game_;
};

TEST_F(PairedCommandTest, APairedCommandNeedsEffectiveAt) {
  Command command = Paired(CommandKind::kStop, Ms(100));
  command.effective_at.reset();
  EXPECT_EQ(Submit(command).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(game_.Snapshot(Now()).pending.has_value());
  EXPECT_EQ(Take(), std::nullopt);
}

TEST_F(PairedCommandTest, ItAsksThePeerAtOnceAndWaitsForTheAnswerUntilEffectiveAt) {
  ASSERT_TRUE(Submit(Paired(CommandKind::kStart, Ms(100))).ok());
  EXPECT_EQ(game_.NextCommandDeadline(), MonoAt(Ms(0)));
  std::optional<ConfirmAsk> ask = Take();
  ASSERT_TRUE(ask.has_value());
  EXPECT_EQ(ask->command_id, kId);
  EXPECT_EQ(ask->kind, CommandKind::kStart);
  EXPECT_EQ(ask->effective_at, WallAt(Ms(100)));
  EXPECT_EQ(ask->wait, std::chrono::milliseconds(100));
  // One ask at a time, and no deadline while it is on its way: its answer decides.
  EXPECT_EQ(Take(), std::nullopt);
  EXPECT_EQ(game_.NextCommandDeadline(), std::nullopt);
  const GameSnapshot s = game_.Snapshot(Now());
  ASSERT_TRUE(s.pending.has_value());
  EXPECT_TRUE(s.pending->paired);
  EXPECT_FALSE(s.pending->confirmed);
}

TEST_F(PairedCommandTest, AnAskCloseToEffectiveAtStillWaitsTheMinimum) {
  ASSERT_TRUE(Submit(Paired(CommandKind::kStart, Ms(100))).ok());
  clock_.AdvanceTo(MonoAt(Ms(95)));
  std::optional<ConfirmAsk> ask = Take();
  ASSERT_TRUE(ask.has_value());
  EXPECT_EQ(ask->wait, kConfirmMinWait);
}

TEST_F(PairedCommandTest, NotYetIsAskedAgainWithBackoffUntilEffectiveAt) {
  ASSERT_TRUE(Submit(Paired(CommandKind::kStart, Ms(100))).ok());
  std::vector<int64_t> asked_at_ms;
  for (int i = 0; i < 20; ++i) {
    std::optional<MonoTime> next = game_.NextCommandDeadline();
    ASSERT_TRUE(next.has_value());
    if (*next >= MonoAt(Ms(100))) break;
    clock_.AdvanceTo(*next);
    std::optional<ConfirmAsk> ask = Take();
    ASSERT_TRUE(ask.has_value());
    asked_at_ms.push_back(absl::ToInt64Milliseconds(ToAbsl(clock_.Now() - FakeClock::kStartMono)));
    Answer(*ask, i % 2 == 0 ? ConfirmReply::kUnknown : ConfirmReply::kFailed);
  }
  // 5 ms doubling, capped at 40 ms.
  EXPECT_EQ(asked_at_ms, (std::vector<int64_t>{0, 5, 15, 35, 75}));
  EXPECT_TRUE(Logged(GameEvent::kPeerError, "asking again in"));
}

TEST_F(PairedCommandTest, NeverConfirmedItIsDroppedAtEffectiveAtAndChangesNothing) {
  ASSERT_TRUE(Submit(Paired(CommandKind::kStart, Ms(100))).ok());
  std::optional<ConfirmAsk> ask = Take();
  ASSERT_TRUE(ask.has_value());
  Answer(*ask, ConfirmReply::kUnknown);  // the sender died before the peer got it
  RunTo(Ms(100));
  EXPECT_EQ(game_.state(), GameState::kIdle);
  EXPECT_EQ(LastPhase(), CommandPhase::kDropped);
  EXPECT_FALSE(game_.Snapshot(Now()).pending.has_value());
  EXPECT_EQ(game_.NextCommandDeadline(), std::nullopt);
  EXPECT_TRUE(Logged(GameEvent::kCommandDropped, "the peer did not confirm it"));
  // Its id keeps its fate: the same command again says so, a cancel changes nothing.
  EXPECT_EQ(Submit(Paired(CommandKind::kStart, Ms(100)))->phase, CommandPhase::kDropped);
  EXPECT_EQ(game_.Cancel(kId, Now())->phase, CommandPhase::kDropped);
}

TEST_F(PairedCommandTest, ACancelAfterEffectiveAtFindsAnUnconfirmedOneDropped) {
  ASSERT_TRUE(Submit(Paired(CommandKind::kStart, Ms(100))).ok());
  std::optional<ConfirmAsk> ask = Take();
  ASSERT_TRUE(ask.has_value());
  Answer(*ask, ConfirmReply::kUnknown);
  clock_.AdvanceTo(MonoAt(Ms(101)));  // the owner's timer has not fired yet
  const absl::StatusOr<CommandOutcome> cancel = game_.Cancel(kId, Now());
  ASSERT_TRUE(cancel.ok()) << cancel.status();
  EXPECT_EQ(cancel->phase, CommandPhase::kDropped);
  EXPECT_EQ(game_.state(), GameState::kIdle);
}

TEST_F(PairedCommandTest, ConfirmedByTheAnswerItTakesEffectAndCanNoLongerBeCancelled) {
  ASSERT_TRUE(Submit(Paired(CommandKind::kStart, Ms(100))).ok());
  std::optional<ConfirmAsk> ask = Take();
  ASSERT_TRUE(ask.has_value());
  Answer(*ask, ConfirmReply::kConfirmed);
  EXPECT_TRUE(game_.Snapshot(Now()).pending->confirmed);
  EXPECT_EQ(game_.NextCommandDeadline(), MonoAt(Ms(100)));
  EXPECT_EQ(Take(), std::nullopt);
  const absl::StatusOr<CommandOutcome> cancel = game_.Cancel(kId, Now());
  EXPECT_EQ(cancel.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(cancel.status().message(), HasSubstr("confirmed by both instances"));
  RunTo(Ms(99));
  EXPECT_EQ(game_.state(), GameState::kIdle);
  RunTo(Ms(100));
  EXPECT_EQ(game_.state(), GameState::kRunning);
  EXPECT_EQ(LastPhase(), CommandPhase::kApplied);
}

TEST_F(PairedCommandTest, ConfirmedByThePeersAskItTakesEffect) {
  ASSERT_TRUE(Submit(Paired(CommandKind::kStart, Ms(100))).ok());
  std::optional<ConfirmAsk> ask = Take();
  ASSERT_TRUE(ask.has_value());
  Answer(*ask, ConfirmReply::kUnknown);  // we were first
  const ConfirmReply reply = game_.OnConfirmAsk(*ask, Now());
  EXPECT_EQ(reply.kind, ConfirmReply::kConfirmed);
  EXPECT_TRUE(Logged(GameEvent::kCommandConfirmed, "by the peer's ask"));
  EXPECT_EQ(Take(), std::nullopt);  // nothing more to ask
  EXPECT_EQ(game_.Cancel(kId, Now()).status().code(), absl::StatusCode::kFailedPrecondition);
  RunTo(Ms(100));
  EXPECT_EQ(game_.state(), GameState::kRunning);
}

TEST_F(PairedCommandTest, ACancelWhileTheAskIsOnItsWayWaitsForTheAnswer) {
  ASSERT_TRUE(Submit(Paired(CommandKind::kStart, Ms(100))).ok());
  std::optional<ConfirmAsk> ask = Take();
  ASSERT_TRUE(ask.has_value());
  EXPECT_EQ(game_.Cancel(kId, Now()).status().code(), absl::StatusCode::kUnavailable);
  Answer(*ask, ConfirmReply::kUnknown);
  const absl::StatusOr<CommandOutcome> cancel = game_.Cancel(kId, Now());
  ASSERT_TRUE(cancel.ok()) << cancel.status();
  EXPECT_EQ(cancel->phase, CommandPhase::kCancelled);
  // The peer asking now learns it was cancelled: it drops its own copy.
  EXPECT_EQ(game_.OnConfirmAsk(*ask, Now()).kind, ConfirmReply::kRefused);
}

TEST_F(PairedCommandTest, AnAskStillOnItsWayAtEffectiveAtDecidesLate) {
  FakeClock clock;
  for (const auto& [reply, state, phase] :
       {std::tuple{ConfirmReply::kConfirmed, GameState::kRunning, CommandPhase::kApplied},
        std::tuple{ConfirmReply::kFailed, GameState::kIdle, CommandPhase::kDropped},
        std::tuple{ConfirmReply::kRefused, GameState::kIdle, CommandPhase::kDropped}}) {
    Game game([] { return std::string(kGameA); }, nullptr);
    const absl::Duration base = ToAbsl(clock.Now() - FakeClock::kStartMono);
    Command command = Paired(CommandKind::kStart, base + Ms(100));
    ASSERT_TRUE(game.Submit(command, clock.Read()).ok());
    std::optional<ConfirmAsk> ask = game.TakeConfirmToSend(clock.Read());
    ASSERT_TRUE(ask.has_value());
    clock.AdvanceTo(MonoAt(base + Ms(105)));
    game.Advance(clock.Read());
    // Undecided while the answer is out: neither applied nor dropped.
    EXPECT_EQ(game.state(), GameState::kIdle);
    EXPECT_TRUE(game.Snapshot(clock.Read()).pending.has_value());
    game.OnConfirmResult(*ask, Reply(reply), clock.Read());
    game.Advance(clock.Read());
    EXPECT_EQ(game.state(), state) << reply;
    EXPECT_EQ(game.Snapshot(clock.Read()).last_command->phase, phase) << reply;
    clock.Advance(Ms(1000));
  }
}

TEST_F(PairedCommandTest, RefusedByThePeerItIsNotAskedAgainAndDroppedAtEffectiveAt) {
  ASSERT_TRUE(Submit(Paired(CommandKind::kStart, Ms(100))).ok());
  std::optional<ConfirmAsk> ask = Take();
  ASSERT_TRUE(ask.has_value());
  Answer(*ask, ConfirmReply::kRefused);
  EXPECT_EQ(game_.NextCommandDeadline(), MonoAt(Ms(100)));
  RunTo(Ms(50));
  EXPECT_EQ(Take(), std::nullopt);
  RunTo(Ms(100));
  EXPECT_EQ(LastPhase(), CommandPhase::kDropped);
  EXPECT_EQ(game_.state(), GameState::kIdle);
}

TEST_F(PairedCommandTest, ThePeersAskIsAnsweredFromWhatThisInstanceKnows) {
  const ConfirmAsk start{std::string(kId), CommandKind::kStart, WallAt(Ms(100)), {}};
  EXPECT_EQ(game_.OnConfirmAsk(start, Now()).kind, ConfirmReply::kUnknown);

  // Unpaired here: a grpcurl user's own command is not confirmed for a pong-cli's.
  Command unpaired = Paired(CommandKind::kStart, Ms(100));
  unpaired.paired = false;
  ASSERT_TRUE(Submit(unpaired).ok());
  EXPECT_EQ(game_.OnConfirmAsk(start, Now()).kind, ConfirmReply::kRefused);
  ASSERT_TRUE(game_.Cancel(kId, Now()).ok());
  EXPECT_THAT(game_.OnConfirmAsk(start, Now()).reason, HasSubstr("was cancelled here"));

  ASSERT_TRUE(Submit(Paired(CommandKind::kStart, Ms(100), false, "cmd-2")).ok());
  ConfirmAsk other = start;
  other.command_id = "cmd-2";
  other.kind = CommandKind::kStop;  // same id, another kind
  EXPECT_THAT(game_.OnConfirmAsk(other, Now()),
              ::testing::Field(&ConfirmReply::kind, ConfirmReply::kRefused));
  other.kind = CommandKind::kStart;
  other.effective_at = WallAt(Ms(101));  // same id, another instant
  EXPECT_EQ(game_.OnConfirmAsk(other, Now()).kind, ConfirmReply::kRefused);
  EXPECT_FALSE(game_.Snapshot(Now()).pending->confirmed);  // none of these confirmed it
  other.effective_at = WallAt(Ms(100));
  EXPECT_EQ(game_.OnConfirmAsk(other, Now()).kind, ConfirmReply::kConfirmed);
  RunTo(Ms(100));
  ASSERT_EQ(game_.state(), GameState::kRunning);
  // In effect here: a late ask of it is confirmed, so the peer applies it too.
  EXPECT_EQ(game_.OnConfirmAsk(other, Now()).kind, ConfirmReply::kConfirmed);

  // A rejected one (a start while running) is refused.
  ASSERT_FALSE(Submit(Paired(CommandKind::kStart, Ms(200), false, "cmd-3")).ok());
  other.command_id = "cmd-3";
  other.effective_at = WallAt(Ms(200));
  EXPECT_THAT(game_.OnConfirmAsk(other, Now()).reason, HasSubstr("was rejected here"));
  // A no-op one (a resume while running) is in effect: confirmed.
  ASSERT_EQ(Submit(Paired(CommandKind::kResume, Ms(200), false, "cmd-4"))->phase,
            CommandPhase::kNoOp);
  other.command_id = "cmd-4";
  other.kind = CommandKind::kResume;
  EXPECT_EQ(game_.OnConfirmAsk(other, Now()).kind, ConfirmReply::kConfirmed);
}

TEST_F(PairedCommandTest, ThePeersFirstPingConfirmsAPendingStart) {
  // The serving peer applied the start, which it does only once confirmed with us; its
  // first ping may come a wake-up before our own timer fires (kEarlyStart).
  ASSERT_TRUE(Submit(Paired(CommandKind::kStart, Ms(100))).ok());
  std::optional<ConfirmAsk> ask = Take();
  ASSERT_TRUE(ask.has_value());
  clock_.AdvanceTo(MonoAt(Ms(99)));
  EXPECT_EQ(game_.OnPing(GamePing{std::string(kGameA), 1, 1000}, Now()).kind,
            PingVerdict::kAccepted);
  EXPECT_EQ(game_.state(), GameState::kRunning);
  EXPECT_TRUE(Logged(GameEvent::kCommandConfirmed, "by the peer's first ping"));
  Answer(*ask, ConfirmReply::kFailed);  // the old ask's answer changes nothing now
  EXPECT_EQ(game_.state(), GameState::kRunning);
  EXPECT_EQ(LastPhase(), CommandPhase::kApplied);
}

// Two instances, one fake clock, a link that carries asks and answers with a random
// delay, and a sender (pong-cli) that reaches one, both or neither in random order at
// random moments, may die, and may cancel on either. Whatever happens, both instances
// end in the same state, and every answer the sender got told the truth.
class Pair {
 public:
  explicit Pair(uint32_t seed) : rng_(seed) {
    games_.reserve(2);
    for (int i = 0; i < 2; ++i) games_.emplace_back([] { return std::string(kGameA); }, nullptr);
  }

  FakeClock clock;

  // Runs `fn` at `at` (offset from the clock's start).
  void At(absl::Duration at, std::function<void()> fn) {
    events_.emplace(std::pair{MonoAt(at), next_++}, std::move(fn));
  }
  absl::Duration Delay(int max_us) {
    return absl::Microseconds(std::uniform_int_distribution<int>(0, max_us)(rng_));
  }
  Game& game(int i) { return games_[static_cast<size_t>(i)]; }

  // Runs every event, the asks the games make and their deadlines, up to `end`.
  void RunUntil(absl::Duration end) {
    while (true) {
      Pump();
      std::optional<MonoTime> next;
      if (!events_.empty()) next = events_.begin()->first.first;
      for (Game& g : games_) {
        std::optional<MonoTime> d = g.NextCommandDeadline();
        if (d && (!next || *d < *next)) next = d;
      }
      if (!next || *next > MonoAt(end)) break;
      clock.AdvanceTo(*next);
      if (!events_.empty() && events_.begin()->first.first <= clock.Now()) {
        std::function<void()> fn = std::move(events_.begin()->second);
        events_.erase(events_.begin());
        fn();
      }
      for (Game& g : games_) g.Advance(clock.Read());
    }
    clock.AdvanceTo(MonoAt(end));
    for (Game& g : games_) g.Advance(clock.Read());
  }

 private:
  // Sends the asks that are due: the peer gets each after a delay, its answer comes back
  // after another (or is lost, with loss_ set).
  void Pump() {
    for (int i = 0; i < 2; ++i) {
      while (std::optional<ConfirmAsk> ask = game(i).TakeConfirmToSend(clock.Read())) {
        const absl::Duration now = ToAbsl(clock.Now() - FakeClock::kStartMono);
        const absl::Duration there = now + Delay(3000);
        const absl::Duration back = there + Delay(3000);
        At(there, [this, i, ask = *ask, back] {
          const ConfirmReply reply = game(1 - i).OnConfirmAsk(ask, clock.Read());
          At(back, [this, i, ask, reply] { game(i).OnConfirmResult(ask, reply, clock.Read()); });
        });
      }
    }
  }

  std::mt19937 rng_;
  std::vector<Game> games_;
  std::map<std::pair<MonoTime, int>, std::function<void()>> events_;
  int next_ = 0;
};

TEST(PairedCommandPairTest, WhateverTheSenderDoesBothInstancesAgree) {
  int both_applied = 0;
  int neither = 0;
  int cancelled_in_time = 0;
  int cancel_too_late = 0;
  for (uint32_t seed = 1; seed <= 3000; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    Pair pair(seed);
    std::mt19937 rng(seed * 7919);
    auto chance = [&](double p) { return std::bernoulli_distribution(p)(rng); };
    auto ms = [&](int lo, int hi) {
      return absl::Microseconds(std::uniform_int_distribution<int>(lo * 1000, hi * 1000)(rng));
    };
    const absl::Duration effective = Ms(100);
    // The sender reaches each instance (or dies before) at a random moment, and may
    // cancel on each (as pong-cli does when the other refused or did not answer).
    std::vector<absl::StatusOr<CommandOutcome>> submitted(2, absl::UnknownError("not sent"));
    std::vector<std::optional<absl::StatusOr<CommandOutcome>>> cancelled(2);
    std::vector<std::function<void()>> cancels(2);
    for (int i = 0; i < 2; ++i) {
      if (chance(0.85)) {
        pair.At(ms(0, 105), [&pair, &submitted, i, effective] {
          submitted[static_cast<size_t>(i)] = pair.game(i).Submit(
              Paired(CommandKind::kStart, effective, i == 0), pair.clock.Read());
        });
      }
      if (chance(0.4)) {
        // A cancel that meets an ask on its way is asked again a moment later, as the
        // engine does.
        const size_t at = static_cast<size_t>(i);
        cancels[at] = [&pair, &cancelled, &cancels, i, at] {
          absl::StatusOr<CommandOutcome> result = pair.game(i).Cancel(kId, pair.clock.Read());
          if (result.status().code() == absl::StatusCode::kUnavailable) {
            pair.At(ToAbsl(pair.clock.Now() - FakeClock::kStartMono) + Ms(1), cancels[at]);
            return;
          }
          cancelled[at] = result;
        };
        pair.At(ms(0, 110), cancels[at]);
      }
    }
    pair.RunUntil(Ms(300));
    const GameState first = pair.game(0).state();
    const GameState second = pair.game(1).state();
    ASSERT_EQ(first, second);
    const bool applied = first == GameState::kRunning;
    (applied ? both_applied : neither)++;
    for (int i = 0; i < 2; ++i) {
      const auto& c = cancelled[static_cast<size_t>(i)];
      if (!c) continue;
      if (c->ok() && (*c)->phase == CommandPhase::kCancelled) {
        ++cancelled_in_time;
        EXPECT_FALSE(applied) << "a cancel said CANCELLED, yet the command took effect";
      }
      if (c->status().code() == absl::StatusCode::kFailedPrecondition) {
        ++cancel_too_late;
        EXPECT_TRUE(applied) << "a cancel said too late, yet the command did not take effect";
      }
    }
    for (int i = 0; i < 2; ++i) {
      const auto& s = submitted[static_cast<size_t>(i)];
      if (s.ok() && applied) {
        EXPECT_EQ(pair.game(i).Snapshot(pair.clock.Read()).last_command->phase,
                  CommandPhase::kApplied);
      }
    }
  }
  std::cout << "[ MEASURED ] both applied " << both_applied << ", neither " << neither
            << ", cancelled in time " << cancelled_in_time << ", cancel too late "
            << cancel_too_late << "\n";
  // The sweep reaches every kind of ending.
  EXPECT_GT(both_applied, 100);
  EXPECT_GT(neither, 100);
  EXPECT_GT(cancelled_in_time, 50);
  EXPECT_GT(cancel_too_late, 50);
}

}  // namespace
}  // namespace pong
