#include "cli/args.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pong::cli {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

EnvLookup EnvOf(std::map<std::string, std::string> vars) {
  return [vars](const char* name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

absl::StatusOr<ParsedArgs> Parse(const std::vector<std::string>& args,
                                 std::map<std::string, std::string> env = {}) {
  return ParseArgs(args, EnvOf(std::move(env)));
}

struct BadInput {
  std::vector<std::string> args;
  std::string message;  // a part of the one-line error
};

void PrintTo(const BadInput& input, std::ostream* os) {
  *os << "pong-cli " << absl::StrJoin(input.args, " ");
}

class BadInputTest : public ::testing::TestWithParam<BadInput> {};

TEST_P(BadInputTest, IsAUsageErrorOnOneLine) {
  const absl::StatusOr<ParsedArgs> parsed = Parse(GetParam().args);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parsed.status().message()),
              AllOf(HasSubstr(GetParam().message), Not(HasSubstr("\n"))));
}

constexpr char kBadTime[] = "pong_time_ms must be a whole number from 0 to 3600000, got ";

INSTANTIATE_TEST_SUITE_P(
    Args, BadInputTest,
    ::testing::Values(
        BadInput{{}, "missing command; expected start, pause, resume, stop or status"},
        BadInput{{"bogus"}, "unknown command \"bogus\"; expected start, pause"},
        BadInput{{"START", "5"}, "unknown command \"START\""},
        BadInput{{"-5"}, "unknown command \"-5\""},
        BadInput{{"start"}, "start needs pong_time_ms, a whole number from 0 to 3600000"},
        BadInput{{"start", "abc"}, std::string(kBadTime) + "\"abc\""},
        BadInput{{"start", "-5"}, std::string(kBadTime) + "\"-5\""},
        BadInput{{"start", "-0"}, std::string(kBadTime) + "\"-0\""},
        BadInput{{"start", "1.5"}, std::string(kBadTime) + "\"1.5\""},
        BadInput{{"start", "1e3"}, std::string(kBadTime) + "\"1e3\""},
        BadInput{{"start", "3600001"}, std::string(kBadTime) + "\"3600001\""},
        BadInput{{"start", "99999999999999999999999"}, kBadTime},
        BadInput{{"start", "+5"}, std::string(kBadTime) + "\"+5\""},
        BadInput{{"start", " 5"}, std::string(kBadTime) + "\" 5\""},
        BadInput{{"start", "5 "}, std::string(kBadTime) + "\"5 \""},
        BadInput{{"start", "0x10"}, std::string(kBadTime) + "\"0x10\""},
        BadInput{{"start", ""}, std::string(kBadTime) + "\"\""},
        BadInput{{"start", "1\n2"}, std::string(kBadTime) + "\"1\\n2\""},
        BadInput{{"start", "1", "2"}, "unexpected argument \"2\": start takes one argument"},
        BadInput{{"pause", "now"}, "unexpected argument \"now\": pause takes no arguments"},
        BadInput{{"status", "x", "y"}, "unexpected argument \"x\": status takes no arguments"},
        BadInput{{"--bogus", "status"}, "unknown flag \"--bogus\"; flags are --first"},
        BadInput{{"status", "-x=1"}, "unknown flag \"-x\""},
        BadInput{{"--help_me", "status"}, "unknown flag \"--help_me\""},
        BadInput{{"--lead_ms=abc", "pause"},
                 "--lead_ms must be a whole number of ms from 10 to 30000, got \"abc\""},
        BadInput{{"--lead_ms=-1", "pause"}, "--lead_ms must be a whole number of ms from 10"},
        BadInput{{"--lead_ms=0", "pause"}, "got \"0\""},
        BadInput{{"--lead_ms=30001", "pause"}, "got \"30001\""},
        BadInput{{"--lead_ms=1.5", "pause"}, "got \"1.5\""},
        BadInput{{"--lead_ms=", "pause"}, "got \"\""},
        BadInput{{"pause", "--lead_ms"}, "--lead_ms needs a value"},
        BadInput{{"--timeout_ms=0", "status"}, "--timeout_ms must be a whole number of ms from 1"},
        BadInput{{"--first=nocolon", "status"},
                 "--first must be HOST:PORT with a port from 1 to 65535, got \"nocolon\""},
        BadInput{{"--first=host:0", "status"}, "got \"host:0\""},
        BadInput{{"--first=host:65536", "status"}, "got \"host:65536\""},
        BadInput{{"--first=host:5x", "status"}, "got \"host:5x\""},
        BadInput{{"--first=host:", "status"}, "got \"host:\""},
        BadInput{{"--first=:50051", "status"}, "got \":50051\""},
        BadInput{{"--second=::1:50051", "status"}, "--second must be HOST:PORT"},
        BadInput{{"--second=a b:1", "status"}, "--second must be HOST:PORT"},
        BadInput{{"--first=127.0.0.1:50052", "status"}, "the same address \"127.0.0.1:50052\""},
        BadInput{{"--json=maybe", "status"}, "--json takes no value, or true or false"},
        BadInput{{"--nojson=1", "status"}, "--nojson takes no value"}));

