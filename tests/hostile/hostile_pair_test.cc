// Hostile input against two real pong-server processes playing a game: every class of bad
// request gets a 4xx and changes nothing, and slow or flooding clients in a process of
// their own neither crash an instance nor break the game's rhythm.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <future>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/pong_pair.h"
#include "tests/support/raw_http.h"

namespace pong::testing {
namespace {

using ::testing::HasSubstr;

// The status of an HTTP/1.1 answer, 0 if there is none.
int StatusOf(const std::string& answer) {
  int status = 0;
  if (answer.rfind("HTTP/1.1 ", 0) != 0 || !absl::SimpleAtoi(answer.substr(9, 3), &status)) {
    return 0;
  }
  return status;
}

// Every "ping received seq=N" of both logs, with when it was logged.
struct Received {
  absl::Time at;
  uint64_t seq;
};
std::vector<Received> ReceivedPings(const PongPair& pair) {
  std::vector<Received> pings;
  for (const Instance* instance : {&pair.first, &pair.second}) {
    for (const LogLine& line : ReadLog(instance->log_path)) {
      const std::vector<uint64_t> seq = SeqsOf({line}, "ping received seq=", " game=");
      if (!seq.empty()) pings.push_back({line.at, seq[0]});
    }
  }
  std::sort(pings.begin(), pings.end(),
            [](const Received& a, const Received& b) { return a.seq < b.seq; });
  return pings;
}

// The game played on through an attack: each seq received once, in order, from the
// instance whose turn it was, and the pings in [from, to) came at about the rate.
void ExpectTheGameKeptItsRhythm(const PongPair& pair, int pong_time_ms, absl::Time from,
                                absl::Time to) {
  const std::vector<Received> pings = ReceivedPings(pair);
  ASSERT_FALSE(pings.empty());
  for (size_t i = 0; i < pings.size(); ++i) {
    ASSERT_EQ(pings[i].seq, i + 1) << "a seq is missing or came twice";
  }
  // Odd seqs go first -> second, even ones back: each instance takes only the other's.
  for (const Instance* receiver : {&pair.first, &pair.second}) {
    const std::vector<uint64_t> taken =
        SeqsOf(ReadLog(receiver->log_path), "ping received seq=", " game=");
    EXPECT_FALSE(taken.empty()) << receiver->name << " took no ping";
    const uint64_t parity = receiver == &pair.first ? 0 : 1;
    for (uint64_t seq : taken) EXPECT_EQ(seq % 2, parity) << receiver->name << " took " << seq;
  }
  std::vector<double> errors_ms;
  size_t in_window = 0;
  for (size_t i = 0; i < pings.size(); ++i) {
    if (pings[i].at < from || pings[i].at >= to) continue;
    ++in_window;
    if (i > 0 && pings[i - 1].at >= from) {
      errors_ms.push_back(
          std::abs(absl::ToDoubleMilliseconds(pings[i].at - pings[i - 1].at) - pong_time_ms));
    }
  }
  const double seconds = absl::ToDoubleSeconds(to - from);
  const double expected = seconds * 1000 / pong_time_ms;
  // A loose bound: the machine is shared (a slower build gets a looser one). The figure
  // itself is printed.
  EXPECT_GE(static_cast<double>(in_window), 0.7 * expected / SlowdownFactor())
      << in_window << " pings in " << seconds << " s";
  ASSERT_FALSE(errors_ms.empty()) << "no two consecutive pings in the window";
  std::sort(errors_ms.begin(), errors_ms.end());
  const auto at = [&](double q) {
    return errors_ms[std::min(errors_ms.size() - 1,
                              static_cast<size_t>(q * static_cast<double>(errors_ms.size())))];
  };
  std::printf(
      "game during the attack: %zu pings in %.1f s (%.1f/s, expected %.1f/s); interval error "
      "from the logs (whole ms): median %.0f ms, p99 %.0f ms, max %.0f ms\n",
      in_window, seconds, static_cast<double>(in_window) / seconds, 1000.0 / pong_time_ms, at(0.5),
      at(0.99), errors_ms.back());
  // A stall of the ball (a ping queued behind attackers for a second) shows here.
  EXPECT_LT(errors_ms.back(), Scaled(500)) << "a ping came half a second late";
}

class HostileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pair_.ok()) << "the two servers did not start";
    // The game under attack: a lead of a second, scaled, for a fresh pair whose first
    // exchange is slow in a TSan build (the two confirm the start with each other).
    const RunResult r = pair_.Cli({absl::StrCat("--lead_ms=", std::max(TestLeadMs(), Scaled(1000))),
                                   "start", std::to_string(pong_time_ms_)});
    ASSERT_EQ(r.exit_code, 0) << Describe(r);
    ASSERT_TRUE(WaitFor([&] { return pair_.second.Status().last_seq() >= 2; }));
  }

  void TearDown() override {
    if (HasFailure()) {
      std::fprintf(stderr, "--- first log (tail) ---\n%s\n--- second log (tail) ---\n%s\n",
                   Tail(pair_.first.Log()).c_str(), Tail(pair_.second.Log()).c_str());
    }
  }

  static std::string Tail(const std::string& log) {
    return log.size() > 4000 ? log.substr(log.size() - 4000) : log;
  }

  // A bare /ping on a fresh connection answers pong within a second.
  bool Answers(const Instance& instance) {
    httplib::Client client("127.0.0.1", instance.http_port);
    client.set_connection_timeout(Scaled(std::chrono::seconds(1)));
    client.set_read_timeout(Scaled(std::chrono::seconds(1)));
    const httplib::Result res = client.Get("/ping");
    return res && res->status == 200 && res->body == "pong";
  }

  // Runs pong-hostile against the first instance, and checks what every attack must leave:
  // no 5xx, the instance running and answering. Returns pong-hostile's counts.
  std::string Attack(const std::string& mode, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {PONG_HOSTILE_PATH, mode,
                                     std::to_string(pair_.first.http_port)};
    argv.insert(argv.end(), args.begin(), args.end());
    const RunResult r = RunCommand(argv, std::chrono::seconds(40));
    EXPECT_EQ(r.exit_code, 0) << Describe(r);
    std::printf("%s: %s", mode.c_str(), r.out.c_str());
    EXPECT_THAT(r.out, HasSubstr("status_5xx=0 "));
    EXPECT_TRUE(pair_.first.process->Running());
    EXPECT_TRUE(Answers(pair_.first));
    return r.out;
  }

  // Each new connection of the peer (it reconnects after 750 ms idle, so at 1000 ms for
  // every ping) must find a thread, whoever holds the others.
  int pong_time_ms_ = 100;
  PongPair pair_;
};

