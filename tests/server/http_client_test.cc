// HttpConnection, the peer link's HTTP client, against a scripted server on 127.0.0.1:
// what it sends, when it keeps, replaces or closes its connection, and how each way an
// answer can fail is reported.

#include "server/http_client.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "tests/support/wait.h"

namespace pong {
namespace {

using std::chrono_literals::operator""ms;
using SteadyClock = std::chrono::steady_clock;

// Reads one request head; "" when the connection ended first.
std::string ReadRequest(int fd) {
  std::string head;
  char c;
  while (head.find("\r\n\r\n") == std::string::npos) {
    if (::recv(fd, &c, 1, 0) != 1) return "";
    head.push_back(c);
  }
  return head;
}

void Write(int fd, absl::string_view bytes) {
  ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
}

constexpr char kPong[] = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\npong";

// Accepts connections on 127.0.0.1:0, one at a time, and hands each to `serve`, which
// closes it by returning. Keeps every request head it was given by ReadRequest through
// Next().
class ScriptedServer {
 public:
  // serve(self, fd): reads with self.Next(fd), answers with Write.
  explicit ScriptedServer(std::function<void(ScriptedServer&, int)> serve)
      : serve_(std::move(serve)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    EXPECT_EQ(::listen(listener_, 8), 0);
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] {
      while (true) {
        const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) return;
        ++accepted_;
        serve_(*this, fd);
        ::close(fd);
        ++closed_;
      }
    });
  }
  ~ScriptedServer() {
    ::shutdown(listener_, SHUT_RDWR);
    thread_.join();
    ::close(listener_);
  }

  // The next request on fd; "" when the connection ended first.
  std::string Next(int fd) {
    std::string head = ReadRequest(fd);
    if (!head.empty()) {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(head);
    }
    return head;
  }

  int port() const { return port_; }
  int accepted() const { return accepted_; }
  // Connections this side has closed (on loopback the client's socket has the FIN then).
  int closed() const { return closed_; }
  std::vector<std::string> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  std::function<void(ScriptedServer&, int)> serve_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<int> accepted_{0};
  std::atomic<int> closed_{0};
  std::mutex mu_;
  std::vector<std::string> requests_;
  std::thread thread_;
};

// Answers every request on a connection with `answer` until the client closes it.
std::function<void(ScriptedServer&, int)> AnswerAll(std::string answer) {
  return [answer](ScriptedServer& self, int fd) {
    while (!self.Next(fd).empty()) Write(fd, answer);
  };
}

// A port a server listened on a moment ago, and nothing does now.
int PortNobodyListensOn() {
  ScriptedServer gone(AnswerAll(kPong));
  return gone.port();
}

HttpConnection::Timeouts ReplyWithin(std::chrono::milliseconds reply) {
  HttpConnection::Timeouts timeouts;
  timeouts.reply = reply;
  return timeouts;
}

TEST(HttpConnectionTest, AGetSendsOneRequestAndReturnsItsAnswer) {
  ScriptedServer server(AnswerAll(kPong));
  HttpConnection connection("127.0.0.1", server.port());
  const absl::StatusOr<HttpReply> reply = connection.Get("/ping?game=7&seq=1&ms=100", {});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "pong");
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0],
            absl::StrCat("GET /ping?game=7&seq=1&ms=100 HTTP/1.1\r\nHost: 127.0.0.1:",
                         server.port(), "\r\nUser-Agent: pong\r\n\r\n"));
}

TEST(HttpConnectionTest, ManyGetsShareOneConnection) {
  ScriptedServer server(AnswerAll(kPong));
  HttpConnection connection("127.0.0.1", server.port());
  for (int i = 0; i < 100; ++i) {
    const absl::StatusOr<HttpReply> reply = connection.Get(absl::StrCat("/ping?seq=", i), {});
    ASSERT_TRUE(reply.ok()) << i << ": " << reply.status();
    EXPECT_EQ(reply->body, "pong");
  }
  EXPECT_EQ(connection.connections_opened(), 1);
  EXPECT_EQ(server.accepted(), 1);
  EXPECT_EQ(server.requests().size(), 100u);
}

TEST(HttpConnectionTest, CloseMakesTheNextGetOpenAnotherConnection) {
  ScriptedServer server(AnswerAll(kPong));
  HttpConnection connection("127.0.0.1", server.port());
  ASSERT_TRUE(connection.Get("/a", {}).ok());
  connection.Close();
  ASSERT_TRUE(connection.Get("/b", {}).ok());
  EXPECT_EQ(connection.connections_opened(), 2);
}

