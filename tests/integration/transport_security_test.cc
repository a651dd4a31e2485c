// With the real binaries: TLS on the control plane (a throwaway CA made by openssl here),
// the refusal of an open control plane, and the pair secret on the game pings.
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/pong_pair.h"
#include "tests/integration/test_pki.h"

namespace pong::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

bool BothIn(const PongPair& pair, v1::GameState state) {
  return WaitFor([&] {
    return pair.first.Status().state() == state && pair.second.Status().state() == state;
  });
}

bool Plays(const PongPair& pair) {
  return WaitFor(
      [&] { return pair.first.Status().last_seq() >= 4 && pair.second.Status().last_seq() >= 4; });
}

// pong-cli against the pair with a lead of a second: what is tested here is who may
// talk to whom, not timing, and the shared test machine can be slow.
RunResult Cli(const PongPair& pair, std::vector<std::string> args) {
  args.insert(args.begin(), absl::StrCat("--lead_ms=", std::max(TestLeadMs(), 1000)));
  return pair.Cli(args);
}

// pong-cli against the pair's instances with exactly `flags` (no --tls_ca unless given),
// PONG_TLS_CA unset unless `env_ca` is given.
RunResult CliWith(const PongPair& pair, const std::vector<std::string>& flags,
                  const std::string& env_ca = "") {
  std::vector<std::string> argv = {"/usr/bin/env", "-u", "PONG_TLS_CA"};
  if (!env_ca.empty()) argv.push_back("PONG_TLS_CA=" + env_ca);
  argv.insert(argv.end(), {PONG_CLI_PATH, "--first=" + pair.first.grpc_address(),
                           "--second=" + pair.second.grpc_address(),
                           absl::StrCat("--lead_ms=", std::max(TestLeadMs(), 1000))});
  argv.insert(argv.end(), flags.begin(), flags.end());
  return RunCommand(argv, std::chrono::seconds(20));
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(pki_.ok()) << pki_.error; }

  PairOptions TlsOptions() const {
    PairOptions options;
    options.tls_cert = pki_.server_cert;
    options.tls_key = pki_.server_key;
    options.tls_ca = pki_.ca_cert;
    return options;
  }

  // pong-server with `flags` on free ports; it must refuse to start.
  RunResult ServerWith(const std::vector<std::string>& flags) const {
    std::vector<std::string> argv = {PONG_SERVER_PATH, "--http_port=0", "--grpc_port=0",
                                     "--log_file=" + pki_.dir + "/refused.log"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    return RunCommand(argv, std::chrono::seconds(10));
  }

  TestPki pki_;
};

TEST_F(TlsTest, AGameStartsPausesAndStopsOverTls) {
  PongPair pair(TlsOptions());
  ASSERT_TRUE(pair.ok()) << "the two TLS servers did not start";
  EXPECT_TRUE(pair.first.WaitForLog("control=tls")) << pair.first.Log();
  RunResult r = Cli(pair, {"start", "50"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_TRUE(Plays(pair));
  r = Cli(pair, {"pause"});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_TRUE(BothIn(pair, v1::GAME_STATE_PAUSED));
  r = Cli(pair, {"status"});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  r = Cli(pair, {"stop"});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_TRUE(BothIn(pair, v1::GAME_STATE_IDLE));
}

TEST_F(TlsTest, PongTlsCaFromTheEnvironmentWorks) {
  PongPair pair(TlsOptions());
  ASSERT_TRUE(pair.ok());
  const RunResult r = CliWith(pair, {"status"}, pki_.ca_cert);
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
}

// Plain gRPC to a TLS server: unreachable at once (exit 1), with a hint; nothing changed.
TEST_F(TlsTest, APlainCliFailsFastAgainstTls) {
  PongPair pair(TlsOptions());
  ASSERT_TRUE(pair.ok());
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"status"}, std::vector<std::string>{"start", "50"}}) {
    const absl::Time start = absl::Now();
    const RunResult r = CliWith(pair, args);
    EXPECT_LT(absl::Now() - start, Scaled(absl::Seconds(5))) << "took too long";
    EXPECT_EQ(r.exit_code, 1) << Describe(r);
    EXPECT_THAT(r.out + r.err, HasSubstr("--tls_ca")) << Describe(r);
  }
  EXPECT_TRUE(BothIn(pair, v1::GAME_STATE_IDLE));
  EXPECT_EQ(pair.first.Status().last_seq(), 0u);
}

