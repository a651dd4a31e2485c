// Faults 1 and 2 of the reliability issue with the real binaries: an instance killed
// (SIGKILL) mid-game and restarted on its ports rejoins the game by itself; an instance
// whose peer died holding the ball reports the ball lost and probes for it, and either
// the restarted peer rejoins or stop + start recover.
#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/pong_pair.h"

namespace pong::testing {
namespace {

using ::testing::HasSubstr;

bool Logged(const Instance& instance, absl::string_view text) {
  return absl::StrContains(instance.Log(), text);
}

// Every seq from 1 to the last exactly once across both logs' first sends, first from
// `first` and alternating: one ball, never the same way twice in a row.
void ExpectOneBall(const Instance& first, const Instance& second) {
  std::vector<uint64_t> first_sent = Sent(first);
  std::vector<uint64_t> second_sent = Sent(second);
  for (uint64_t seq : first_sent) EXPECT_EQ(seq % 2, 1u) << "first sent seq " << seq;
  for (uint64_t seq : second_sent) EXPECT_EQ(seq % 2, 0u) << "second sent seq " << seq;
  std::vector<uint64_t> all = first_sent;
  all.insert(all.end(), second_sent.begin(), second_sent.end());
  std::sort(all.begin(), all.end());
  ASSERT_FALSE(all.empty()) << "no ping sent in either log";
  for (size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i], i + 1) << "seqs not contiguous";
}

// The "retry in X ms" of each retry the survivor logged for `seq`.
std::vector<double> RetryWaits(const Instance& instance, uint64_t seq) {
  std::vector<double> waits;
  const std::string prefix = absl::StrCat("peer error seq=", seq, " ");
  for (const LogLine& line : ReadLog(instance.log_path)) {
    if (!absl::StartsWith(line.text, prefix)) continue;
    const size_t at = line.text.rfind("retry in ");
    if (at == std::string::npos) continue;
    std::string number = line.text.substr(at + 9);
    number = number.substr(0, number.find(' '));
    double ms = 0;
    if (absl::SimpleAtod(number, &ms)) waits.push_back(ms);
  }
  return waits;
}

class RestartTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(pair_.ok()) << "the two servers did not start"; }

  // The game the faults happen to: a lead of a second, scaled, for a fresh pair whose first
  // exchange is slow in a TSan build (the two confirm the start with each other).
  void StartGame(int pong_time_ms) {
    const RunResult r = pair_.Cli({absl::StrCat("--lead_ms=", std::max(TestLeadMs(), Scaled(1000))),
                                   "start", std::to_string(pong_time_ms)});
    ASSERT_EQ(r.exit_code, 0) << Describe(r);
  }

  // Waits until first holds the ball after seq 2 as both see it: first received it and
  // second got its pong. (On a loaded machine that pong can be lost: second then still
  // holds the ball and retries seq 2, which first answers as a duplicate.)
  bool FirstHoldsSeq2() {
    return WaitFor(
        [&] {
          return Logged(pair_.first, "ping received seq=2 ") &&
                 Logged(pair_.second, "pong received seq=2 ") &&
                 pair_.second.Status().ball() == v1::BALL_AT_PEER;
        },
        std::chrono::seconds(10));
  }

  PongPair pair_;
};