TEST(HttpConnectionTest, OpenMakesTheConnectionTheNextGetUses) {
  ScriptedServer server(AnswerAll(kPong));
  HttpConnection connection("127.0.0.1", server.port());
  ASSERT_TRUE(connection.Open(std::chrono::milliseconds(250)).ok());
  EXPECT_EQ(connection.connections_opened(), 1);
  ASSERT_TRUE(connection.Get("/ping", {}).ok());
  EXPECT_EQ(connection.connections_opened(), 1);
  EXPECT_EQ(server.accepted(), 1);
}

TEST(HttpConnectionTest, OpenKeepsAConnectionThatIsStillUsable) {
  ScriptedServer server(AnswerAll(kPong));
  HttpConnection connection("127.0.0.1", server.port());
  ASSERT_TRUE(connection.Get("/a", {}).ok());
  ASSERT_TRUE(connection.Open(std::chrono::milliseconds(250)).ok());
  ASSERT_TRUE(connection.Get("/b", {}).ok());
  EXPECT_EQ(connection.connections_opened(), 1);
  EXPECT_EQ(server.accepted(), 1);
}

TEST(HttpConnectionTest, OpenReplacesAConnectionThePeerClosed) {
  ScriptedServer server([](ScriptedServer& self, int fd) {
    if (!self.Next(fd).empty()) Write(fd, kPong);
  });
  HttpConnection connection("127.0.0.1", server.port());
  ASSERT_TRUE(connection.Get("/a", {}).ok());
  ASSERT_TRUE(testing::WaitUntil([&] { return server.closed() == 1; }, absl::Seconds(5)));
  ASSERT_TRUE(connection.Open(std::chrono::milliseconds(250)).ok());
  EXPECT_EQ(connection.connections_opened(), 2);
  ASSERT_TRUE(connection.Get("/b", {}).ok());
  EXPECT_EQ(connection.connections_opened(), 2);
}

TEST(HttpConnectionTest, OpenWithNobodyListeningFailsAndTheNextGetTriesAgain) {
  HttpConnection connection("127.0.0.1", PortNobodyListensOn());
  EXPECT_TRUE(absl::IsUnavailable(connection.Open(std::chrono::milliseconds(250))));
  const absl::StatusOr<HttpReply> reply = connection.Get("/ping", {});
  EXPECT_TRUE(absl::IsUnavailable(reply.status())) << reply.status();
  EXPECT_EQ(connection.connections_opened(), 0);
}

TEST(HttpConnectionTest, AConnectionThePeerClosedIsReplacedBeforeTheNextGet) {
  // One answer per connection, then the server closes it (as after its idle timeout).
  ScriptedServer server([](ScriptedServer& self, int fd) {
    if (!self.Next(fd).empty()) Write(fd, kPong);
  });
  HttpConnection connection("127.0.0.1", server.port());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(connection.Get("/ping", {}).ok());
    // Until the close has reached this side, the connection may still look open.
    while (server.accepted() == i) std::this_thread::sleep_for(1ms);
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(connection.connections_opened(), 3);
  EXPECT_EQ(server.requests().size(), 3u);
}

TEST(HttpConnectionTest, AKeptConnectionClosedWithTheRequestUnansweredIsTriedOnceMoreOnANewOne) {
  // The first connection answers one request, then reads the second and closes unanswered
  // (a peer that restarted between the two): the client sends it again, on a new one.
  std::atomic<int> connections{0};
  ScriptedServer server([&](ScriptedServer& self, int fd) {
    if (++connections == 1) {
      if (!self.Next(fd).empty()) Write(fd, kPong);
      self.Next(fd);
      return;
    }
    while (!self.Next(fd).empty()) Write(fd, kPong);
  });
  HttpConnection connection("127.0.0.1", server.port());
  ASSERT_TRUE(connection.Get("/ping?seq=1", {}).ok());
  const absl::StatusOr<HttpReply> reply = connection.Get("/ping?seq=2", {});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->body, "pong");
  EXPECT_EQ(connection.connections_opened(), 2);
  ASSERT_EQ(server.requests().size(), 3u);
  EXPECT_EQ(server.requests()[1], server.requests()[2]);
}