TEST_F(HostileTest, EveryBadRequestGetsItsFourHundredAndChangesNothing) {
  const std::string game = pair_.first.Status().game_id();
  ASSERT_EQ(game.size(), 32u);
  const std::string host = "Host: 127.0.0.1\r\n";
  std::string many_headers;
  for (int i = 0; i < 400; ++i) absl::StrAppend(&many_headers, "X-Header-", i, ": value\r\n");
  struct Case {
    std::string name;
    std::string request;
    int status;
  };
  const std::vector<Case> cases = {
      {"bad game id", "GET /ping?game=XYZ&seq=2&ms=100 HTTP/1.1\r\n" + host + "\r\n", 400},
      {"non-numeric seq", "GET /ping?game=" + game + "&seq=abc&ms=100 HTTP/1.1\r\n" + host + "\r\n",
       400},
      {"overflowing seq",
       "GET /ping?game=" + game + "&seq=99999999999999999999&ms=100 HTTP/1.1\r\n" + host + "\r\n",
       400},
      {"a seq that is not next",
       "GET /ping?game=" + game + "&seq=1000&ms=100 HTTP/1.1\r\n" + host + "\r\n", 409},
      {"unknown path", "GET /admin HTTP/1.1\r\n" + host + "\r\n", 404},
      {"other method", "DELETE /ping HTTP/1.1\r\n" + host + "\r\n", 405},
      {"request line over 8 KiB",
       "GET /ping?" + std::string(9000, 'a') + " HTTP/1.1\r\n" + host + "\r\n", 414},
      {"a header over 8 KiB",
       "GET /ping HTTP/1.1\r\n" + host + "X-Big: " + std::string(9000, 'b') + "\r\n\r\n", 431},
      {"400 small headers", "GET /ping HTTP/1.1\r\n" + host + many_headers + "\r\n", 431},
      {"a body over 1 KiB",
       "GET /ping HTTP/1.1\r\n" + host + "Content-Length: 100000\r\n\r\n" + std::string(2000, 'c'),
       413},
      {"a POST with a body over 1 KiB",
       "POST /ping HTTP/1.1\r\n" + host + "Content-Length: 5000000000\r\n\r\n" +
           std::string(2000, 'c'),
       413},
      {"a chunked body",
       "GET /ping HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n" + "400\r\n" +
           std::string(1024, 'c') + "\r\n",
       411},
      {"two Content-Lengths",
       "GET /ping HTTP/1.1\r\n" + host +
           "Content-Length: 0\r\nContent-Length: 10\r\n\r\n0123456789",
       400},
      {"garbage bytes", std::string("\x00\x01\x02\xff garbage\r\n\r\n", 15), 400},
      {"a TLS ClientHello",
       std::string("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", 11) + std::string(160, '\x42'),
       400},
      {"a head that never ends", "GET /ping HTTP/1.1\r\n" + host, 408},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const v1::GameStatus before = pair_.first.Status();
    const std::string answer = SendRaw(pair_.first.http_port, c.request).bytes;
    EXPECT_EQ(StatusOf(answer), c.status) << answer.substr(0, 200);
    EXPECT_TRUE(Answers(pair_.first));
    const v1::GameStatus after = pair_.first.Status();
    EXPECT_EQ(after.state(), v1::GAME_STATE_RUNNING);
    EXPECT_EQ(after.game_id(), before.game_id());
    EXPECT_EQ(after.rejected_pings(), before.rejected_pings() + (c.status == 409 ? 1 : 0));
  }
  const absl::Time end = absl::Now();
  ExpectTheGameKeptItsRhythm(pair_, pong_time_ms_, end - absl::Seconds(3), end);
}