TEST_F(RestartTest, AnInstanceKilledAndRestartedRejoinsTheGameWithinThreeSeconds) {
  StartGame(1000);
  // Once second has the pong for seq 2, first holds the ball for a second: kill second.
  ASSERT_TRUE(WaitFor([&] { return Logged(pair_.second, "pong received seq=2 "); },
                      std::chrono::seconds(10)))
      << pair_.second.Log();
  pair_.second.process->Kill();

  // The survivor keeps the ball, retries seq 3 with a growing, capped wait, and shows the
  // peer unreachable.
  ASSERT_TRUE(
      WaitFor([&] { return RetryWaits(pair_.first, 3).size() >= 4; }, std::chrono::seconds(10)))
      << pair_.first.Log();
  const v1::GameStatus survivor = pair_.first.Status();
  EXPECT_EQ(survivor.state(), v1::GAME_STATE_RUNNING);
  EXPECT_FALSE(survivor.peer().reachable()) << survivor.DebugString();
  EXPECT_TRUE(survivor.ball() == v1::BALL_HELD || survivor.ball() == v1::BALL_IN_FLIGHT)
      << survivor.DebugString();
  const std::vector<double> waits = RetryWaits(pair_.first, 3);
  for (size_t i = 0; i < waits.size(); ++i) {
    EXPECT_LE(waits[i], 1000.0);
    if (i > 0 && waits[i - 1] < 400) {
      EXPECT_GT(waits[i], waits[i - 1]) << "retry " << i;
    }
  }

  const auto restarted_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(pair_.StartInstance(pair_.second, pair_.first.http_port));
  // It rejoins on the next retry of seq 3, then the game goes on both ways.
  ASSERT_TRUE(
      WaitFor([&] { return Logged(pair_.second, "rejoined game "); }, std::chrono::seconds(3)))
      << pair_.second.Log();
  ASSERT_TRUE(
      WaitFor([&] { return Logged(pair_.first, "ping received seq=4 "); }, std::chrono::seconds(3)))
      << pair_.first.Log();
  ASSERT_TRUE(WaitFor([&] { return Logged(pair_.second, "ping received seq=5 "); },
                      std::chrono::seconds(3)));
  const auto back_after = std::chrono::steady_clock::now() - restarted_at;
  EXPECT_LT(back_after, Scaled(std::chrono::seconds(5)));

  EXPECT_TRUE(pair_.second.WaitForLog("at seq=3, pong_time_ms=1000")) << pair_.second.Log();
  const v1::GameStatus first = pair_.first.Status();
  const v1::GameStatus second = pair_.second.Status();
  EXPECT_EQ(second.state(), v1::GAME_STATE_RUNNING);
  EXPECT_EQ(second.game_id(), first.game_id());
  EXPECT_TRUE(first.peer().reachable());
  ExpectOneBall(pair_.first, pair_.second);
  EXPECT_EQ(pair_.Cli({"stop"}).exit_code, 0);
}

TEST_F(RestartTest, AStopThatReachedOneInstanceOnlyEndsTheGameOnBoth) {
  StartGame(200);
  ASSERT_TRUE(WaitFor([&] { return pair_.first.Status().last_seq() >= 2; }));
  // The stop goes to first alone, as if the CLI had died before reaching second.
  grpc::ClientContext context;
  v1::StopRequest request;
  request.set_command_id("stop-first-only");
  v1::StopResponse response;
  ASSERT_TRUE(pair_.first.stub->Stop(&context, request, &response).ok());
  // second's next ping is refused as "game stopped", and second ends the game too.
  // If first held the ball, second notices through its lost-ball probe: pong_time_ms + 2 s.
  ASSERT_TRUE(WaitFor([&] { return pair_.second.Status().state() == v1::GAME_STATE_IDLE; },
                      std::chrono::seconds(6)))
      << pair_.second.Log();
  EXPECT_EQ(pair_.first.Status().state(), v1::GAME_STATE_IDLE);
  EXPECT_TRUE(pair_.first.WaitForLog(": game stopped")) << pair_.first.Log();
  EXPECT_TRUE(pair_.second.WaitForLog("the game is over here too")) << pair_.second.Log();
}