// TLS to a plain server, or to a TLS server whose certificate the CA did not sign.
TEST_F(TlsTest, ATlsCliFailsAgainstPlainOrAnUntrustedCertificate) {
  PongPair plain;
  ASSERT_TRUE(plain.ok());
  RunResult r = CliWith(plain, {"--tls_ca=" + pki_.ca_cert, "start", "50"});
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_THAT(r.out + r.err, HasSubstr("TLS")) << Describe(r);
  EXPECT_EQ(plain.first.Status().state(), v1::GAME_STATE_IDLE);

  PongPair tls(TlsOptions());
  ASSERT_TRUE(tls.ok());
  r = CliWith(tls, {"--tls_ca=" + pki_.other_ca_cert, "start", "50"});
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_TRUE(BothIn(tls, v1::GAME_STATE_IDLE));
}

TEST_F(TlsTest, ABadTlsCaIsAUsageError) {
  PongPair pair(TlsOptions());
  ASSERT_TRUE(pair.ok());
  RunResult r = CliWith(pair, {"--tls_ca=" + pki_.dir + "/missing.pem", "status"});
  EXPECT_EQ(r.exit_code, 2) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("cannot read the --tls_ca file"));
  r = CliWith(pair, {"--tls_ca=" + pki_.server_key, "status"});
  EXPECT_EQ(r.exit_code, 2) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("holds no PEM certificate"));
  r = CliWith(pair, {"--tls_ca=", "status"});
  EXPECT_EQ(r.exit_code, 2) << Describe(r);
}

TEST_F(TlsTest, TheServerRefusesBadTlsFlags) {
  RunResult r = ServerWith({"--tls_cert=" + pki_.server_cert});
  EXPECT_EQ(r.exit_code, 2) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("--tls_cert and --tls_key go together"));
  r = ServerWith({"--tls_key=" + pki_.server_key});
  EXPECT_EQ(r.exit_code, 2) << Describe(r);

  r = ServerWith({"--tls_cert=" + pki_.dir + "/missing.pem", "--tls_key=" + pki_.server_key});
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("--tls_cert " + pki_.dir + "/missing.pem cannot be read"));

  r = ServerWith({"--tls_cert=" + pki_.server_key, "--tls_key=" + pki_.server_key});
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("holds no PEM certificate"));

  const std::string cert_as_key = pki_.dir + "/cert-as.key";
  std::filesystem::copy_file(pki_.server_cert, cert_as_key);
  chmod(cert_as_key.c_str(), 0600);
  r = ServerWith({"--tls_cert=" + pki_.server_cert, "--tls_key=" + cert_as_key});
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("holds no unencrypted PEM private key"));

  r = ServerWith({"--tls_cert=" + pki_.server_cert, "--tls_key=" + pki_.dir + "/ca.key"});
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("is not the key of the certificate"));

  const std::string open_key = pki_.dir + "/open.key";
  std::filesystem::copy_file(pki_.server_key, open_key);
  chmod(open_key.c_str(), 0644);
  r = ServerWith({"--tls_cert=" + pki_.server_cert, "--tls_key=" + open_key});
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("is readable by others (mode 0644); chmod 640 it"));
  EXPECT_THAT(r.err, Not(HasSubstr("PRIVATE KEY")));
}

// Only the refusal: a test must not listen on 0.0.0.0.
TEST(InsecureControlTest, AnOpenControlPlaneWithoutTokenOrTlsRefusesToStart) {
  const RunResult r = RunCommand({PONG_SERVER_PATH, "--bind=0.0.0.0", "--http_port=0",
                                  "--grpc_port=0", "--log_file=/dev/null"},
                                 std::chrono::seconds(10));
  EXPECT_EQ(r.exit_code, 2) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("--bind=0.0.0.0 is not a loopback address"));
  EXPECT_THAT(r.err, HasSubstr("--insecure_control"));
}

TEST(InsecureControlTest, HelpListsTheSecurityFlags) {
  RunResult r = RunCommand({PONG_SERVER_PATH, "--help"});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  for (const char* flag : {"--tls_cert", "--tls_key", "--insecure_control", "--pair_secret_file"}) {
    EXPECT_THAT(r.out, HasSubstr(flag));
  }
  r = RunCommand({PONG_CLI_PATH, "--help"});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("--tls_ca=PATH"));
  EXPECT_THAT(r.out, HasSubstr("PONG_TLS_CA"));
}

