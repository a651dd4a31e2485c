// Fault 4 of issue 3 in the core, with the fake clock: the receiver got a ping but the
// sender never saw its pong. tests/core/game_test.cc pins a single lost reply of seq 1
// (TwoGamesTest.RetriedSeqIsAnsweredAsADuplicateAndOneBallRemains); these drive whole
// games through a link that loses replies, and one reply lost several times in a row.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/core/clock.h"
#include "server/core/game.h"
#include "server/core/ping.h"
#include "tests/core/fake_clock.h"
#include "tests/core/two_games.h"

namespace pong {
namespace {

constexpr absl::string_view kGame = "0123456789abcdef0123456789abcdef";

absl::Duration Since(MonoTime t) { return ToAbsl(t - FakeClock::kStartMono); }

Command StartCommand(int64_t pong_time_ms, bool serve) {
  Command command;
  command.command_id = "start";
  command.kind = CommandKind::kStart;
  command.pong_time_ms = pong_time_ms;
  command.serve = serve;
  command.game_id = std::string(kGame);
  return command;
}

// What one game ping met at the receiver.
struct Arrival {
  int from;  // 0 first, 1 second
  uint64_t seq;
  int attempt;
  absl::Duration at;  // since the clock's start
  PingVerdict::Kind verdict;
  bool reply_lost;
};

// Two Games joined by a link that delivers every ping at once but loses the reply (the
// pong) when `lose_reply` says so: the receiver has the ping, the sender sees a failure.
class LossyTable {
 public:
  using LoseReply = std::function<bool(const OutboundPing&)>;

  LossyTable(FakeClock* clock, LoseReply lose_reply, uint32_t seed)
      : clock_(clock), lose_reply_(std::move(lose_reply)), jitter_(seed) {}

  Game& game(int i) { return i == 0 ? first_ : second_; }
  const std::vector<Arrival>& arrivals() const { return arrivals_; }
  const std::vector<GameEvent>& events(int i) const { return events_[i]; }

  // Both started on arrival, the first serving.
  void Start(int64_t pong_time_ms) {
    for (int i : {1, 0}) {
      ASSERT_TRUE(game(i).Submit(StartCommand(pong_time_ms, i == 0), clock_->Read()).ok());
    }
  }

  // Wakes at every deadline of either game up to `until` (since the clock's start), as
  // their owners' timers would.
  void RunUntil(absl::Duration until) {
    const MonoTime end = FakeClock::kStartMono + ToChrono(until);
    if (!RunDeadlines(
            *clock_, first_, second_, end, [this] { Step(); }, 1'000'000)) {
      ADD_FAILURE() << "the games never settled";
    }
  }

 private:
  void Step() {
    const Instant now = clock_->Read();
    first_.Advance(now);
    second_.Advance(now);
    for (int from : {0, 1}) {
      Game& sender = game(from);
      while (std::optional<OutboundPing> out = sender.TakePingToSend(now)) {
        const PingVerdict verdict = game(1 - from).OnPing(out->ping, now);
        const bool lost = verdict.kind != PingVerdict::kRefused && lose_reply_(*out);
        arrivals_.push_back(
            {from, out->ping.seq, out->attempt, Since(now.mono), verdict.kind, lost});
        SendResult result{SendResult::kDelivered, std::chrono::microseconds(300), ""};
        if (lost) result = SendResult{SendResult::kFailed, {}, "Read (pong lost)"};
        if (verdict.kind == PingVerdict::kRefused) {
          result = SendResult{SendResult::kRefused, {}, verdict.reason};
        }
        sender.OnSendResult(*out, result, now, std::uniform_real_distribution<>(0, 1)(jitter_));
      }
    }
  }