TEST(HttpConnectionTest, ANewConnectionClosedWithTheRequestUnansweredFailsWithoutRetrying) {
  ScriptedServer server([](ScriptedServer& self, int fd) { self.Next(fd); });
  HttpConnection connection("127.0.0.1", server.port());
  const absl::StatusOr<HttpReply> reply = connection.Get("/ping", {});
  EXPECT_TRUE(absl::IsUnavailable(reply.status())) << reply.status();
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(HttpConnectionTest, AnAnswerSayingConnectionCloseIsTheLastOnItsConnection) {
  ScriptedServer server(
      AnswerAll("HTTP/1.1 409 Conflict\r\nConnection: close\r\nContent-Length: 5\r\n\r\nlate\n"));
  HttpConnection connection("127.0.0.1", server.port());
  for (int i = 0; i < 2; ++i) {
    const absl::StatusOr<HttpReply> reply = connection.Get("/ping", {});
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_EQ(reply->status, 409);
    EXPECT_EQ(reply->body, "late\n");
  }
  EXPECT_EQ(connection.connections_opened(), 2);
}

TEST(HttpConnectionTest, AnHttp10AnswerWithoutLengthEndsWhereThePeerCloses) {
  ScriptedServer server([](ScriptedServer& self, int fd) {
    self.Next(fd);
    Write(fd, "HTTP/1.0 200 OK\r\n\r\nconfirmed");
  });
  HttpConnection connection("127.0.0.1", server.port());
  const absl::StatusOr<HttpReply> reply = connection.Get("/confirm", {});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->body, "confirmed");
}

TEST(HttpConnectionTest, AnAnswerInPiecesIsPutTogether) {
  ScriptedServer server([](ScriptedServer& self, int fd) {
    self.Next(fd);
    const std::string answer = kPong;
    for (char c : answer) {
      Write(fd, std::string(1, c));
      std::this_thread::sleep_for(1ms);
    }
    self.Next(fd);
  });
  HttpConnection connection("127.0.0.1", server.port());
  const absl::StatusOr<HttpReply> reply = connection.Get("/ping", {});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->body, "pong");
}

TEST(HttpConnectionTest, NoAnswerFailsWhenTheReplyTimeoutIsOver) {
  ScriptedServer server([](ScriptedServer& self, int fd) {
    self.Next(fd);
    self.Next(fd);  // until the client closes
  });
  HttpConnection connection("127.0.0.1", server.port());
  const auto start = SteadyClock::now();
  const absl::StatusOr<HttpReply> reply = connection.Get("/ping", ReplyWithin(100ms));
  const auto took = SteadyClock::now() - start;
  EXPECT_TRUE(absl::IsDeadlineExceeded(reply.status())) << reply.status();
  EXPECT_GE(took, 100ms);
  EXPECT_LT(took, 2000ms);
  EXPECT_EQ(server.requests().size(), 1u);  // not sent again
}

TEST(HttpConnectionTest, AnAnswerThatCameTooLateIsNotTakenForTheNextOne) {
  // The first connection answers its first request 200 ms late, every other at once.
  std::atomic<bool> late{true};
  ScriptedServer server([&](ScriptedServer& self, int fd) {
    if (late.exchange(false)) {
      if (self.Next(fd).empty()) return;
      std::this_thread::sleep_for(200ms);
      Write(fd, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlate");
    }
    while (!self.Next(fd).empty()) Write(fd, kPong);
  });
  HttpConnection connection("127.0.0.1", server.port());
  EXPECT_TRUE(absl::IsDeadlineExceeded(connection.Get("/ping", ReplyWithin(50ms)).status()));
  std::this_thread::sleep_for(300ms);  // the late answer is on its way, or there
  const absl::StatusOr<HttpReply> reply = connection.Get("/ping", {});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->body, "pong");
  EXPECT_EQ(connection.connections_opened(), 2);
}

TEST(HttpConnectionTest, BytesAfterTheAnswerMakeItTheLastOnItsConnection) {
  ScriptedServer server(AnswerAll(std::string(kPong) + "HTTP/1.1 200 OK\r\n"));
  HttpConnection connection("127.0.0.1", server.port());
  for (int i = 0; i < 2; ++i) {
    const absl::StatusOr<HttpReply> reply = connection.Get("/ping", {});
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_EQ(reply->body, "pong");
  }
  EXPECT_EQ(connection.connections_opened(), 2);
}

TEST(HttpConnectionTest, NobodyListeningFailsAtOnce) {
  HttpConnection connection("127.0.0.1", PortNobodyListensOn());
  const absl::StatusOr<HttpReply> reply = connection.Get("/ping", {});
  EXPECT_TRUE(absl::IsUnavailable(reply.status())) << reply.status();
  EXPECT_NE(reply.status().message().find("connect to 127.0.0.1:"), std::string::npos)
      << reply.status();
}