// A pair whose instances get these flags.
PairOptions WithFlags(std::vector<std::string> first, std::vector<std::string> second) {
  PairOptions options;
  options.first_flags = std::move(first);
  options.second_flags = std::move(second);
  return options;
}

// Files of pair secrets, mode 0600, in a folder that goes with this object.
class PairSecrets {
 public:
  PairSecrets() {
    std::string pattern = (std::filesystem::temp_directory_path() / "pong-secrets-XXXXXX").string();
    if (mkdtemp(pattern.data()) != nullptr) dir_ = pattern;
  }
  ~PairSecrets() {
    std::error_code ignored;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }
  // A --pair_secret_file flag for a file holding `secret`.
  std::string Flag(const std::string& name, const std::string& secret) const {
    const std::string file = dir_ + "/" + name;
    std::ofstream(file, std::ios::trunc) << secret << "\n";
    chmod(file.c_str(), 0600);
    return "--pair_secret_file=" + file;
  }

 private:
  std::string dir_;
};

TEST(PairSecretTest, APairWithTheSameSecretPlays) {
  PairSecrets secrets;
  const std::string flag = secrets.Flag("same", "the secret both instances share");
  PongPair pair(WithFlags({flag}, {flag}));
  ASSERT_TRUE(pair.ok());
  EXPECT_TRUE(pair.first.WaitForLog("pings=mac")) << pair.first.Log();
  RunResult r = Cli(pair, {"start", "50"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_TRUE(Plays(pair)) << pair.first.Log() << pair.second.Log();
  r = Cli(pair, {"stop"});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  const std::string logs = pair.first.Log() + pair.second.Log();
  EXPECT_THAT(logs, Not(HasSubstr("HTTP 403")));
  EXPECT_THAT(logs, Not(HasSubstr("game ping refused")));
}

TEST(PairSecretTest, APairWithDifferentSecretsDoesNotPlay) {
  PairSecrets secrets;
  PongPair pair(WithFlags({secrets.Flag("a", "the secret of the first one")},
                          {secrets.Flag("b", "the secret of the second one")}));
  ASSERT_TRUE(pair.ok());
  // Each refuses the other's asks to confirm the start (403), so neither has it confirmed
  // and both drop it: pong-cli says it did not take effect, and nothing plays.
  RunResult r = Cli(pair, {"start", "50"});
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("the other instance did not confirm it")) << Describe(r);
  EXPECT_EQ(pair.first.Status().state(), v1::GAME_STATE_IDLE);
  EXPECT_EQ(pair.second.Status().state(), v1::GAME_STATE_IDLE);
  EXPECT_EQ(pair.first.Status().last_command().phase(), v1::COMMAND_PHASE_DROPPED);
  EXPECT_EQ(pair.second.Status().last_command().phase(), v1::COMMAND_PHASE_DROPPED);
  for (const Instance* instance : {&pair.first, &pair.second}) {
    ASSERT_TRUE(WaitFor([&] {
      return absl::StrContains(instance->Log(), "confirm refused: missing or wrong mac (403)");
    })) << instance->Log();
    EXPECT_TRUE(instance->WaitForLog(": HTTP 403 confirm not authenticated")) << instance->Log();
    EXPECT_THAT(instance->Log(), Not(HasSubstr("ping sent")));
  }
}

// One side with a secret, one without: the side without takes macs it ignores, the side
// with it refuses the other's bare pings. A mismatch shows; it never half-works silently.
TEST(PairSecretTest, ASecretOnOneSideOnlyStopsTheBallAtIt) {
  PairSecrets secrets;
  PongPair pair(WithFlags({secrets.Flag("a", "the secret of the first one")}, {}));
  ASSERT_TRUE(pair.ok());
  RunResult r = Cli(pair, {"start", "50"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_TRUE(WaitFor([&] {
    return pair.second.Log().find("ping refused by peer seq=2 attempt 2: HTTP 403") !=
           std::string::npos;
  })) << pair.second.Log();
  EXPECT_EQ(pair.first.Status().last_seq(), 1u);
  EXPECT_EQ(pair.second.Status().last_seq(), 2u);
  r = Cli(pair, {"stop"});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
}

}  // namespace
}  // namespace pong::testing
