// The two real binaries on free ports, driven by the real pong-cli, checked through
// their logs, their status and their HTTP plane.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <httplib.h>

#include <algorithm>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/pong_pair.h"
#include "tests/support/grpc_json_client.h"

namespace pong::testing {
namespace {

using ::testing::HasSubstr;

constexpr auto kGameTimeout = std::chrono::seconds(10);

bool IsState(const Instance& instance, v1::GameState state) {
  return instance.Status().state() == state;
}

uint64_t Seq(const Instance& instance) { return instance.Status().last_seq(); }

class PairTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(pair_.ok()) << "the two servers did not start"; }

  void StartGame(int pong_time_ms) {
    const RunResult r = pair_.Cli({"start", std::to_string(pong_time_ms)});
    ASSERT_EQ(r.exit_code, 0) << Describe(r);
  }

  void WaitForSeq(uint64_t seq) {
    ASSERT_TRUE(
        WaitFor([&] { return Seq(pair_.first) >= seq && Seq(pair_.second) >= seq; }, kGameTimeout))
        << "seq " << seq << " not reached; first at " << Seq(pair_.first) << ", second at "
        << Seq(pair_.second);
  }

  PongPair pair_;
};

TEST_F(PairTest, PingsAlternateFromFirstAtTheInterval) {
  StartGame(50);
  WaitForSeq(8);
  ASSERT_EQ(pair_.Cli({"stop"}).exit_code, 0);

  const std::vector<uint64_t> first_sent = Sent(pair_.first);
  const std::vector<uint64_t> second_sent = Sent(pair_.second);
  ASSERT_GE(first_sent.size(), 4u);
  ASSERT_GE(second_sent.size(), 4u);
  EXPECT_EQ(first_sent.front(), 1u) << "the first ping is sent by the first instance";
  for (uint64_t seq : first_sent) EXPECT_EQ(seq % 2, 1u) << "first sent seq " << seq;
  for (uint64_t seq : second_sent) EXPECT_EQ(seq % 2, 0u) << "second sent seq " << seq;
  // Together, every seq exactly once: one ball, no gap, no repeat.
  std::vector<uint64_t> all = first_sent;
  all.insert(all.end(), second_sent.begin(), second_sent.end());
  std::sort(all.begin(), all.end());
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], i + 1);

  // Consecutive pings are pong_time_ms apart: never sooner (log stamps are in whole ms).
  std::vector<std::pair<absl::Time, uint64_t>> sends;
  for (const Instance* instance : {&pair_.first, &pair_.second}) {
    for (const LogLine& line : ReadLog(instance->log_path)) {
      const std::vector<uint64_t> seq = Sent({line});
      if (!seq.empty()) sends.emplace_back(line.at, seq[0]);
    }
  }
  std::sort(sends.begin(), sends.end(),
            [](const auto& a, const auto& b) { return a.second < b.second; });
  for (size_t i = 1; i < sends.size(); ++i) {
    EXPECT_GE(sends[i].first - sends[i - 1].first, absl::Milliseconds(49))
        << "seq " << sends[i].second << " came too soon after " << sends[i - 1].second;
  }
}

TEST_F(PairTest, LogsHoldALineForEveryPingSentAndReceived) {
  StartGame(20);
  WaitForSeq(10);
  ASSERT_EQ(pair_.Cli({"stop"}).exit_code, 0);
  // Every ping one instance sent, the other logged as received, and the other way round.
  // Only the last ping may instead be logged as refused: sent just before the stop's
  // effective_at, it can reach a peer whose timer applied the stop a moment earlier.
  auto accounted = [](const Instance& sender, const Instance& receiver) {
    const std::vector<uint64_t> sent = Sent(sender);
    std::vector<uint64_t> got = Received(receiver);
    const std::vector<uint64_t> refused =
        SeqsOf(ReadLog(receiver.log_path), "ping refused seq=", ": game stopped");
    if (!sent.empty() && got.size() + 1 == sent.size() && refused == std::vector{sent.back()}) {
      got.push_back(sent.back());
    }
    return !sent.empty() && got == sent;
  };
  ASSERT_TRUE(WaitFor([&] {
    return accounted(pair_.first, pair_.second) && accounted(pair_.second, pair_.first);
  })) << "first log:\n"
      << pair_.first.Log() << "\nsecond log:\n"
      << pair_.second.Log();
  const std::string first_log = pair_.first.Log();
  EXPECT_THAT(first_log, HasSubstr("pong received seq=1 rtt="));
  EXPECT_THAT(first_log, HasSubstr("applied, state RUNNING"));
}