TEST(ArgsTest, BadAddressInTheEnvironmentIsNamed) {
  const absl::StatusOr<ParsedArgs> parsed = Parse({"status"}, {{"PONG_SECOND", "x"}});
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(std::string(parsed.status().message()),
              HasSubstr("PONG_SECOND must be HOST:PORT with a port from 1 to 65535, got \"x\""));
}

TEST(ArgsTest, StartWithDefaults) {
  const absl::StatusOr<ParsedArgs> parsed = Parse({"start", "1000"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->verb, Verb::kStart);
  EXPECT_EQ(parsed->pong_time_ms, 1000);
  EXPECT_EQ(parsed->first, "127.0.0.1:50051");
  EXPECT_EQ(parsed->second, "127.0.0.1:50052");
  EXPECT_EQ(parsed->lead, absl::Milliseconds(100));
  EXPECT_EQ(parsed->timeout, absl::Seconds(1));
  EXPECT_FALSE(parsed->json);
}

TEST(ArgsTest, PongTimeBoundsAndLeadingZeros) {
  EXPECT_EQ(Parse({"start", "0"})->pong_time_ms, 0);
  EXPECT_EQ(Parse({"start", "3600000"})->pong_time_ms, 3'600'000);
  EXPECT_EQ(Parse({"start", "007"})->pong_time_ms, 7);
  EXPECT_EQ(Parse({"start", "0003600000"})->pong_time_ms, 3'600'000);
}

TEST(ArgsTest, EveryVerb) {
  EXPECT_EQ(Parse({"pause"})->verb, Verb::kPause);
  EXPECT_EQ(Parse({"resume"})->verb, Verb::kResume);
  EXPECT_EQ(Parse({"stop"})->verb, Verb::kStop);
  EXPECT_EQ(Parse({"status"})->verb, Verb::kStatus);
}

TEST(ArgsTest, FlagsBeforeOrAfterTheCommand) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--json", "--lead_ms=500", "pause"},
           {"pause", "--json", "--lead_ms=500"},
           {"--lead_ms", "500", "pause", "-json"},
           {"-lead_ms=500", "pause", "--json=true"},
       }) {
    const absl::StatusOr<ParsedArgs> parsed = Parse(args);
    ASSERT_TRUE(parsed.ok()) << absl::StrJoin(args, " ") << ": " << parsed.status();
    EXPECT_EQ(parsed->verb, Verb::kPause);
    EXPECT_TRUE(parsed->json);
    EXPECT_EQ(parsed->lead, absl::Milliseconds(500));
  }
  const absl::StatusOr<ParsedArgs> start = Parse({"--lead_ms=20", "start", "--json", "250"});
  ASSERT_TRUE(start.ok()) << start.status();
  EXPECT_EQ(start->pong_time_ms, 250);
  EXPECT_EQ(start->lead, absl::Milliseconds(20));
}

