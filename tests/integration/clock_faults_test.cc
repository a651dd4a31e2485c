// Fault 6 of issue 3: clocks. A command whose effective_at has passed, or lies more than
// 60 s ahead, is refused by the real server over gRPC and changes nothing; and a step of
// one instance's wall clock (+1 h, then -1 h, mid-game) does not disturb the game's
// rhythm, which runs on the monotonic clock. The step is made by an LD_PRELOAD library
// (tests/faults/clock_shift_shim.cc) in that one server process only.
#include <grpcpp/client_context.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/proto_time.h"
#include "tests/integration/faults_util.h"

namespace pong::testing {
namespace {

using ::testing::HasSubstr;

grpc::Status Pause(const Instance& instance, const std::string& id, absl::Time effective_at,
                   v1::PauseResponse* response) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + Scaled(std::chrono::seconds(5)));
  v1::PauseRequest request;
  request.set_command_id(id);
  *request.mutable_effective_at() = ToProto(effective_at);
  return instance.stub->Pause(&context, request, response);
}

TEST(ClockTest, EffectiveAtPassedOrMoreThanAMinuteAheadIsRefusedAndChangesNothing) {
  PongPair pair;
  ASSERT_TRUE(pair.ok());
  const RunResult start = SetUpCli(pair, {"start", "50"});
  ASSERT_EQ(start.exit_code, 0) << start.out << start.err;
  const v1::GameStatus before = pair.first.Status();
  v1::PauseResponse response;

  grpc::Status status = Pause(pair.first, "past", absl::Now() - absl::Seconds(1), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << status.error_message();
  status = Pause(pair.first, "far", absl::Now() + absl::Seconds(61), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("more than 1m ahead"));
  const v1::GameStatus after = pair.first.Status();
  EXPECT_EQ(after.state(), v1::GAME_STATE_RUNNING);
  EXPECT_EQ(after.game_id(), before.game_id());
  EXPECT_EQ(after.pending_command().command_id(), "");
  EXPECT_TRUE(pair.first.WaitForLog("command pause id=past rejected: DEADLINE_EXCEEDED"))
      << pair.first.Log();
  EXPECT_TRUE(pair.first.WaitForLog("command pause id=far rejected: INVALID_ARGUMENT"))
      << pair.first.Log();

  // Just inside the minute is accepted (and then cancelled).
  status = Pause(pair.first, "near", absl::Now() + absl::Seconds(59), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.result().phase(), v1::COMMAND_PHASE_SCHEDULED);
  grpc::ClientContext context;
  v1::CancelRequest cancel;
  cancel.set_command_id("near");
  v1::CancelResponse cancelled;
  ASSERT_TRUE(pair.first.stub->Cancel(&context, cancel, &cancelled).ok());
  EXPECT_EQ(cancelled.result().phase(), v1::COMMAND_PHASE_CANCELLED);
  EXPECT_EQ(SetUpCli(pair, {"stop"}).exit_code, 0);
}

// The ping events in `instance`'s log, by seq: when it sent (first time) or took each.
std::vector<std::pair<uint64_t, absl::Time>> PingEvents(const Instance& instance) {
  std::vector<std::pair<uint64_t, absl::Time>> events;
  for (const LogLine& line : ReadLog(instance.log_path)) {
    for (uint64_t seq : SeqsOf({line}, "ping sent seq=")) events.emplace_back(seq, line.at);
    for (uint64_t seq : SeqsOf({line}, "ping received seq=", " game=")) {
      events.emplace_back(seq, line.at);
    }
  }
  std::sort(events.begin(), events.end());
  return events;
}

TEST(ClockTest, AWallClockStepOfOneInstanceLeavesTheRhythmAlone) {
  constexpr int kPongMs = 100;
  TempDir dir;
  const std::string offset_file = dir.WriteFile("offset", "0\n");
  InstanceSetup shifted;
  const char* asan = std::getenv("ASAN_OPTIONS");
  shifted.env = {
      std::string("LD_PRELOAD=") + PONG_CLOCK_SHIM_PATH, "PONG_CLOCK_OFFSET_FILE=" + offset_file,
      // The sanitizer build wants its runtime first; the shim is preloaded before.
      absl::StrCat("ASAN_OPTIONS=", asan ? asan : "", asan ? ":" : "", "verify_asan_link_order=0")};
  PongPair pair("", InstanceSetup(), shifted);
  ASSERT_TRUE(pair.ok());
  const RunResult start = SetUpCli(pair, {"start", std::to_string(kPongMs)});
  ASSERT_EQ(start.exit_code, 0) << start.out << start.err;
  ASSERT_TRUE(WaitFor([&] { return MaxSeq(pair) >= 6; }, std::chrono::seconds(10)));

  // The second's wall clock jumps; its log stamps show it did (the shim works).
  auto step_to = [&](int seconds) {
    dir.WriteFile("offset", std::to_string(seconds) + "\n");
    const absl::Time expected = absl::Now() + absl::Seconds(seconds);
    return WaitFor(
        [&] {
          const std::vector<LogLine> lines = ReadLog(pair.second.log_path);
          return !lines.empty() && absl::AbsDuration(lines.back().at - expected) < absl::Minutes(1);
        },
        std::chrono::seconds(5));
  };
  const uint64_t seq_before = MaxSeq(pair);
  ASSERT_TRUE(step_to(3600)) << "the second's clock did not move +1 h\n" << BothLogs(pair);
  // While it is an hour ahead, a command from pong-cli (whose clock is right) has passed
  // its effective_at there: refused on the second, cancelled on the first, nothing changed.
  const RunResult pause = pair.Cli({"pause"});
  EXPECT_EQ(pause.exit_code, 1) << pause.out << pause.err;
  EXPECT_TRUE(pair.second.WaitForLog("rejected: DEADLINE_EXCEEDED")) << pair.second.Log();
  EXPECT_TRUE(WaitFor([&] { return MaxSeq(pair) >= seq_before + 15; }, std::chrono::seconds(5)));
  ASSERT_TRUE(step_to(-3600)) << "the second's clock did not move -1 h\n" << BothLogs(pair);
  const uint64_t seq_back = MaxSeq(pair);
  EXPECT_TRUE(WaitFor([&] { return MaxSeq(pair) >= seq_back + 15; }, std::chrono::seconds(5)));
  ASSERT_TRUE(step_to(0));
  EXPECT_EQ(pair.first.Status().state(), v1::GAME_STATE_RUNNING);
  EXPECT_EQ(pair.second.Status().state(), v1::GAME_STATE_RUNNING);
  const RunResult stop = SetUpCli(pair, {"stop"});
  EXPECT_EQ(stop.exit_code, 0) << stop.out << stop.err;

  EXPECT_EQ(OneBallProblems(pair), "") << BothLogs(pair);
  // The rhythm, seen from the first (whose clock never moved): each ping it sent or took
  // came pong_time_ms after the one before. A deadline kept on the wall clock would have
  // stalled for an hour or fired at once: never sooner, and late by less than a second (a
  // loaded machine delays a ping by 100 ms at times; a stall is an hour).
  const std::vector<std::pair<uint64_t, absl::Time>> events = PingEvents(pair.first);
  ASSERT_GE(events.size(), 40u);
  absl::Duration worst_early = absl::ZeroDuration(), worst_late = absl::ZeroDuration();
  for (size_t i = 1; i < events.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("seq ", events[i].first));
    EXPECT_EQ(events[i].first, events[i - 1].first + 1);
    const absl::Duration error =
        events[i].second - events[i - 1].second - absl::Milliseconds(kPongMs);
    worst_early = std::min(worst_early, error);
    worst_late = std::max(worst_late, error);
    EXPECT_GE(error, absl::Milliseconds(-2)) << "too soon";
    EXPECT_LE(error, Scaled(absl::Seconds(1))) << "too late";
  }
  std::cout << "[ MEASURED ] wall clock of the second stepped +1 h and -1 h mid-game: "
            << events.size() << " pings in the first's log, interval error from "
            << absl::FormatDuration(worst_early) << " to " << absl::FormatDuration(worst_late)
            << " (log stamps in whole ms)\n";
}

}  // namespace
}  // namespace pong::testing
