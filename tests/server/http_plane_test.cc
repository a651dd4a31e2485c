// The HTTP plane of an in-process instance, seen by an httplib client (or raw bytes) on its
// bound port, with the game's state read back over gRPC.

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "server/guarded_http_server.h"
#include "tests/server/service_test_util.h"
#include "tests/support/raw_http.h"
#include "tests/support/wait.h"

namespace pong::testing {
namespace {

using ::testing::HasSubstr;

class HttpPlaneTest : public ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    if (instance_ != nullptr) http_ = instance_->NewHttpClient();
  }

  void TearDown() override {
    http_.reset();  // closes its kept-alive connection before the server stops
    ServiceTest::TearDown();
  }

  httplib::Result Get(const std::string& path) { return http_->Get(path); }

  std::unique_ptr<httplib::Client> http_;
};

std::string GamePingPath(absl::string_view game, uint64_t seq, int64_t ms) {
  return absl::StrCat("/ping?game=", game, "&seq=", seq, "&ms=", ms);
}

// A 409 body: one line that says why.
void ExpectConflict(const httplib::Result& res, absl::string_view reason) {
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 409) << res->body;
  EXPECT_THAT(res->body, HasSubstr(reason));
  ASSERT_FALSE(res->body.empty());
  EXPECT_EQ(res->body.back(), '\n');
  EXPECT_EQ(res->body.find('\n'), res->body.size() - 1) << "more than one line";
}