TEST(HttpConnectionTest, AHostThatDoesNotResolveIsAnError) {
  HttpConnection connection("no-such-host.invalid", 80);
  const absl::StatusOr<HttpReply> reply = connection.Get("/ping", {});
  EXPECT_TRUE(absl::IsUnavailable(reply.status())) << reply.status();
}

struct BadAnswer {
  const char* name;
  std::string bytes;
  absl::StatusCode code;
};

class HttpConnectionBadAnswerTest : public ::testing::TestWithParam<BadAnswer> {};

TEST_P(HttpConnectionBadAnswerTest, IsAnErrorAndTheConnectionIsNotKept) {
  const std::string bytes = GetParam().bytes;
  ScriptedServer server([bytes](ScriptedServer& self, int fd) {
    if (self.Next(fd).empty()) return;
    Write(fd, bytes);
    ::shutdown(fd, SHUT_WR);
    self.Next(fd);
  });
  HttpConnection connection("127.0.0.1", server.port());
  const absl::StatusOr<HttpReply> reply = connection.Get("/ping", ReplyWithin(1000ms));
  EXPECT_EQ(reply.status().code(), GetParam().code) << reply.status();
  EXPECT_EQ(server.requests().size(), 1u);
  // The next Get does not read what was left of the bad answer: a new connection.
  (void)connection.Get("/ping", ReplyWithin(1000ms));
  EXPECT_EQ(connection.connections_opened(), 2);
}

INSTANTIATE_TEST_SUITE_P(
    Answers, HttpConnectionBadAnswerTest,
    ::testing::Values(
        BadAnswer{"NotHttp", "SSH-2.0-OpenSSH\r\n\r\n", absl::StatusCode::kDataLoss},
        BadAnswer{"NoStatusCode", "HTTP/1.1 OK\r\n\r\n", absl::StatusCode::kDataLoss},
        BadAnswer{"StatusOutOfRange", "HTTP/1.1 999 What\r\n\r\n", absl::StatusCode::kDataLoss},
        BadAnswer{"HeaderWithoutColon", "HTTP/1.1 200 OK\r\nnonsense\r\n\r\n",
                  absl::StatusCode::kDataLoss},
        BadAnswer{"NegativeLength", "HTTP/1.1 200 OK\r\nContent-Length: -4\r\n\r\npong",
                  absl::StatusCode::kDataLoss},
        BadAnswer{"Chunked",
                  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\npong\r\n0\r\n\r\n",
                  absl::StatusCode::kUnimplemented},
        BadAnswer{"CutShort", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\npon",
                  absl::StatusCode::kUnavailable},
        BadAnswer{"HeadNeverEnds", "HTTP/1.1 200 OK\r\nX: " + std::string(20000, 'x'),
                  absl::StatusCode::kResourceExhausted},
        BadAnswer{"BodyTooLong",
                  "HTTP/1.1 200 OK\r\nContent-Length: 20000\r\n\r\n" + std::string(20000, 'x'),
                  absl::StatusCode::kResourceExhausted}),
    [](const ::testing::TestParamInfo<BadAnswer>& param) { return param.param.name; });

TEST(HttpConnectionTest, InterruptEndsAGetInProgressAtOnce) {
  ScriptedServer server([](ScriptedServer& self, int fd) {
    self.Next(fd);
    self.Next(fd);
  });
  HttpConnection connection("127.0.0.1", server.port());
  std::thread interrupter([&] {
    while (server.requests().empty()) std::this_thread::sleep_for(1ms);
    connection.Interrupt();
  });
  const auto start = SteadyClock::now();
  const absl::StatusOr<HttpReply> reply = connection.Get("/ping", ReplyWithin(10'000ms));
  const auto took = SteadyClock::now() - start;
  interrupter.join();
  EXPECT_TRUE(absl::IsCancelled(reply.status())) << reply.status();
  EXPECT_LT(took, 2000ms);
  EXPECT_EQ(server.requests().size(), 1u);  // not sent again on a new connection
}

TEST(HttpConnectionTest, AfterAnInterruptTheNextGetWorks) {
  ScriptedServer server(AnswerAll(kPong));
  HttpConnection connection("127.0.0.1", server.port());
  ASSERT_TRUE(connection.Get("/ping", {}).ok());
  connection.Interrupt();
  const absl::StatusOr<HttpReply> reply = connection.Get("/ping", {});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(connection.connections_opened(), 2);
}

}  // namespace
}  // namespace pong
