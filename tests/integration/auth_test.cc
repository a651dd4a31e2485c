// The control token with the real binaries: pong-server refuses a token file others can
// read, and pong-cli drives token-protected instances only when it has the token.
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/pong_pair.h"

namespace pong::testing {
namespace {

using ::testing::HasSubstr;

// A temporary folder with a token file of the given mode; all removed when this goes.
class TokenDir {
 public:
  explicit TokenDir(mode_t mode) {
    std::string pattern = (std::filesystem::temp_directory_path() / "pong-auth-it-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) return;
    dir = pattern;
    token_file = dir + "/token";
    std::ofstream(token_file) << "integration-token\n";
    chmod(token_file.c_str(), mode);
  }
  ~TokenDir() {
    std::error_code ignored;
    if (!dir.empty()) std::filesystem::remove_all(dir, ignored);
  }

  std::string dir;
  std::string token_file;
};

TEST(ServerTokenFileTest, AFileOthersCanReadIsRefusedAtStartUp) {
  TokenDir tokens(0644);
  ASSERT_FALSE(tokens.dir.empty());
  const RunResult r =
      RunCommand({PONG_SERVER_PATH, "--http_port=0", "--grpc_port=0",
                  "--control_token_file=" + tokens.token_file, "--log_file=" + tokens.dir + "/log"},
                 std::chrono::seconds(10));
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("readable by group or others (mode 0644); chmod 600 it"));
  EXPECT_THAT(r.err, ::testing::Not(HasSubstr("integration-token")));
}

TEST(ServerTokenFileTest, AnOwnerOnlyFileStarts) {
  TokenDir tokens(0600);
  ASSERT_FALSE(tokens.dir.empty());
  const std::string ports_file = tokens.dir + "/ports";
  Child server({PONG_SERVER_PATH, "--http_port=0", "--grpc_port=0",
                "--control_token_file=" + tokens.token_file, "--ports_file=" + ports_file,
                "--log_file=" + tokens.dir + "/log"});
  EXPECT_TRUE(
      WaitFor([&] { return std::filesystem::exists(ports_file); }, std::chrono::seconds(10)));
  EXPECT_TRUE(server.Running());
  EXPECT_EQ(server.Terminate(), 0);
}

class CliTokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tokens_.dir.empty());
    pair_ = std::make_unique<PongPair>(tokens_.token_file);
    ASSERT_TRUE(pair_->ok()) << "the two servers did not start";
  }

  // pong-cli against the pair, with PONG_TOKEN_FILE set to `env_token_file` (unset if
  // empty), whatever the test's own environment holds.
  RunResult Cli(const std::vector<std::string>& args, const std::string& env_token_file = "") {
    std::vector<std::string> argv = {"/usr/bin/env", "-u", "PONG_TOKEN_FILE"};
    if (!env_token_file.empty()) argv.push_back("PONG_TOKEN_FILE=" + env_token_file);
    argv.insert(argv.end(), {PONG_CLI_PATH, "--first=" + pair_->first.grpc_address(),
                             "--second=" + pair_->second.grpc_address(),
                             absl::StrCat("--lead_ms=", TestLeadMs())});
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv);
  }

  bool GameRuns() {
    return WaitFor([&] {
      return pair_->first.Status().last_seq() >= 3 && pair_->second.Status().last_seq() >= 3;
    });
  }

  bool BothIdle() {
    return pair_->first.Status().state() == v1::GAME_STATE_IDLE &&
           pair_->second.Status().state() == v1::GAME_STATE_IDLE;
  }

  TokenDir tokens_{0600};
  std::unique_ptr<PongPair> pair_;
};

TEST_F(CliTokenTest, WithTheTokenFileTheGameRuns) {
  RunResult r = Cli({"--token_file=" + tokens_.token_file, "start", "50"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_TRUE(GameRuns());
  r = Cli({"--token_file", tokens_.token_file, "stop"});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_TRUE(BothIdle());
}

TEST_F(CliTokenTest, WithoutTheTokenNothingChanges) {
  RunResult r = Cli({"start", "50"});
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_THAT(r.out + r.err, ::testing::HasSubstr("UNAUTHENTICATED"));
  EXPECT_TRUE(BothIdle());
  EXPECT_EQ(pair_->first.Status().last_seq(), 0u);
  EXPECT_TRUE(pair_->first.WaitForLog("control call rejected: unauthenticated"))
      << pair_->first.Log();
  EXPECT_THAT(pair_->first.Log(), ::testing::Not(HasSubstr("integration-token")));
}

TEST_F(CliTokenTest, PongTokenFileFromTheEnvironmentWorks) {
  RunResult r = Cli({"start", "50"}, tokens_.token_file);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_TRUE(GameRuns());
  r = Cli({"status"}, tokens_.token_file);
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
}

TEST_F(CliTokenTest, AnUnreadableTokenFileIsAUsageError) {
  const RunResult r = Cli({"--token_file=" + tokens_.dir + "/missing", "status"});
  EXPECT_EQ(r.exit_code, 2) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("cannot read the token file"));
}

}  // namespace
}  // namespace pong::testing
