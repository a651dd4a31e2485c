#ifndef PONG_TESTS_INTEGRATION_MISSION_UTIL_H_
#define PONG_TESTS_INTEGRATION_MISSION_UTIL_H_

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "pong/v1/pong.pb.h"
#include "tests/integration/pong_pair.h"

namespace pong::testing {

// Helpers of the end-to-end mission tests (mission_test.cc, mission_load_test.cc).

// `d` times the slowdown factor of this build ($PONG_TEST_SLOWDOWN): every wall-clock bound.
absl::Duration Scaled(absl::Duration d);
std::chrono::milliseconds ScaledMs(absl::Duration d);

// Server flags for log stamps in microseconds (both instances of a PongPair).
PairOptions MicrosLogs();

// The stamp of the first line of `lines` that contains `text`; nullopt if none does.
std::optional<absl::Time> StampOf(const std::vector<LogLine>& lines, const std::string& text);

// What `pong-cli --json <command>` reported, for the tests that judge timing.
struct CliCommand {
  int exit_code = -1;
  std::string command_id;
  // To the nanosecond, from the instances' last_command (the report's own effective_at is
  // rounded to the millisecond); nullopt if the output does not have it.
  std::optional<absl::Time> effective_at;
  std::string output;  // both streams, for failure messages
};
CliCommand RunJson(const PongPair& pair, const std::vector<std::string>& args);

// The state of both instances, e.g. "RUNNING/RUNNING", from their status. Asked again
// while one does not answer (under CPU hogs a status call can miss its 2 s deadline), for
// up to 10 s; then that one's state is UNSPECIFIED.
std::string States(const PongPair& pair);
std::string StatesOf(v1::GameState first, v1::GameState second);

}  // namespace pong::testing

#endif  // PONG_TESTS_INTEGRATION_MISSION_UTIL_H_
