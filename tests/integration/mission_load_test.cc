// Mission behaviours end to end that load the machine (issue 10, section 3): a game at
// pong_time_ms 0, and the control plane winning over it while CPU hogs load both cores.
// The real binaries, driven by the real pong-cli, judged from their logs and status. SERIAL.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "tests/integration/faults_util.h"
#include "tests/integration/mission_util.h"
#include "tests/support/wait.h"

namespace pong::testing {
namespace {

absl::Duration Median(std::vector<absl::Duration> values) {
  if (values.empty()) return absl::ZeroDuration();
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// Lines of a game going wrong: failed or refused pings, retries, duplicates, a lost ball,
// a log that fell behind. A ping refused because the game stopped is no error when it is
// the last one (`last_seq`): sent just before the stop, it met a peer that had applied it.
std::vector<std::string> GameErrors(const Instance& instance, uint64_t last_seq) {
  static constexpr const char* kBad[] = {"peer error", "ping refused", "ball lost",    "(attempt",
                                         " again",     "probe",        "lines dropped"};
  std::vector<std::string> errors;
  const std::string last = absl::StrCat("seq=", last_seq, ":");
  for (const LogLine& line : ReadLog(instance.log_path)) {
    if (absl::StartsWith(line.text, "command ")) continue;  // the control plane's lines
    const bool bad = std::any_of(std::begin(kBad), std::end(kBad), [&](const char* word) {
      return absl::StrContains(line.text, word);
    });
    const bool stop_race =
        absl::StrContains(line.text, last) && (absl::StrContains(line.text, "game stopped") ||
                                               absl::StrContains(line.text, "over here too"));
    if (bad && !stop_race) errors.push_back(absl::StrCat(instance.name, ": ", line.text));
  }
  return errors;
}

std::string GameErrorsOf(const PongPair& pair) {
  const uint64_t last = MaxSeq(pair);
  std::vector<std::string> errors = GameErrors(pair.first, last);
  const std::vector<std::string> second = GameErrors(pair.second, last);
  errors.insert(errors.end(), second.begin(), second.end());
  if (errors.size() > 20) errors.resize(20);
  return absl::StrJoin(errors, "\n");
}

// At pong_time_ms 0 the two play as fast as they can (tens of thousands of pings a
// second). For at least 5 s the game keeps running on both with the seq moving, then pause
// freezes it, resume goes on, stop ends it; both logs show one ball throughout (every seq
// once, odd ones from the first, even ones from the second) and no game error.
TEST(ZeroMsTest, AFullSpeedGameRunsFiveSecondsAndPausesResumesAndStops) {
  PongPair pair;
  ASSERT_TRUE(pair.ok());
  RunResult r = pair.Cli({"start", "0"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  const auto began = std::chrono::steady_clock::now();
  uint64_t seq = 0;
  // Every half second for 5 s: both RUNNING, and the ball has moved since the last look.
  for (auto next = began; next < began + std::chrono::seconds(5);) {
    next += std::chrono::milliseconds(500);
    std::this_thread::sleep_until(next);
    ASSERT_EQ(States(pair), "RUNNING/RUNNING") << GameErrorsOf(pair);
    const uint64_t now = MaxSeq(pair);
    ASSERT_GT(now, seq) << "the ball stopped moving at seq " << seq << "\n" << GameErrorsOf(pair);
    seq = now;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  std::cout << "[ MEASURED ] pong_time_ms 0: seq " << seq << " after " << seconds << " s ("
            << static_cast<int64_t>(static_cast<double>(seq) / seconds) << " pings/s)\n";

  r = pair.Cli({"pause"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  ASSERT_EQ(States(pair), "PAUSED/PAUSED");
  const uint64_t paused_at = MaxSeq(pair);
  // An absence, watched for a while: at full speed a leak would show within microseconds.
  EXPECT_FALSE(WaitFor([&] { return MaxSeq(pair) != paused_at; }, std::chrono::milliseconds(500)))
      << "the ball moved while paused";
  EXPECT_NE(pair.first.Status().ball() == v1::BALL_HELD,
            pair.second.Status().ball() == v1::BALL_HELD)
      << "exactly one holds the ball while paused";

  r = pair.Cli({"resume"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  ASSERT_EQ(States(pair), "RUNNING/RUNNING");
  EXPECT_TRUE(WaitFor([&] { return MaxSeq(pair) >= paused_at + 1000; }, ScaledMs(absl::Seconds(5))))
      << "fewer than 1000 pings in 5 s after resume";

  r = pair.Cli({"stop"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  ASSERT_EQ(States(pair), "IDLE/IDLE");
  const uint64_t stopped_at = MaxSeq(pair);
  EXPECT_FALSE(WaitFor([&] { return MaxSeq(pair) != stopped_at; }, std::chrono::milliseconds(200)));

  // The log writer is a few ms behind: wait until both logs account for the last seq.
  WaitFor([&] {
    const std::vector<FirstSend> sends = FirstSends(pair);
    return !sends.empty() && sends.back().seq >= stopped_at;
  });
  EXPECT_EQ(OneBallProblems(pair), "");
  EXPECT_EQ(GameErrorsOf(pair), "");
}

// `count` busy loops that end with this object, or after `cpu_seconds` of CPU time
// each (RLIMIT_CPU) if this process dies first.
class CpuHogs {
 public:
  CpuHogs(int count, int cpu_seconds) {
    for (int i = 0; i < count; ++i) {
      hogs_.push_back(std::make_unique<Child>(std::vector<std::string>{
          "/bin/sh", "-c", absl::StrCat("ulimit -t ", cpu_seconds, "; while :; do :; done")}));
    }
  }
  bool Running() {
    return std::all_of(hogs_.begin(), hogs_.end(), [](auto& hog) { return hog->Running(); });
  }

 private:
  std::vector<std::unique_ptr<Child>> hogs_;  // killed (SIGKILL) when they go
};

// The control plane wins over a full-speed game on a loaded machine: 20 rounds of start 0,
// pause, resume and stop while busy loops load both cores, and every pong-cli command
// succeeds (exit 0) and leaves both instances in the state it asked for. A command that
// reaches an instance after its effective_at is refused there, never applied late;
// pong-cli then tries again with a longer lead (said on stderr, counted here).
TEST(ControlUnderLoadTest, TwentyRoundsAtZeroMsWithBothCoresHoggedAllSucceed) {
  constexpr int kRounds = 20;
  PongPair pair;
  ASSERT_TRUE(pair.ok());
  // Two busy loops per core: enough that at the default lead some commands reach an
  // instance late (a few in 80 here), which pong-cli must then retry.
  CpuHogs hogs(4, 600);
  // pong-cli's default lead, what a user who types `pong-cli stop` gets (scaled for the
  // sanitizer builds), not the roomier TestLeadMs(): the test is that the default wins.
  const std::string lead = absl::StrCat("--lead_ms=", 100 * SlowdownFactor());
  struct Step {
    std::vector<std::string> args;
    const char* states;
  };
  const std::vector<Step> steps = {{{"start", "0"}, "RUNNING/RUNNING"},
                                   {{"pause"}, "PAUSED/PAUSED"},
                                   {{"resume"}, "RUNNING/RUNNING"},
                                   {{"stop"}, "IDLE/IDLE"}};
  std::vector<absl::Duration> took;
  int retries = 0;
  int retried_commands = 0;
  for (int round = 0; round < kRounds; ++round) {
    ASSERT_TRUE(hogs.Running());
    for (const Step& step : steps) {
      const std::string what = absl::StrCat("round ", round, ": ", step.args[0]);
      const absl::Time t0 = absl::Now();
      std::vector<std::string> args = {lead};
      args.insert(args.end(), step.args.begin(), step.args.end());
      const RunResult r = pair.Cli(args);
      took.push_back(absl::Now() - t0);
      ASSERT_EQ(r.exit_code, 0) << what << "\n" << Describe(r);
      int said = 0;
      for (size_t at = r.err.find("trying again"); at != std::string::npos;
           at = r.err.find("trying again", at + 1)) {
        ++said;
      }
      retries += said;
      retried_commands += said > 0;
      ASSERT_EQ(States(pair), step.states) << what << "\n" << Describe(r);
      if (step.args[0] == "start") {
        // Let the game reach full speed before it is paused.
        ASSERT_TRUE(WaitFor([&] { return MaxSeq(pair) >= 100; }, ScaledMs(absl::Seconds(5))))
            << what;
      }
    }
  }
  std::cout << "[ MEASURED ] " << took.size() << " pong-cli commands at pong_time_ms 0 with "
            << "both cores hogged: all exit 0; " << retried_commands << " needed a retry ("
            << retries << " retries in all); wall time median "
            << absl::FormatDuration(Median(took)) << ", max "
            << absl::FormatDuration(*std::max_element(took.begin(), took.end())) << "\n";
}

}  // namespace
}  // namespace pong::testing