TEST_F(HostileTest, ASlowlorisOf150ConnectionsDoesNotStarveTheGame) {
  const absl::Time from = absl::Now();
  std::future<std::string> attack = std::async(std::launch::async, [&] {
    return Attack("slowloris", {"150", "10"});
  });
  // While it runs, a newcomer is still answered at once.
  absl::SleepFor(absl::Seconds(3));
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(Answers(pair_.first)) << "probe " << i;
    absl::SleepFor(absl::Seconds(1));
  }
  const absl::Time to = absl::Now();
  EXPECT_THAT(attack.get(), ::testing::Not(HasSubstr("status_4xx=0 "))) << "the slow got 408";
  ExpectTheGameKeptItsRhythm(pair_, pong_time_ms_, from, to);
}

// At 1000 ms the peer opens a new connection for every ping: with a fixed pool of 8
// threads it would wait behind the slow ones.
class SlowGameHostileTest : public HostileTest {
 protected:
  SlowGameHostileTest() { pong_time_ms_ = 1000; }
};

TEST_F(SlowGameHostileTest, ASlowlorisDoesNotStarveAPeerThatReconnectsForEachPing) {
  const absl::Time from = absl::Now();
  Attack("slowloris", {"150", "10"});
  ExpectTheGameKeptItsRhythm(pair_, pong_time_ms_, from, absl::Now());
}

TEST_F(HostileTest, ATenSecondFloodOfBarePingsDoesNotDisturbTheGame) {
  const absl::Time from = absl::Now();
  EXPECT_THAT(Attack("flood", {"10", "4"}), HasSubstr("status_4xx=0 status_5xx=0 failed=0"));
  ExpectTheGameKeptItsRhythm(pair_, pong_time_ms_, from, absl::Now());
}

// Thousands of refused pings a second: the log keeps the first few of each second and
// says how many it left out, and the game's own lines are all there.
TEST_F(HostileTest, AFloodOfRefusedPingsIsSummarisedInTheLog) {
  const absl::Time from = absl::Now();
  httplib::Client client("127.0.0.1", pair_.first.http_port);
  client.set_keep_alive(true);
  int refused = 0;
  while (absl::Now() < from + absl::Seconds(3)) {
    const httplib::Result res =
        client.Get("/ping?game=fedcba9876543210fedcba9876543210&seq=2&ms=100");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 409);
    ++refused;
  }
  client.stop();
  uint64_t logged = 0;
  uint64_t suppressed = 0;
  auto count = [&] {
    logged = 0;
    suppressed = 0;
    for (const LogLine& line : ReadLog(pair_.first.log_path)) {
      // Log stamps are truncated to the millisecond: a line of `from`'s millisecond counts.
      if (line.at <= from - absl::Milliseconds(1)) continue;
      if (line.text.rfind("ping refused seq=2: unknown game", 0) == 0) ++logged;
      const std::vector<uint64_t> n =
          SeqsOf({line}, "suppressed ", " similar lines (ping refused) ");
      if (!n.empty()) suppressed += n[0];
    }
    return logged + suppressed == static_cast<uint64_t>(refused);
  };
  // The last window closes a second after it opened; then every refusal is accounted for.
  EXPECT_TRUE(WaitFor(count, std::chrono::seconds(5)))
      << logged << " logged + " << suppressed << " summarised, of " << refused << " refused";
  std::printf("%d refused pings in 3 s: %lu logged, %lu summarised\n", refused, logged, suppressed);
  EXPECT_GT(refused, 100);
  EXPECT_GT(suppressed, 0u) << "the flood was not summarised";
  EXPECT_LE(logged, 10u * 5) << "at most 10 a second";
  const absl::Time end = absl::Now();
  ExpectTheGameKeptItsRhythm(pair_, pong_time_ms_, end - absl::Seconds(3), end);
}

}  // namespace
}  // namespace pong::testing