TEST_F(RestartTest, AHolderThatDiesLeavesTheBallLostAndStopThenStartRecover) {
  StartGame(1000);
  // first holds the ball for a second after it received seq 2.
  ASSERT_TRUE(FirstHoldsSeq2());
  pair_.first.process->Kill();

  // After pong_time_ms + 2 s without first's ping, second reports the ball lost, and its
  // probes (seq 2 again) find first unreachable.
  ASSERT_TRUE(WaitFor([&] { return pair_.second.Status().ball() == v1::BALL_LOST; },
                      std::chrono::seconds(6)))
      << pair_.second.Status().DebugString();
  ASSERT_TRUE(WaitFor([&] { return !pair_.second.Status().peer().reachable(); }));
  EXPECT_EQ(pair_.second.Status().state(), v1::GAME_STATE_RUNNING);
  ASSERT_TRUE(WaitFor([&] { return Logged(pair_.second, "ball lost: "); }));
  EXPECT_TRUE(pair_.second.WaitForLog("pong-cli stop && pong-cli start 1000"))
      << pair_.second.Log();
  EXPECT_TRUE(WaitFor([&] { return Logged(pair_.second, "probe seq=2: "); }))
      << pair_.second.Log();  // the log is written by a thread of its own

  // pong-cli status says so, and how to recover.
  const RunResult status = pair_.Cli({"status"});
  EXPECT_THAT(status.out, HasSubstr("BALL LOST")) << Describe(status);
  EXPECT_THAT(status.err, HasSubstr("second lost the ball")) << Describe(status);
  EXPECT_THAT(status.err, HasSubstr("pong-cli stop && pong-cli start 1000"));
  // All or nothing: with first down, a stop changes nothing and says why.
  const RunResult refused = pair_.Cli({"stop"});
  EXPECT_EQ(refused.exit_code, 1) << Describe(refused);
  EXPECT_EQ(pair_.second.Status().state(), v1::GAME_STATE_RUNNING);

  // The operator restarts first, then stop + start; whether or not second's probe reached
  // the restarted first before the stop, a new game plays.
  const std::string old_game = pair_.second.Status().game_id();
  ASSERT_TRUE(pair_.StartInstance(pair_.first, pair_.second.http_port));
  const RunResult stop = pair_.Cli({"stop"});
  ASSERT_EQ(stop.exit_code, 0) << Describe(stop);
  const RunResult start = pair_.Cli({"start", "100"});
  ASSERT_EQ(start.exit_code, 0) << Describe(start);
  ASSERT_TRUE(WaitFor([&] {
    return pair_.first.Status().last_seq() >= 6 && pair_.second.Status().last_seq() >= 6;
  })) << pair_.second.Log();
  const v1::GameStatus first = pair_.first.Status();
  EXPECT_NE(first.game_id(), old_game);
  EXPECT_EQ(first.game_id(), pair_.second.Status().game_id());
  EXPECT_EQ(pair_.Cli({"stop"}).exit_code, 0);
}

TEST_F(RestartTest, AHolderRestartedRejoinsThroughTheLostBallProbe) {
  StartGame(500);
  ASSERT_TRUE(FirstHoldsSeq2());
  pair_.first.process->Kill();
  ASSERT_TRUE(WaitFor([&] { return pair_.second.Status().ball() == v1::BALL_LOST; },
                      std::chrono::seconds(6)));

  // Restarted, first knows nothing; second's next probe (its seq 2 again) makes it rejoin,
  // and it serves seq 3 pong_time_ms later: the game goes on by itself.
  ASSERT_TRUE(pair_.StartInstance(pair_.first, pair_.second.http_port));
  ASSERT_TRUE(
      WaitFor([&] { return Logged(pair_.first, "rejoined game "); }, std::chrono::seconds(3)))
      << pair_.second.Log();
  ASSERT_TRUE(WaitFor([&] { return Logged(pair_.second, "ping received seq=3 "); },
                      std::chrono::seconds(3)))
      << pair_.second.Log();
  ASSERT_TRUE(WaitFor([&] { return Logged(pair_.first, "ping received seq=4 "); },
                      std::chrono::seconds(3)));
  EXPECT_TRUE(pair_.first.WaitForLog("at seq=2, pong_time_ms=500")) << pair_.first.Log();
  EXPECT_EQ(pair_.first.Status().game_id(), pair_.second.Status().game_id());
  EXPECT_EQ(pair_.Cli({"stop"}).exit_code, 0);
}

}  // namespace
}  // namespace pong::testing