  FakeClock* clock_;
  LoseReply lose_reply_;
  std::mt19937 jitter_;
  std::vector<GameEvent> events_[2];
  Game first_{[] { return std::string(kGame); },
              [this](const GameEvent& event) { events_[0].push_back(event); }};
  Game second_{[] { return std::string(kGame); },
               [this](const GameEvent& event) { events_[1].push_back(event); }};
  std::vector<Arrival> arrivals_;
};

// Losing replies at random never makes a second ball or moves the rhythm: each seq is
// taken once, by the other side, exactly pong_time_ms after the one before (the
// receiver's deadline runs from the first arrival, whatever the retries do), and every
// retry meets a duplicate.
class RandomLostRepliesTest : public ::testing::TestWithParam<std::tuple<double, uint32_t>> {};

TEST_P(RandomLostRepliesTest, OneBallContiguousSeqsAndAnUnchangedRhythm) {
  const auto [loss, seed] = GetParam();
  FakeClock clock;
  std::mt19937 rng(seed);
  bool losing = true;
  // loss by value: clang before 16 cannot capture a structured binding.
  LossyTable table(
      &clock,
      [&, loss = loss](const OutboundPing&) {
        return losing && std::bernoulli_distribution(loss)(rng);
      },
      seed + 1);
  constexpr int64_t kPongMs = 100;
  table.Start(kPongMs);
  table.RunUntil(absl::Seconds(30));
  losing = false;  // then a quiet second, after which both must agree where the ball is
  table.RunUntil(absl::Seconds(31) + absl::Milliseconds(50));

  std::vector<Arrival> accepted;
  int lost = 0;
  int duplicates = 0;
  for (const Arrival& a : table.arrivals()) {
    SCOPED_TRACE(
        absl::StrCat("seq ", a.seq, " attempt ", a.attempt, " at ", absl::FormatDuration(a.at)));
    ASSERT_NE(a.verdict, PingVerdict::kRefused) << "a retry was taken for a second ball";
    EXPECT_EQ(a.from, a.seq % 2 == 1 ? 0 : 1) << "sent by the wrong side";
    if (a.reply_lost) ++lost;
    if (a.verdict == PingVerdict::kDuplicate) {
      ++duplicates;
      EXPECT_GT(a.attempt, 1) << "only a retry can be a duplicate";
    } else {
      accepted.push_back(a);
    }
  }
  ASSERT_EQ(accepted.size(), 311u) << "seq 1 at 0 s, then one every 100 ms up to 31 s";
  for (size_t i = 0; i < accepted.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("accepted #", i));
    EXPECT_EQ(accepted[i].seq, i + 1) << "seqs taken once each, in order";
    if (i > 0) {
      EXPECT_EQ(accepted[i].from, 1 - accepted[i - 1].from) << "the same way twice in a row";
      EXPECT_EQ(accepted[i].at - accepted[i - 1].at, absl::Milliseconds(kPongMs));
    }
  }
  if (loss > 0) {
    EXPECT_GT(lost, 0);
    EXPECT_GT(duplicates, 0) << "no retry ever reached the receiver: the test proves nothing";
  }
  const uint64_t dups = table.game(0).Snapshot(clock.Read()).duplicate_pings +
                        table.game(1).Snapshot(clock.Read()).duplicate_pings;
  EXPECT_EQ(dups, static_cast<uint64_t>(duplicates));