TEST_F(HttpPlaneTest, BarePingAnswersPongAndChangesNothing) {
  for (bool running : {false, true}) {
    SCOPED_TRACE(running ? "running, ball held" : "idle");
    if (running) {
      StartNow(10'000, /*serve=*/false);
      ASSERT_EQ(Get(GamePingPath(kGameId, 1, 10'000))->status, 200);
    }
    const v1::GameStatus before = Status();
    const httplib::Result res = Get("/ping");
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->body, "pong");
    ExpectUnchanged(before, Status());
  }
}

TEST_F(HttpPlaneTest, MalformedGamePingIsBadRequest) {
  StartNow(10'000, /*serve=*/false);
  ASSERT_EQ(Get(GamePingPath(kGameId, 1, 10'000))->status, 200);
  const v1::GameStatus before = Status();
  for (const std::string& path : {
           absl::StrCat("/ping?game=XYZ&seq=2&ms=10000"),
           absl::StrCat("/ping?game=0123456789ABCDEF0123456789ABCDEF&seq=2&ms=10000"),
           absl::StrCat("/ping?game=", kGameId, "&seq=abc&ms=10000"),
           absl::StrCat("/ping?game=", kGameId, "&seq=99999999999999999999&ms=10000"),
           absl::StrCat("/ping?game=", kGameId, "&seq=0&ms=10000"),
           absl::StrCat("/ping?game=", kGameId, "&seq=-2&ms=10000"),
           absl::StrCat("/ping?game=", kGameId, "&seq=2"),
           absl::StrCat("/ping?game=", kGameId, "&seq=2&ms=3600001"),
           absl::StrCat("/ping?game=", kGameId, "&seq=2&ms=x"),
           absl::StrCat("/ping?game=", kGameId, "&ms=10000"),
           absl::StrCat("/ping?seq=2&ms=10000"),
           absl::StrCat("/ping?game=", kGameId, "&seq=2&seq=3&ms=10000"),
       }) {
    SCOPED_TRACE(path);
    const httplib::Result res = Get(path);
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 400) << res->body;
    EXPECT_FALSE(res->body.empty());
    ExpectUnchanged(before, Status());
  }
}

TEST_F(HttpPlaneTest, AnIdleInstanceRejoinsTheGameOfAPing) {
  const httplib::Result res = Get(GamePingPath(kGameId, 3, 10'000));
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "pong");
  const v1::GameStatus s = Status();
  EXPECT_EQ(s.state(), v1::GAME_STATE_RUNNING);
  EXPECT_EQ(s.game_id(), kGameId);
  EXPECT_EQ(s.pong_time_ms(), 10'000);
  EXPECT_EQ(s.last_seq(), 3u);
  EXPECT_EQ(s.ball(), v1::BALL_HELD);
}

// Linux stamps received packets only a moment after the first socket asks for it (a
// deferred switch); until then the server falls back to the handler's time. True once a
// loopback connection of our own gets stamps.
bool KernelStampsPackets() {
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  const int yes = 1;
  bool stamped = false;
  if (listener >= 0 &&
      bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) == 0 &&
      listen(listener, 1) == 0) {
    const int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(client, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
      const int server = accept(listener, nullptr, nullptr);
      setsockopt(server, SOL_SOCKET, SO_TIMESTAMPNS, &yes, sizeof(yes));
      char byte = 'x';
      send(client, &byte, 1, 0);
      std::optional<absl::Time> arrival;
      stamped = ReceiveStamped(server, &byte, 1, arrival) == 1 && arrival.has_value();
      close(server);
    }
    close(client);
  }
  if (listener >= 0) close(listener);
  return stamped;
}

// The ball is due pong_time_ms after the ping's first bytes reached the host (the
// kernel's receive time), not after the handler had it whole: here the request's end
// comes 300 ms after its start.
TEST_F(HttpPlaneTest, TheBallIsDuePongTimeAfterThePingArrived) {
  ASSERT_TRUE(WaitUntil(KernelStampsPackets, absl::Seconds(10)));
  const int sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(sock, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(instance_->http_port()));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(sock, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  const auto send_all = [sock](const std::string& text) {
    return send(sock, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size());
  };
  ASSERT_TRUE(send_all(absl::StrCat("GET ", GamePingPath(kGameId, 3, 10'000), " HTTP/1.1\r\n")));
  const absl::Time first_bytes_sent = absl::Now();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the gap, not the proof
  ASSERT_TRUE(send_all("Host: 127.0.0.1\r\nConnection: close\r\n\r\n"));
  std::string answer;
  char buffer[1024];
  for (ssize_t n; (n = recv(sock, buffer, sizeof(buffer), 0)) > 0;) answer.append(buffer, n);
  close(sock);
  ASSERT_THAT(answer, HasSubstr("200 OK"));

  const v1::GameStatus s = Status();
  ASSERT_EQ(s.ball(), v1::BALL_HELD);
  // At most first_bytes_sent + 10 s (and a little for reading the two clocks apart);
  // counted from the request's end it would be 300 ms later.
  EXPECT_LE(ToTime(s.ball_due_at()), first_bytes_sent + absl::Seconds(10) + absl::Milliseconds(50));

  // Its log line is stamped at its arrival too (in whole ms: the line's time is at most
  // first_bytes_sent, give or take its rounding).
  std::string stamp;
  ASSERT_TRUE(WaitUntil(
      [&] {
        const std::string log = instance_->ReadLog();
        const size_t at = log.find(" ping received seq=3");
        if (at == std::string::npos) return false;
        const size_t newline = log.rfind('\n', at);
        const size_t begin = newline == std::string::npos ? 0 : newline + 1;
        stamp = log.substr(begin, log.find(' ', begin) - begin);
        return true;
      },
      absl::Seconds(10)))
      << instance_->ReadLog();
  absl::Time logged;
  std::string error;
  ASSERT_TRUE(absl::ParseTime("%Y-%m-%dT%H:%M:%E*SZ", stamp, &logged, &error)) << stamp << error;
  EXPECT_LE(logged, first_bytes_sent + absl::Milliseconds(50)) << stamp;
}

TEST_F(HttpPlaneTest, PingOfAnotherGameIsConflictAndChangesNothing) {
  StartNow(10'000, /*serve=*/true, kGameId);
  ASSERT_TRUE(peer().WaitForSent(1, absl::Seconds(2)));
  ASSERT_TRUE(WaitForStatus([](const v1::GameStatus& s) { return s.ball() == v1::BALL_AT_PEER; }));
  const v1::GameStatus before = Status();
  ExpectConflict(Get(GamePingPath(kOtherGameId, 2, 10'000)), "unknown game");
  // The next seq of this game is 2; 5 cannot be.
  ExpectConflict(Get(GamePingPath(kGameId, 5, 10'000)), "seq");
  const v1::GameStatus after = Status();
  EXPECT_EQ(after.rejected_pings(), before.rejected_pings() + 2);
  EXPECT_EQ(after.ball(), v1::BALL_AT_PEER);
  EXPECT_EQ(after.last_seq(), 1u);
  EXPECT_EQ(after.pings_received(), 0u);
  EXPECT_EQ(after.game_id(), kGameId);
}

TEST_F(HttpPlaneTest, PingOfAStoppedGameIsConflict) {
  StartNow(10'000, /*serve=*/false, kGameId);
  ASSERT_EQ(Get(GamePingPath(kGameId, 1, 10'000))->status, 200);
  v1::CommandResult r;
  ASSERT_TRUE(control().Stop(MakeCommand<v1::StopRequest>("stop-1"), &r).ok());
  const v1::GameStatus before = Status();
  ExpectConflict(Get(GamePingPath(kGameId, 2, 10'000)), "game stopped");
  const v1::GameStatus after = Status();
  EXPECT_EQ(after.state(), v1::GAME_STATE_IDLE);
  EXPECT_EQ(after.ball(), v1::BALL_NONE);
  EXPECT_EQ(after.game_id(), "");
  EXPECT_EQ(after.rejected_pings(), before.rejected_pings() + 1);
}

TEST_F(HttpPlaneTest, DuplicatePingIsAnsweredAndNotCountedTwice) {
  StartNow(10'000, /*serve=*/false);
  ASSERT_EQ(Get(GamePingPath(kGameId, 1, 10'000))->status, 200);
  const v1::GameStatus before = Status();
  ASSERT_EQ(before.pings_received(), 1u);

  const httplib::Result res = Get(GamePingPath(kGameId, 1, 10'000));
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "pong");
  v1::GameStatus after = Status();
  EXPECT_EQ(after.pings_received(), 1u);
  EXPECT_EQ(after.duplicate_pings(), before.duplicate_pings() + 1);
  // Only that counter moved: the ball and its deadline are where they were.
  after.set_duplicate_pings(before.duplicate_pings());
  ExpectUnchanged(before, after);
}

TEST_F(HttpPlaneTest, OtherMethodsAndPaths) {
  httplib::Result res = http_->Post("/ping", "", "text/plain");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 405);
  EXPECT_THAT(res->get_header_value("Allow"), HasSubstr("GET"));

  res = http_->Put("/ping", "", "text/plain");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 405);

  for (const char* method : {"DELETE", "PATCH", "OPTIONS", "TRACE"}) {
    httplib::Request request;
    request.method = method;
    request.path = "/ping";
    res = http_->send(request);
    ASSERT_TRUE(res) << method << ": " << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 405) << method;
  }

  res = Get("/other");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 404);

  res = Get("/ping/extra");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 404);

  res = http_->Post("/other", "", "text/plain");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(Status().state(), v1::GAME_STATE_IDLE);
}

// GET /confirm: the peer's ask whether this instance has a paired command too.
TEST_F(HttpPlaneTest, ConfirmAnswersFromThePendingCommand) {
  const absl::Time at = absl::Now() + absl::Seconds(30);
  auto confirm = [&](absl::string_view id, absl::string_view kind, absl::Time when) {
    return Get(
        absl::StrCat("/confirm?command=", id, "&kind=", kind, "&at=", absl::ToUnixNanos(when)));
  };
  httplib::Result res = confirm("p-1", "pause", at);
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 404) << res->body;
  EXPECT_EQ(res->body, "no command p-1 here\n");

  StartNow(1000, /*serve=*/false, kGameId);
  v1::PauseRequest pause = At(MakeCommand<v1::PauseRequest>("p-1"), at);
  pause.set_paired(true);
  v1::CommandResult result;
  // The fake peer says "not yet" to this instance's own asks.
  peer().SetConfirmReply(ConfirmReply{ConfirmReply::kUnknown, "HTTP 404"});
  ASSERT_TRUE(control().Pause(pause, &result).ok());
  EXPECT_FALSE(Status().pending_command().confirmed());

  // Another kind or instant is refused and confirms nothing; the same one confirms it.
  ExpectConflict(confirm("p-1", "stop", at), "is a pause at");
  ExpectConflict(confirm("p-1", "pause", at + absl::Milliseconds(1)), "is a pause at");
  EXPECT_FALSE(Status().pending_command().confirmed());
  res = confirm("p-1", "pause", at);
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "confirmed");
  EXPECT_TRUE(Status().pending_command().confirmed());
  // From now on it takes effect on both: too late to cancel.
  const grpc::Status cancelled = control().Cancel("p-1", &result);
  EXPECT_EQ(cancelled.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(cancelled.error_message(), HasSubstr("confirmed by both instances"));
}

TEST_F(HttpPlaneTest, MalformedConfirmIsBadRequestAndChangesNothing) {
  const v1::GameStatus before = Status();
  for (const char* path :
       {"/confirm", "/confirm?command=a&kind=pause", "/confirm?command=a&kind=jump&at=1",
        "/confirm?command=&kind=stop&at=1", "/confirm?command=a%0Ab&kind=stop&at=1",
        "/confirm?command=a&kind=stop&at=-1",
        "/confirm?command=a&kind=stop&at=99999999999999999999",
        "/confirm?command=a&kind=stop&at=1&at=2"}) {
    const httplib::Result res = Get(path);
    ASSERT_TRUE(res) << path << ": " << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 400) << path;
    EXPECT_EQ(res->body.find('\n'), res->body.size() - 1) << path << ": " << res->body;
  }
  const httplib::Result res = http_->Post("/confirm", "", "text/plain");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 405);
  ExpectUnchanged(before, Status());
}

int CountOf(absl::string_view text, absl::string_view part) {
  int count = 0;
  for (size_t at = text.find(part); at != absl::string_view::npos; at = text.find(part, at + 1)) {
    ++count;
  }
  return count;
}

TEST_F(HttpPlaneTest, PipelinedRequestsAreAnsweredInTurnAndCloseEndsTheConnection) {
  const RawAnswer answer = SendRaw(instance_->http_port(),
                                   "GET /ping HTTP/1.1\r\nHost: a\r\n\r\n"
                                   "POST /other HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
                                   "HEAD /ping HTTP/1.1\r\n\r\n"
                                   "GET /ping HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(answer.closed);
  EXPECT_LT(answer.took, absl::Milliseconds(500)) << "closed at once, not after the idle timeout";
  EXPECT_EQ(answer.bytes,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\npong"
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\n"
            "not found\n"
            // HEAD: the length a GET's body would have, and no body.
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\n"
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n"
            "Connection: close\r\n\r\npong");
}

TEST_F(HttpPlaneTest, AnHttp10RequestIsAnsweredAndItsConnectionClosedAtOnce) {
  const RawAnswer answer = SendRaw(instance_->http_port(), "GET /ping HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(answer.closed);
  EXPECT_LT(answer.took, absl::Milliseconds(500));
  EXPECT_THAT(answer.bytes, HasSubstr("Connection: close\r\n\r\npong"));
  EXPECT_EQ(CountOf(answer.bytes, "HTTP/1.1 "), 1);
}

TEST_F(HttpPlaneTest, ARequestLineOrHeadThatIsNotHttp11IsBadRequest) {
  for (const char* request :
       {"GET /ping HTTP/2.0\r\n\r\n", "GET /ping\r\n\r\n", "get /ping HTTP/1.1\r\n\r\n",
        "GET /ping HTTP/1.1\r\nContent-Length\r: 5\r\n\r\nhello",
        "GET /ping HTTP/1.1\rHost: a\r\n\r\n"}) {
    SCOPED_TRACE(request);
    const RawAnswer answer = SendRaw(instance_->http_port(), request);
    EXPECT_TRUE(answer.closed);
    EXPECT_TRUE(absl::StartsWith(answer.bytes, "HTTP/1.1 400 Bad Request\r\n")) << answer.bytes;
    EXPECT_EQ(CountOf(answer.bytes, "HTTP/1.1 "), 1);
  }
  EXPECT_EQ(Status().state(), v1::GAME_STATE_IDLE);
}

// The peer's HttpPeerLink keeps its connection open between pings, so an instance must
// stop promptly (SIGTERM, the launcher's stop) while a client holds an idle connection.
TEST_F(HttpPlaneTest, ShutdownIsPromptWhileAClientKeepsAConnectionOpen) {
  const httplib::Result res = Get("/ping");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  ASSERT_EQ(res->status, 200);

  std::promise<void> stopped;
  std::thread stopper([&] {
    instance_->Shutdown();
    stopped.set_value();
  });
  // Well under the server's 1 s keep-alive timeout, which would also end the connection.
  const auto bound = std::chrono::milliseconds(600) * SlowdownFactor();
  const bool prompt = stopped.get_future().wait_for(bound) == std::future_status::ready;
  http_.reset();  // if shutdown still waits for the idle connection, this lets it finish
  stopper.join();
  EXPECT_TRUE(prompt) << "Shutdown blocked on an idle keep-alive connection";
}

}  // namespace
}  // namespace pong::testing
