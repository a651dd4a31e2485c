// The real pong-cli against arguments no one should pass: each is a usage error (exit 2)
// with one line on stderr, before any instance is contacted.
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/process.h"

namespace pong::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

struct Hostile {
  std::vector<std::string> args;
  std::string message;  // a part of the one line
};

void PrintTo(const Hostile& h, std::ostream* os) {
  std::string shown = absl::StrJoin(h.args, " ");
  if (shown.size() > 60) shown = shown.substr(0, 60) + "...";
  *os << "pong-cli " << shown;
}

class CliHostileTest : public ::testing::TestWithParam<Hostile> {};

TEST_P(CliHostileTest, IsAUsageErrorOnOneLine) {
  // Unreachable targets: were the arguments taken, the exit would be 1, not 2.
  std::vector<std::string> argv = {PONG_CLI_PATH};
  argv.insert(argv.end(), GetParam().args.begin(), GetParam().args.end());
  const RunResult r = RunCommand(argv, std::chrono::seconds(10));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, StartsWith("pong-cli: "));
  EXPECT_THAT(r.err, HasSubstr(GetParam().message));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_LT(r.err.size(), 400u) << "an argument is not echoed at length";
}

// Linux takes arguments up to 128 KiB each.
const std::string kBig(100 * 1024, '9');

INSTANTIATE_TEST_SUITE_P(
    Cli, CliHostileTest,
    ::testing::Values(
        Hostile{{"start", "18446744073709551616"}, "pong_time_ms must be a whole number"},
        Hostile{{"start", "-9223372036854775808"}, "pong_time_ms must be a whole number"},
        Hostile{{"start", kBig}, "pong_time_ms must be a whole number"},
        Hostile{{"--lead_ms=99999999999999999999", "pause"}, "--lead_ms"},
        Hostile{{"--timeout_ms=-9223372036854775808", "status"}, "--timeout_ms"},
        Hostile{{"--first=", "status"}, "--first must be HOST:PORT"},
        Hostile{{"--second=", "status"}, "--second must be HOST:PORT"},
        Hostile{{"--first", "", "status"}, "--first must be HOST:PORT"},
        Hostile{{"--first=127.0.0.1:99999999999999999999", "status"}, "--first must be HOST:PORT"},
        Hostile{{"--first=" + std::string(5000, 'h') + ":1", "status"},
                "--first must be HOST:PORT"},
        Hostile{{"--second=" + std::string(254, 'h') + ":1", "status"},
                "--second must be HOST:PORT"},
        Hostile{{"--first=127.0.0.1:1", "--first=127.0.0.1:2", "status"},
                "--first is given more than once"},
        Hostile{{"--lead_ms=100", "pause", "--lead_ms=200"}, "--lead_ms is given more than once"},
        Hostile{{"--token_file=", "status"}, "token"},
        Hostile{{"--token_file=/nonexistent/pong.token", "status"}, "token"},
        Hostile{{"--unknown-flag", "status"}, "unknown flag"},
        Hostile{{"---first=127.0.0.1:1", "status"}, "unknown flag"},
        Hostile{{"st\xff"
                 "art",
                 "5"},
                "unknown command"},
        Hostile{{""}, "unknown command"},
        Hostile{{"status", "--json=2"}, "--json takes no value, or true or false"}));

}  // namespace
}  // namespace pong::testing