  // After the quiet second: one holds the ball, the other knows it is at its peer.
  const GameSnapshot a = table.game(0).Snapshot(clock.Read());
  const GameSnapshot b = table.game(1).Snapshot(clock.Read());
  EXPECT_EQ(a.last_seq, b.last_seq);
  EXPECT_TRUE((a.ball == Ball::kHeld && b.ball == Ball::kAtPeer) ||
              (a.ball == Ball::kAtPeer && b.ball == Ball::kHeld))
      << ToString(a.ball) << " / " << ToString(b.ball);
  EXPECT_EQ(a.state, GameState::kRunning);
  EXPECT_EQ(b.state, GameState::kRunning);
}

INSTANTIATE_TEST_SUITE_P(Faults, RandomLostRepliesTest,
                         ::testing::Combine(::testing::Values(0.0, 0.3, 0.7, 0.95),
                                            ::testing::Values(1u, 2u, 3u)));

// One reply lost four times running: the sender backs off (20, 40, 80, 160 ms) and sends
// the same seq each time; the receiver answers pong to each, counts the duplicates, and
// its own next ping stays due pong_time_ms after the first arrival.
TEST(LostReplyTest, TheSameSeqRetriedUntilAPongGetsThroughIsOneBall) {
  FakeClock clock;
  int lost_of_seq3 = 0;
  LossyTable table(
      &clock, [&](const OutboundPing& out) { return out.ping.seq == 3 && ++lost_of_seq3 <= 4; },
      /*seed=*/7);
  table.Start(1000);
  table.RunUntil(absl::Milliseconds(2500));  // seq 3 arrived at 2000 ms; retries done by 2320

  std::vector<Arrival> of_seq3;
  for (const Arrival& a : table.arrivals()) {
    if (a.seq == 3) of_seq3.push_back(a);
  }
  ASSERT_EQ(of_seq3.size(), 5u);
  EXPECT_EQ(of_seq3[0].verdict, PingVerdict::kAccepted);
  for (size_t i = 1; i < of_seq3.size(); ++i) {
    EXPECT_EQ(of_seq3[i].verdict, PingVerdict::kDuplicate);
    EXPECT_EQ(of_seq3[i].attempt, static_cast<int>(i) + 1);
    // Backoff 20 ms doubling, +/-20 %.
    const absl::Duration gap = of_seq3[i].at - of_seq3[i - 1].at;
    const absl::Duration step = absl::Milliseconds(20 << (i - 1));
    EXPECT_GE(gap, step * 0.8);
    EXPECT_LE(gap, step * 1.2);
  }
  const GameSnapshot first = table.game(0).Snapshot(clock.Read());
  const GameSnapshot second = table.game(1).Snapshot(clock.Read());
  EXPECT_EQ(first.ball, Ball::kAtPeer);
  EXPECT_EQ(first.pings_sent, 2u) << "a retry is not a new ping";
  EXPECT_EQ(second.ball, Ball::kHeld);
  EXPECT_EQ(second.duplicate_pings, 4u);
  EXPECT_EQ(second.pings_received, 2u);
  ASSERT_TRUE(second.ball_due_at.has_value());
  EXPECT_EQ(*second.ball_due_at, FakeClock::StartWall() + absl::Milliseconds(3000));
  int answered_again = 0;
  for (const GameEvent& event : table.events(1)) {
    if (event.text == "ping received seq=3 again: answered, ball unchanged") ++answered_again;
  }
  EXPECT_EQ(answered_again, 4);

  table.RunUntil(absl::Milliseconds(3500));
  EXPECT_EQ(table.arrivals().back().seq, 4u);
  EXPECT_EQ(table.arrivals().back().at, absl::Milliseconds(3000));
  EXPECT_EQ(table.arrivals().back().verdict, PingVerdict::kAccepted);
}

// The pong of the ping before a pause is lost and the pause comes while the sender
// retries: the receiver already holds the ball (whole pong_time_ms left, as for any ping
// in flight at a pause), the sender's retry after the resume is a duplicate, and after
// the resume the receiver sends the next seq, once.
TEST(LostReplyTest, ARetryAcrossAPauseStillFindsOneBall) {
  FakeClock clock;
  bool lose = false;
  LossyTable table(
      &clock, [&](const OutboundPing&) { return lose; }, /*seed=*/9);
  table.Start(1000);
  table.RunUntil(absl::Milliseconds(1999));
  lose = true;  // seq 3 (first, at 2000 ms) reaches second; its pong does not come back
  table.RunUntil(absl::Milliseconds(2005));
  lose = false;
  Command pause;
  pause.command_id = "pause";
  pause.kind = CommandKind::kPause;
  for (int i : {0, 1}) ASSERT_TRUE(table.game(i).Submit(pause, clock.Read()).ok());
  table.RunUntil(absl::Seconds(10));
  EXPECT_EQ(table.game(1).Snapshot(clock.Read()).time_left,
            std::optional<absl::Duration>(absl::Milliseconds(995)));
  Command resume = pause;
  resume.command_id = "resume";
  resume.kind = CommandKind::kResume;
  for (int i : {0, 1}) ASSERT_TRUE(table.game(i).Submit(resume, clock.Read()).ok());
  table.RunUntil(absl::Seconds(11) + absl::Milliseconds(500));

  std::vector<uint64_t> accepted;
  for (const Arrival& a : table.arrivals()) {
    ASSERT_NE(a.verdict, PingVerdict::kRefused);
    if (a.verdict == PingVerdict::kAccepted) accepted.push_back(a.seq);
  }
  EXPECT_EQ(accepted, (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(table.arrivals().back().seq, 4u);
  EXPECT_EQ(table.arrivals().back().at, absl::Seconds(10) + absl::Milliseconds(995));
  EXPECT_GE(table.game(1).Snapshot(clock.Read()).duplicate_pings, 1u);
}

}  // namespace
}  // namespace pong