TEST_F(PairTest, PauseFreezesTheBallAndResumeKeepsIntervalAndDirection) {
  StartGame(300);
  WaitForSeq(3);
  RunResult r = pair_.Cli({"pause"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  const v1::GameStatus first = pair_.first.Status();
  const v1::GameStatus second = pair_.second.Status();
  EXPECT_EQ(first.state(), v1::GAME_STATE_PAUSED);
  EXPECT_EQ(second.state(), v1::GAME_STATE_PAUSED);
  // One of them holds the ball, with what was left of the interval.
  const v1::GameStatus& holder = first.ball() == v1::BALL_HELD ? first : second;
  ASSERT_EQ(holder.ball(), v1::BALL_HELD) << first.DebugString() << second.DebugString();
  ASSERT_TRUE(holder.has_time_left());
  const int64_t left_ms =
      holder.time_left().seconds() * 1000 + holder.time_left().nanos() / 1000000;
  EXPECT_GE(left_ms, 0);
  EXPECT_LE(left_ms, 300);
  const uint64_t seq_at_pause = std::max(first.last_seq(), second.last_seq());

  // Nothing moves while paused (an absence: watched for longer than the interval).
  EXPECT_FALSE(WaitFor([&] { return std::max(Seq(pair_.first), Seq(pair_.second)) > seq_at_pause; },
                       std::chrono::milliseconds(900)))
      << "a ping was sent while paused";

  r = pair_.Cli({"resume"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_TRUE(IsState(pair_.first, v1::GAME_STATE_RUNNING));
  EXPECT_TRUE(IsState(pair_.second, v1::GAME_STATE_RUNNING));
  WaitForSeq(seq_at_pause + 2);
  // Same direction: the holder sent the next seq; the interval is unchanged.
  const Instance& holder_instance = &holder == &first ? pair_.first : pair_.second;
  const std::vector<uint64_t> sent = Sent(holder_instance);
  EXPECT_NE(std::find(sent.begin(), sent.end(), seq_at_pause + 1), sent.end())
      << holder.name() << " held the ball but did not send seq " << seq_at_pause + 1;
  EXPECT_EQ(pair_.first.Status().pong_time_ms(), 300);
}

TEST_F(PairTest, StopReturnsBothToIdleAndPingStillAnswers) {
  StartGame(50);
  WaitForSeq(2);
  const std::string game_id = pair_.first.Status().game_id();
  RunResult r = pair_.Cli({"stop"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_TRUE(IsState(pair_.first, v1::GAME_STATE_IDLE));
  EXPECT_TRUE(IsState(pair_.second, v1::GAME_STATE_IDLE));
  for (const Instance* instance : {&pair_.first, &pair_.second}) {
    httplib::Client http("127.0.0.1", instance->http_port);
    httplib::Result bare = http.Get("/ping");
    ASSERT_TRUE(bare);
    EXPECT_EQ(bare->status, 200);
    EXPECT_EQ(bare->body, "pong");
    httplib::Result stale = http.Get("/ping?game=" + game_id + "&seq=99&ms=50");
    ASSERT_TRUE(stale);
    EXPECT_EQ(stale->status, 409);
    EXPECT_THAT(stale->body, HasSubstr("game stopped"));
  }

  // Start again: a new game from seq 1, served by the first (only the first sends odd seqs
  // to the second, which names the game it took each ping for).
  StartGame(50);
  const std::string new_game_id = pair_.first.Status().game_id();
  EXPECT_NE(new_game_id, game_id);
  WaitForSeq(2);
  EXPECT_TRUE(pair_.second.WaitForLog("ping received seq=1 game=" + new_game_id + ","))
      << "the new game did not begin at seq 1 from the first\n"
      << pair_.second.Log();
  r = pair_.Cli({"stop"});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
}

TEST_F(PairTest, StartWhileRunningIsRefusedAndTheGameGoesOn) {
  StartGame(30);
  WaitForSeq(2);
  const std::string game_id = pair_.first.Status().game_id();
  const RunResult r = pair_.Cli({"start", "40"});
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_THAT(r.out + r.err, HasSubstr("FAILED_PRECONDITION"));
  const uint64_t seq = Seq(pair_.first);
  WaitForSeq(seq + 3);
  EXPECT_EQ(pair_.first.Status().game_id(), game_id);
  EXPECT_EQ(pair_.second.Status().pong_time_ms(), 30);
}

TEST_F(PairTest, StartWithOneInstanceDownChangesNothing) {
  pair_.second.process->Terminate();
  const RunResult r = pair_.Cli({"start", "100"});
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_THAT(r.out + r.err, HasSubstr("second"));
  EXPECT_TRUE(IsState(pair_.first, v1::GAME_STATE_IDLE));
  // And it stays so: the cancelled command never takes effect.
  EXPECT_FALSE(WaitFor([&] { return !IsState(pair_.first, v1::GAME_STATE_IDLE); },
                       std::chrono::milliseconds(2 * TestLeadMs())));
  EXPECT_EQ(pair_.first.Status().pending_command().command_id(), "");
}

TEST_F(PairTest, PauseAndResumeChainFromTheShell) {
  StartGame(100);
  WaitForSeq(1);
  for (int i = 0; i < 3; ++i) {
    RunResult r = pair_.Cli({"pause"});
    ASSERT_EQ(r.exit_code, 0) << Describe(r);
    r = pair_.Cli({"resume"});
    ASSERT_EQ(r.exit_code, 0) << Describe(r);
  }
  EXPECT_TRUE(IsState(pair_.first, v1::GAME_STATE_RUNNING));
  const RunResult status = pair_.Cli({"status"});
  EXPECT_EQ(status.exit_code, 0) << Describe(status);
  EXPECT_THAT(status.out, HasSubstr("RUNNING"));
}

// The README's grpcurl session, as grpcurl does it: descriptors through reflection,
// requests in JSON, no ids or times given.
TEST_F(PairTest, GrpcurlStyleCallsPlayAGame) {
  auto json = [](const Instance& instance) {
    return GrpcJsonClient(
        grpc::CreateChannel(instance.grpc_address(), grpc::InsecureChannelCredentials()));
  };
  GrpcJsonClient first = json(pair_.first);
  GrpcJsonClient second = json(pair_.second);
  auto call = [](GrpcJsonClient& client, const char* method, const char* request) {
    absl::StatusOr<JsonReply> reply = client.CallJson(method, request);
    EXPECT_TRUE(reply.ok()) << reply.status();
    if (!reply.ok()) return std::string();
    EXPECT_TRUE(reply->status.ok()) << method << ": " << reply->status.error_message();
    return reply->json;
  };
  absl::StatusOr<std::vector<std::string>> services = first.ListServices();
  ASSERT_TRUE(services.ok()) << services.status();
  EXPECT_THAT(*services, ::testing::Contains("pong.v1.GameControl"));
  EXPECT_THAT(*services, ::testing::Contains("grpc.health.v1.Health"));
  EXPECT_THAT(call(first, "grpc.health.v1.Health/Check", ""), HasSubstr("SERVING"));
  EXPECT_THAT(call(first, "grpc.health.v1.Health/Check", R"({"service":"pong.v1.GameControl"})"),
              HasSubstr("SERVING"));

  EXPECT_THAT(call(second, "pong.v1.GameControl/Start",
                   R"({"command_id":"demo-start-2","pong_time_ms":50})"),
              HasSubstr("COMMAND_PHASE_APPLIED"));
  EXPECT_THAT(call(first, "pong.v1.GameControl/Start",
                   R"({"command_id":"demo-start-1","pong_time_ms":50,"serve":true})"),
              HasSubstr("COMMAND_PHASE_APPLIED"));
  WaitForSeq(4);
  const std::string game_id = pair_.first.Status().game_id();
  EXPECT_EQ(game_id.size(), 32u);
  EXPECT_EQ(pair_.second.Status().game_id(), game_id) << "the second took the first's id";

  call(first, "pong.v1.GameControl/Pause", R"({"command_id":"demo-pause-1"})");
  call(second, "pong.v1.GameControl/Pause", R"({"command_id":"demo-pause-2"})");
  EXPECT_THAT(call(first, "pong.v1.GameControl/GetStatus", ""), HasSubstr("GAME_STATE_PAUSED"));
  call(first, "pong.v1.GameControl/Stop", R"({"command_id":"demo-stop"})");
  call(second, "pong.v1.GameControl/Stop", R"({"command_id":"demo-stop"})");
  EXPECT_TRUE(IsState(pair_.first, v1::GAME_STATE_IDLE));
  EXPECT_TRUE(IsState(pair_.second, v1::GAME_STATE_IDLE));
}

TEST_F(PairTest, ASecondServerOnABusyPortRefusesToStart) {
  for (const auto& [http, grpc] :
       {std::pair{pair_.first.http_port, 0}, std::pair{FreePort(), pair_.first.grpc_port}}) {
    const RunResult r =
        RunCommand({PONG_SERVER_PATH, "--name=intruder", "--http_port=" + std::to_string(http),
                    "--grpc_port=" + std::to_string(grpc), "--peer=127.0.0.1:1"});
    EXPECT_EQ(r.exit_code, 1) << Describe(r);
    EXPECT_THAT(r.err, HasSubstr("cannot listen")) << Describe(r);
  }
  EXPECT_EQ(pair_.first.Status().name(), "first");
}

TEST(ServerFlagsTest, HelpListsTheFlagsAndBadFlagsAreRefused) {
  RunResult r = RunCommand({PONG_SERVER_PATH, "--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const char* flag :
       {"--name", "--http_port", "--grpc_port", "--peer", "--log_file", "--bind", "--ports_file"}) {
    EXPECT_THAT(r.out, HasSubstr(flag));
  }
  r = RunCommand({PONG_SERVER_PATH, "--http_port=70000"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--http_port"));
  r = RunCommand({PONG_SERVER_PATH, "--peer=nope"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("HOST:PORT"));
  r = RunCommand({PONG_SERVER_PATH, "stray"});
  EXPECT_EQ(r.exit_code, 2);
  r = RunCommand({PONG_SERVER_PATH, "--http_port=abc"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("http_port"));
}

TEST_F(PairTest, ServerExitsCleanlyOnSigterm) {
  EXPECT_EQ(pair_.first.process->Terminate(), 0);
  EXPECT_THAT(pair_.first.Log(), HasSubstr("shutting down"));
  EXPECT_THAT(pair_.first.Log(), HasSubstr("stopped"));
}

}  // namespace
}  // namespace pong::testing
