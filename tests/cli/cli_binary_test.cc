// The real pong-cli binary: usage errors, --help, and instances that are not there.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/support/free_port.h"
#include "tests/support/wait.h"

namespace pong::cli {
namespace {

using ::pong::testing::FreePort;

using ::pong::testing::SlowdownFactor;
using ::testing::HasSubstr;
using ::testing::StartsWith;

struct CliRun {
  int exit_code = -1;
  std::string out;
  std::string err;
  absl::Duration took;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The environment for pong-cli: empty (no PONG_* variable may change the outcome) but
// for the sanitizers' options, so a sanitized run keeps its settings and suppressions.
std::vector<std::string> SanitizerEnvironment() {
  std::vector<std::string> env;
  for (const char* name : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS"}) {
    if (const char* value = std::getenv(name)) env.push_back(absl::StrCat(name, "=", value));
  }
  return env;
}

// Runs pong-cli with `args` and an empty environment (but for the sanitizers' options),
// stdout and stderr to files.
CliRun RunCli(const std::vector<std::string>& args) {
  const std::string dir = ::testing::TempDir();
  const std::string out_path = absl::StrCat(dir, "/cli_out_", getpid());
  const std::string err_path = absl::StrCat(dir, "/cli_err_", getpid());
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  std::vector<std::string> argv_strings = {PONG_CLI_PATH};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : argv_strings) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings = SanitizerEnvironment();
  std::vector<char*> envp;
  for (std::string& variable : env_strings) envp.push_back(variable.data());
  envp.push_back(nullptr);

  CliRun run;
  const absl::Time start = absl::Now();
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, PONG_CLI_PATH, &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    ADD_FAILURE() << "cannot run " << PONG_CLI_PATH << ": error " << spawned;
    return run;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
  }
  run.took = absl::Now() - start;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.out = ReadAll(out_path);
  run.err = ReadAll(err_path);
  return run;
}

class UsageErrorTest : public ::testing::TestWithParam<std::vector<std::string>> {};

TEST_P(UsageErrorTest, ExitsTwoWithOneLineOnStderr) {
  const CliRun run = RunCli(GetParam());
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_EQ(run.out, "");
  EXPECT_THAT(run.err, StartsWith("pong-cli: "));
  EXPECT_THAT(run.err, HasSubstr("(run 'pong-cli --help')"));
  EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
  EXPECT_EQ(run.err.back(), '\n');
}

INSTANTIATE_TEST_SUITE_P(Cli, UsageErrorTest,
                         ::testing::Values(std::vector<std::string>{"start", "-5"},
                                           std::vector<std::string>{"start"},
                                           std::vector<std::string>{"bogus"},
                                           std::vector<std::string>{"start", "1", "2"},
                                           std::vector<std::string>{"start", "1e3"},
                                           std::vector<std::string>{},
                                           std::vector<std::string>{"--bogus", "status"},
                                           std::vector<std::string>{"--lead_ms=abc", "pause"},
                                           std::vector<std::string>{"--first=nocolon", "pause"}));

TEST(CliBinaryTest, HelpExitsZero) {
  const CliRun run = RunCli({"--help"});
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_THAT(run.out, HasSubstr("Usage:"));
  EXPECT_THAT(run.out, HasSubstr("Exit codes:"));
  EXPECT_EQ(run.err, "");
}

class UnreachableTest : public ::testing::TestWithParam<std::vector<std::string>> {};

TEST_P(UnreachableTest, ExitsOneQuicklyNamingTheInstance) {
  const int first = FreePort();
  const int second = FreePort();
  ASSERT_GT(first, 0);
  ASSERT_GT(second, 0);
  std::vector<std::string> args = {absl::StrCat("--first=127.0.0.1:", first),
                                   absl::StrCat("--second=127.0.0.1:", second)};
  args.insert(args.end(), GetParam().begin(), GetParam().end());
  const CliRun run = RunCli(args);
  EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
  EXPECT_LT(run.took, absl::Seconds(2) * SlowdownFactor());
  EXPECT_THAT(run.err, HasSubstr(absl::StrCat("first (127.0.0.1:", first, ") did not answer: ")));
  EXPECT_THAT(run.err, HasSubstr("UNAVAILABLE"));
  EXPECT_THAT(run.out, HasSubstr("first   127.0.0.1:"));
}

INSTANTIATE_TEST_SUITE_P(Cli, UnreachableTest,
                         ::testing::Values(std::vector<std::string>{"start", "1000"},
                                           std::vector<std::string>{"pause"},
                                           std::vector<std::string>{"status"}));

TEST(CliBinaryTest, UnreachableInJsonIsOneObject) {
  const CliRun run = RunCli({absl::StrCat("--first=127.0.0.1:", FreePort()),
                             absl::StrCat("--second=127.0.0.1:", FreePort()), "--json", "stop"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.err, "");
  google::protobuf::Struct json;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(run.out, &json).ok()) << run.out;
  EXPECT_EQ(json.fields().at("exit_code").number_value(), 1);
  EXPECT_EQ(json.fields().at("first").struct_value().fields().at("outcome").string_value(),
            "unreachable");
}

}  // namespace
}  // namespace pong::cli