TEST(ArgsTest, EachParseStartsFromTheDefaults) {
  ASSERT_TRUE(Parse({"--lead_ms=500", "--json", "--first=10.0.0.1:1", "pause"}).ok());
  const absl::StatusOr<ParsedArgs> parsed = Parse({"pause"});
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->lead, absl::Milliseconds(100));
  EXPECT_FALSE(parsed->json);
  EXPECT_EQ(parsed->first, "127.0.0.1:50051");
}

TEST(ArgsTest, NoJsonTurnsItOff) {
  EXPECT_FALSE(Parse({"--json", "status", "--nojson"})->json);
  EXPECT_FALSE(Parse({"--json=false", "status"})->json);
}

TEST(ArgsTest, AddressesComeFromFlagThenEnvironmentThenDefault) {
  const std::map<std::string, std::string> env = {{"PONG_FIRST", "10.0.0.1:7001"},
                                                  {"PONG_SECOND", "10.0.0.2:7002"}};
  absl::StatusOr<ParsedArgs> parsed = Parse({"status"}, env);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->first, "10.0.0.1:7001");
  EXPECT_EQ(parsed->second, "10.0.0.2:7002");

  parsed = Parse({"status", "--second=[::1]:9000"}, env);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->first, "10.0.0.1:7001");
  EXPECT_EQ(parsed->second, "[::1]:9000");

  parsed = Parse({"--first", "pong.example:50051", "status"}, {{"PONG_FIRST", ""}});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->first, "pong.example:50051");

  parsed = Parse({"status"}, {{"PONG_FIRST", ""}});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->first, "127.0.0.1:50051") << "an empty variable counts as unset";

  // A flag wins even over a broken variable.
  parsed = Parse({"status", "--first=127.0.0.1:1"}, {{"PONG_FIRST", "broken"}});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->first, "127.0.0.1:1");
}

TEST(ArgsTest, DoubleDashEndsTheFlags) {
  EXPECT_EQ(Parse({"--", "status"})->verb, Verb::kStatus);
  const absl::StatusOr<ParsedArgs> parsed = Parse({"start", "--", "--json"});
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("got \"--json\""));
}

TEST(ArgsTest, HelpWinsOverEverythingElse) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--help"},
                                             {"-h"},
                                             {"-help"},
                                             {"--helpfull"},
                                             {"help"},
                                             {"status", "--help"},
                                             {"bogus", "--bogus", "--help"},
                                             {"start", "-5", "-h"}}) {
    const absl::StatusOr<ParsedArgs> parsed = Parse(args);
    ASSERT_TRUE(parsed.ok()) << absl::StrJoin(args, " ") << ": " << parsed.status();
    EXPECT_EQ(parsed->verb, Verb::kHelp);
  }
}

TEST(ArgsTest, UsageTextCoversCommandsFlagsExitCodesAndEnvironment) {
  const std::string usage = UsageText();
  for (const char* part :
       {"pong-cli start <pong_time_ms>", "pong-cli pause", "pong-cli resume", "pong-cli stop",
        "pong-cli status", "--first=HOST:PORT  (default 127.0.0.1:50051)",
        "--second=HOST:PORT  (default 127.0.0.1:50052)", "--lead_ms=MS  (default 100)", "e.g. 500",
        "--timeout_ms", "--json", "--help", "PONG_FIRST, PONG_SECOND",
        "Exit codes:", "  0  done on both", "  1  refused", "  2  usage error",
        "  3  in effect on one", "Examples:"}) {
    EXPECT_THAT(usage, HasSubstr(part));
  }
  for (absl::string_view line : absl::StrSplit(usage, '\n')) {
    EXPECT_LE(line.size(), 80u) << line;
  }
}

}  // namespace
}  // namespace pong::cli
