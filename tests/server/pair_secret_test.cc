// The pair secret: the HMAC of game pings (RFC 4231 vectors, the canonical message, the
// openssl CLI as an independent signer), the /ping query's mac, and an in-process
// instance with a secret that refuses unauthenticated game pings with 403 before its
// engine sees them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "server/core/confirm.h"
#include "server/ping_auth.h"
#include "server/ping_query.h"
#include "tests/server/service_test_util.h"

namespace pong::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kSecret[] = "a pair secret of some length";

std::string Hex(const Sha256Digest& digest) {
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

std::string Str(const PingMacHex& hex) { return std::string(hex.data(), hex.size()); }

std::unique_ptr<PingMac> MacWith(absl::string_view key) {
  absl::StatusOr<std::unique_ptr<PingMac>> mac = PingMac::Create(key);
  EXPECT_TRUE(mac.ok()) << mac.status();
  return mac.ok() ? *std::move(mac) : nullptr;
}

// RFC 4231, section 4: the HMAC-SHA-256 test cases.
TEST(PingMacTest, MatchesRfc4231) {
  struct Case {
    std::string key;
    std::string data;
    std::string mac;
  };
  const Case cases[] = {
      {std::string(20, '\x0b'), "Hi There",
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {"Jefe", "what do ya want for nothing?",
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {std::string("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13"
                   "\x14\x15\x16\x17\x18\x19"),
       std::string(50, '\xcd'), "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
      {std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First",
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.data);
    std::unique_ptr<PingMac> mac = MacWith(c.key);
    ASSERT_NE(mac, nullptr);
    EXPECT_EQ(Hex(mac->Compute(c.data)), c.mac);
    // The context is keyed once and re-initialised per message: the same mac again.
    EXPECT_EQ(Hex(mac->Compute(c.data)), c.mac);
  }
}

TEST(PingMacTest, CoversTheCanonicalMessage) {
  PingMacBuffer buffer;
  EXPECT_EQ(PingMacMessage(GamePing{kGameId, 7, 1000}, buffer),
            absl::StrCat("pong-ping-v1\n", kGameId, "\n7\n1000"));
  const GamePing largest{"ffffffffffffffffffffffffffffffff", INT64_MAX, kMaxPongTimeMs};
  EXPECT_EQ(PingMacMessage(largest, buffer),
            "pong-ping-v1\nffffffffffffffffffffffffffffffff\n9223372036854775807\n3600000");

  std::unique_ptr<PingMac> mac = MacWith(kSecret);
  ASSERT_NE(mac, nullptr);
  const GamePing ping{kGameId, 7, 1000};
  const std::string signed_hex = Str(mac->Sign(ping));
  EXPECT_EQ(signed_hex, Hex(mac->Compute(absl::StrCat("pong-ping-v1\n", kGameId, "\n7\n1000"))));
  EXPECT_EQ(signed_hex, absl::AsciiStrToLower(signed_hex));
}

// The openssl command line, which shares no code path with PingMac's context reuse or
// hex encoding, signs the same message to the same mac.
TEST(PingMacTest, AgreesWithTheOpensslCommand) {
  const GamePing ping{kGameId, 42, 250};
  const std::string command =
      absl::StrCat("printf 'pong-ping-v1\\n", kGameId,
                   "\\n42\\n250' | openssl dgst -sha256 -hmac '", kSecret, "' -r 2>&1");
  std::FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  char line[256] = {};
  const bool read = std::fgets(line, sizeof(line), pipe) != nullptr;
  pclose(pipe);
  ASSERT_TRUE(read) << "no output from: " << command;
  const std::string expected(absl::string_view(line).substr(0, kPingMacHexLength));
  std::unique_ptr<PingMac> mac = MacWith(kSecret);
  ASSERT_NE(mac, nullptr);
  EXPECT_EQ(Str(mac->Sign(ping)), expected) << "openssl said: " << line;
}

TEST(PingMacTest, VerifiesOnlyTheMacOfThatPingUnderThatKey) {
  std::unique_ptr<PingMac> mac = MacWith(kSecret);
  ASSERT_NE(mac, nullptr);
  const GamePing ping{kGameId, 5, 100};
  const std::string good = Str(mac->Sign(ping));
  EXPECT_TRUE(mac->Verify(ping, good));

  EXPECT_FALSE(mac->Verify(GamePing{kGameId, 6, 100}, good));
  EXPECT_FALSE(mac->Verify(GamePing{kGameId, 5, 101}, good));
  EXPECT_FALSE(mac->Verify(GamePing{kOtherGameId, 5, 100}, good));
  std::unique_ptr<PingMac> other = MacWith("another secret, same length!");
  ASSERT_NE(other, nullptr);
  EXPECT_FALSE(other->Verify(ping, good));

  std::string flipped = good;
  flipped[10] = flipped[10] == '0' ? '1' : '0';
  for (const std::string& bad :
       {std::string(), good.substr(0, 63), good + "0", absl::AsciiStrToUpper(good), flipped,
        std::string(64, '0'), std::string(64, 'g')}) {
    EXPECT_FALSE(mac->Verify(ping, bad)) << bad;
  }
}

TEST(PingQueryTest, ReadsTheMacAndRefusesTwo) {
  QueryParams params{{"game", kGameId}, {"seq", "1"}, {"ms", "5"}, {"mac", "abc"}};
  absl::StatusOr<PingQuery> query = ReadPingQuery(params);
  ASSERT_TRUE(query.ok()) << query.status();
  ASSERT_TRUE(query->mac.has_value());
  EXPECT_EQ(*query->mac, "abc");
  params.emplace_back("mac", "def");
  EXPECT_EQ(ReadPingQuery(params).status().code(), absl::StatusCode::kInvalidArgument);
  params.resize(3);
  query = ReadPingQuery(params);
  ASSERT_TRUE(query.ok()) << query.status();
  EXPECT_FALSE(query->mac.has_value());
}

TEST(PingQueryTest, AQueryStringIsSplitAndDecodedAsSent) {
  EXPECT_EQ(ParseQueryString("game=ab&seq=1&ms=5"),
            (QueryParams{{"game", "ab"}, {"seq", "1"}, {"ms", "5"}}));
  // %XX and '+' decode; a '%' without two hex digits stays; a part without '=' is a name.
  EXPECT_EQ(ParseQueryString("a%3Db=c%26d&e+f=%2&g=%zz&flag&&=x"),
            (QueryParams{{"a=b", "c&d"}, {"e f", "%2"}, {"g", "%zz"}, {"flag", ""}, {"", "x"}}));
  EXPECT_EQ(ParseQueryString("seq=1&seq=2"), (QueryParams{{"seq", "1"}, {"seq", "2"}}));
  EXPECT_EQ(ParseQueryString("a=%41%4a%4A%"), (QueryParams{{"a", "AJJ%"}}));
  EXPECT_TRUE(ParseQueryString("").empty());
  EXPECT_TRUE(ParseQueryString("&&").empty());
  // A repeated ping parameter, however it was spelt, is refused.
  EXPECT_FALSE(ReadPingQuery(ParseQueryString("seq=1&s%65q=2")).ok());
}

// A temporary folder with a pair secret file in it; removed when this goes.
class SecretDir {
 public:
  SecretDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "pong-pair-secret-XXXXXX").string();
    if (mkdtemp(pattern.data()) != nullptr) dir_ = pattern;
  }
  ~SecretDir() {
    std::error_code ignored;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }
  std::string Write(const std::string& name, const std::string& content, mode_t mode) const {
    const std::string file = (dir_ / name).string();
    std::ofstream(file, std::ios::trunc) << content;
    chmod(file.c_str(), mode);
    return file;
  }

 private:
  std::filesystem::path dir_;
};

TEST(PairSecretFileTest, AServerRefusesABadSecretFile) {
  SecretDir dir;
  for (const auto& [file, message] : {
           std::pair{dir.Write("open", kSecret, 0644), "readable by group or others"},
           std::pair{dir.Write("short", "  fifteen chars  \n", 0600), "at least 16"},
           std::pair{dir.Write("empty", "\n", 0600), "is empty"},
           std::pair{std::string("/nonexistent/pair-secret"), "cannot be read"},
       }) {
    SCOPED_TRACE(file);
    TestInstanceOptions options;
    options.pair_secret_file = file;
    const absl::StatusOr<std::unique_ptr<TestInstance>> started = TestInstance::Start(options);
    ASSERT_FALSE(started.ok());
    EXPECT_EQ(started.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(started.status().message(), HasSubstr("--pair_secret_file"));
    EXPECT_THAT(started.status().message(), HasSubstr(message));
    EXPECT_THAT(started.status().message(), Not(HasSubstr(kSecret)));
  }
}

// One in-process instance started with a pair secret, and an HTTP client of it.
class PairSecretPlaneTest : public ServiceTest {
 protected:
  void SetUp() override {
    TestInstanceOptions options;
    options.pair_secret_file = secrets_.Write("pair.secret", absl::StrCat(kSecret, "\n"), 0600);
    absl::StatusOr<std::unique_ptr<TestInstance>> started = TestInstance::Start(options);
    ASSERT_TRUE(started.ok()) << started.status();
    instance_ = std::move(*started);
    http_ = instance_->NewHttpClient();
    mac_ = MacWith(kSecret);
  }

  void TearDown() override {
    http_.reset();
    ServiceTest::TearDown();
  }

  static std::string PingPath(const GamePing& ping) {
    return absl::StrCat("/ping?game=", ping.game_id, "&seq=", ping.seq, "&ms=", ping.pong_time_ms);
  }
  std::string SignedPath(const GamePing& ping) {
    return absl::StrCat(PingPath(ping), "&mac=", Str(mac_->Sign(ping)));
  }

  // Every way a game ping can lack a valid mac.
  std::vector<std::string> UnauthenticatedPaths(const GamePing& ping) {
    const std::string good = Str(mac_->Sign(ping));
    std::unique_ptr<PingMac> wrong_key = MacWith("not the pair secret at all");
    return {
        PingPath(ping),                                                      // missing
        absl::StrCat(PingPath(ping), "&mac="),                               // empty
        absl::StrCat(PingPath(ping), "&mac=", good.substr(0, 63)),           // short
        absl::StrCat(PingPath(ping), "&mac=", absl::AsciiStrToUpper(good)),  // not lowercase
        absl::StrCat(PingPath(ping), "&mac=", std::string(64, 'z')),         // not hex
        absl::StrCat(PingPath(ping), "&mac=", Str(wrong_key->Sign(ping))),   // other secret
        // A valid mac of another ping: seq, ms and game are all covered.
        absl::StrCat(PingPath(ping),
                     "&mac=", Str(mac_->Sign({ping.game_id, ping.seq + 1, ping.pong_time_ms}))),
        absl::StrCat(PingPath(ping),
                     "&mac=", Str(mac_->Sign({ping.game_id, ping.seq, ping.pong_time_ms + 1}))),
        absl::StrCat(PingPath(ping),
                     "&mac=", Str(mac_->Sign({kOtherGameId, ping.seq, ping.pong_time_ms}))),
    };
  }

  // Each unauthenticated form of `ping` gets a one-line 403 and changes nothing.
  void ExpectAllRefused(const GamePing& ping) {
    const v1::GameStatus before = Status();
    for (const std::string& path : UnauthenticatedPaths(ping)) {
      SCOPED_TRACE(path);
      const httplib::Result res = http_->Get(path);
      ASSERT_TRUE(res) << httplib::to_string(res.error());
      EXPECT_EQ(res->status, 403);
      EXPECT_EQ(res->body, "game ping not authenticated: missing or wrong mac\n");
    }
    ExpectUnchanged(before, Status());
  }

  SecretDir secrets_;
  std::unique_ptr<httplib::Client> http_;
  std::unique_ptr<PingMac> mac_;
};

// What makes "only authenticated pings can make an instance rejoin" true: an idle
// instance never lets an unauthenticated game ping reach its engine.
TEST_F(PairSecretPlaneTest, AnIdleInstanceAnswers403ToAnUnauthenticatedGamePingAndStaysIdle) {
  ASSERT_EQ(Status().state(), v1::GAME_STATE_IDLE);
  ExpectAllRefused(GamePing{kGameId, 1, 100});
  const v1::GameStatus after = Status();
  EXPECT_EQ(after.state(), v1::GAME_STATE_IDLE);
  EXPECT_EQ(after.pings_received(), 0u);
  EXPECT_EQ(after.rejected_pings(), 0u) << "a 403 must not even count as seen by the engine";

  // The same ping, authenticated, makes it rejoin: only the mac held it off.
  const httplib::Result res = http_->Get(SignedPath(GamePing{kGameId, 1, 100}));
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(Status().state(), v1::GAME_STATE_RUNNING);
  EXPECT_TRUE(WaitUntil([&] { return absl::StrContains(instance_->ReadLog(), "rejoined game"); },
                        absl::Seconds(2)))
      << instance_->ReadLog();
}

TEST_F(PairSecretPlaneTest, ARunningGameTakesOnlyTheAuthenticatedPing) {
  StartNow(10'000, /*serve=*/false, kGameId);
  // seq 1 is exactly what this instance waits for; unauthenticated, it changes nothing.
  const GamePing ping{kGameId, 1, 10'000};
  ExpectAllRefused(ping);
  EXPECT_EQ(Status().last_seq(), 0u);
  EXPECT_NE(Status().ball(), v1::BALL_HELD);

  const httplib::Result res = http_->Get(SignedPath(ping));
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->body, "pong");
  EXPECT_EQ(Status().last_seq(), 1u);
  EXPECT_EQ(Status().ball(), v1::BALL_HELD);
}

// A paired command's ask needs the mac too: otherwise anyone could confirm (or learn of)
// a scheduled command. Only an ask signed under the pair secret confirms it.
TEST_F(PairSecretPlaneTest, OnlyAnAuthenticatedAskConfirmsAPairedCommand) {
  StartNow(10'000, /*serve=*/false, kGameId);
  const absl::Time at = absl::Now() + absl::Seconds(30);
  v1::PauseRequest pause = At(MakeCommand<v1::PauseRequest>("p-1"), at);
  pause.set_paired(true);
  peer().SetConfirmReply(ConfirmReply{ConfirmReply::kUnknown, "HTTP 404"});
  v1::CommandResult result;
  ASSERT_TRUE(control().Pause(pause, &result).ok());
  const ConfirmAsk ask{"p-1", CommandKind::kPause, at, {}};
  const std::string path = ConfirmTarget(ask);
  const std::unique_ptr<PingMac> wrong_key = MacWith("another secret of 16+ characters");
  ConfirmAsk other = ask;
  other.effective_at += absl::Milliseconds(1);
  for (const std::string& bad :
       {path, absl::StrCat(path, "&mac="), absl::StrCat(path, "&mac=", std::string(64, '0')),
        absl::StrCat(path, "&mac=", Str(wrong_key->Sign(ConfirmMacMessage(ask)))),
        absl::StrCat(path, "&mac=", Str(mac_->Sign(ConfirmMacMessage(other)))),
        // A ping's mac never passes for an ask's.
        absl::StrCat(path, "&mac=", Str(mac_->Sign(GamePing{kGameId, 1, 10'000})))}) {
    SCOPED_TRACE(bad);
    const httplib::Result res = http_->Get(bad);
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 403);
    EXPECT_EQ(res->body, "confirm not authenticated: missing or wrong mac\n");
  }
  EXPECT_FALSE(Status().pending_command().confirmed());
  const httplib::Result res =
      http_->Get(absl::StrCat(path, "&mac=", Str(mac_->Sign(ConfirmMacMessage(ask)))));
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_TRUE(Status().pending_command().confirmed());
}

TEST_F(PairSecretPlaneTest, BarePingStaysOpen) {
  for (const char* path : {"/ping", "/ping?mac=0123"}) {
    const httplib::Result res = http_->Get(path);
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200) << path;
    EXPECT_EQ(res->body, "pong");
  }
}

TEST_F(PairSecretPlaneTest, MalformedPingsAreStillBadRequests) {
  for (const std::string& path :
       {absl::StrCat("/ping?game=XYZ&seq=1&ms=5&mac=", std::string(64, '0')),
        absl::StrCat(SignedPath({kGameId, 1, 5}), "&mac=00")}) {
    const httplib::Result res = http_->Get(path);
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 400) << path;
  }
}

TEST_F(PairSecretPlaneTest, RefusalsAreLoggedRarelyAndWithoutIdOrMac) {
  const GamePing ping{kGameId, 1, 100};
  const std::string mac = Str(MacWith("not the pair secret at all")->Sign(ping));
  const absl::Time start = absl::Now();
  constexpr int kRefusals = 50;
  for (int i = 0; i < kRefusals; ++i) {
    ASSERT_EQ(http_->Get(absl::StrCat(PingPath(ping), "&mac=", mac))->status, 403);
  }
  const absl::Duration elapsed = absl::Now() - start;
  instance_->Shutdown();
  const std::string log = instance_->ReadLog();
  int lines = 0;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (absl::StrContains(line, "game ping refused: missing or wrong mac (403)")) ++lines;
  }
  EXPECT_GE(lines, 1) << log;
  EXPECT_LE(lines, 1 + absl::ToInt64Seconds(elapsed)) << log;
  EXPECT_THAT(log, Not(HasSubstr(kGameId)));
  EXPECT_THAT(log, Not(HasSubstr(mac)));
}

// Without a pair secret, a mac is ignored, whatever it holds.
class NoPairSecretTest : public ServiceTest {};

TEST_F(NoPairSecretTest, AMacIsIgnored) {
  StartNow(10'000, /*serve=*/false, kGameId);
  std::unique_ptr<httplib::Client> http = instance_->NewHttpClient();
  const httplib::Result res =
      http->Get(absl::StrCat("/ping?game=", kGameId, "&seq=1&ms=10000&mac=not-a-mac"));
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(Status().last_seq(), 1u);
}

}  // namespace
}  // namespace pong::testing
