// Fault 4 of issue 3 with the real binaries: the receiver got the ping, the sender never
// saw the pong. pong-server-faults (a test build of pong-server) throws away the pongs
// listed in PONG_FAULT_LOSE_PONGS after they arrived, so the peer really took the ping.
#include <optional>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/faults/lose_pongs_peer_link.h"
#include "tests/integration/faults_util.h"

namespace pong::testing {
namespace {

using ::testing::HasSubstr;

constexpr int kPongMs = 200;

int Count(const std::string& text, const std::string& part) {
  int n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

// When `instance` logged the first line that starts with `prefix`.
std::optional<absl::Time> FirstLineAt(const Instance& instance, const std::string& prefix) {
  for (const LogLine& line : ReadLog(instance.log_path)) {
    if (line.text.rfind(prefix, 0) == 0) return line.at;
  }
  return std::nullopt;
}

InstanceSetup LosingPongs(const std::string& seqs) {
  InstanceSetup setup;
  setup.server_path = PONG_SERVER_FAULTS_PATH;
  setup.env = {std::string(kLosePongsEnv) + "=" + seqs};
  return setup;
}

TEST(LostReplyTest, TheSenderRetriesTheSameSeqAndTheReceiverKeepsOneBall) {
  // The first loses the first two pongs of seq 3 and the first of seq 5; the second, the
  // first pong of seq 4.
  PongPair pair("", LosingPongs("3,3,5"), LosingPongs("4"));
  ASSERT_TRUE(pair.ok()) << "the two servers did not start";
  const RunResult start = SetUpCli(pair, {"start", std::to_string(kPongMs)});
  ASSERT_EQ(start.exit_code, 0) << start.out << start.err;
  ASSERT_TRUE(WaitFor([&] { return MaxSeq(pair) >= 8; }, std::chrono::seconds(10)))
      << BothLogs(pair);
  // Both still RUNNING, each answered every retry as a duplicate.
  const v1::GameStatus first = pair.first.Status();
  const v1::GameStatus second = pair.second.Status();
  EXPECT_EQ(first.state(), v1::GAME_STATE_RUNNING);
  EXPECT_EQ(second.state(), v1::GAME_STATE_RUNNING);
  EXPECT_EQ(second.duplicate_pings(), 3u);
  EXPECT_EQ(first.duplicate_pings(), 1u);
  EXPECT_EQ(first.rejected_pings() + second.rejected_pings(), 0u);
  const RunResult stop = SetUpCli(pair, {"stop"});
  ASSERT_EQ(stop.exit_code, 0) << stop.out << stop.err;

  const std::string first_log = pair.first.Log();
  const std::string second_log = pair.second.Log();
  SCOPED_TRACE(BothLogs(pair));
  // The sender saw the loss and sent the same seq again.
  EXPECT_THAT(first_log, HasSubstr("peer error seq=3 attempt 1: pong lost (fault hook)"));
  EXPECT_THAT(first_log, HasSubstr("peer error seq=3 attempt 2: pong lost (fault hook)"));
  EXPECT_THAT(first_log, HasSubstr("ping sent seq=3 (attempt 3)"));
  EXPECT_THAT(first_log, HasSubstr("ping sent seq=5 (attempt 2)"));
  EXPECT_THAT(second_log, HasSubstr("ping sent seq=4 (attempt 2)"));
  // The receiver answered each retry and kept one ball.
  EXPECT_EQ(Count(second_log, "ping received seq=3 again: answered, ball unchanged"), 2);
  EXPECT_EQ(Count(second_log, "ping received seq=5 again: answered, ball unchanged"), 1);
  EXPECT_EQ(Count(first_log, "ping received seq=4 again: answered, ball unchanged"), 1);
  EXPECT_EQ(OneBallProblems(pair), "");
  // The receiver's next ping left pong_time_ms after the first arrival, not after a
  // retry (the second retry of seq 3 came about 60 ms after it); never sooner, and later
  // only by what the machine adds.
  const std::optional<absl::Time> got3 = FirstLineAt(pair.second, "ping received seq=3 game=");
  const std::optional<absl::Time> sent4 = FirstLineAt(pair.second, "ping sent seq=4");
  ASSERT_TRUE(got3 && sent4);
  EXPECT_GE(*sent4 - *got3, absl::Milliseconds(kPongMs - 1));
  EXPECT_LE(*sent4 - *got3, absl::Milliseconds(kPongMs) + Scaled(absl::Milliseconds(40)));
}

}  // namespace
}  // namespace pong::testing
