#include "server/guarded_http_server.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/request_head.h"

namespace pong {

ssize_t ReceiveStamped(int sock, char* buffer, size_t size, std::optional<absl::Time>& arrival) {
  iovec iov{buffer, size};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
  msghdr message{};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof(control);
  ssize_t received;
  do {
    received = recvmsg(sock, &message, 0);
  } while (received < 0 && errno == EINTR);
  arrival.reset();
  if (received <= 0) return received;
  for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
      timespec stamp;
      std::memcpy(&stamp, CMSG_DATA(c), sizeof(stamp));
      if (stamp.tv_sec != 0) arrival = absl::TimeFromTimespec(stamp);
    }
  }
  return received;
}
namespace {

using SteadyClock = std::chrono::steady_clock;

// When the kernel received the first bytes of the request this thread is serving.
thread_local std::optional<absl::Time> request_arrival;

// Waits are cut into slices of this, so that a stopping server is noticed (httplib's
// stop() only closes the listening socket).
constexpr std::chrono::milliseconds kStopCheck{100};

// Waits until `sock` is ready for `events` (or in error, which the next recv or send
// reports), until `deadline`, or until the server stops. True when ready.
bool WaitReady(int sock, short events, SteadyClock::time_point deadline,
               const std::atomic<socket_t>& listener) {
  while (listener != INVALID_SOCKET) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - SteadyClock::now());
    pollfd fd{sock, events, 0};
    const int timeout =
        static_cast<int>(std::clamp(left, std::chrono::milliseconds(0), kStopCheck).count());
    const int ready = poll(&fd, 1, timeout);
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) return false;
    if (left <= std::chrono::milliseconds(0)) return false;
  }
  return false;
}

void AddressOf(int sock, bool peer, std::string& ip, int& port) {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  auto* raw = reinterpret_cast<sockaddr*>(&address);
  if ((peer ? getpeername(sock, raw, &length) : getsockname(sock, raw, &length)) != 0) return;
  char host[NI_MAXHOST];
  char service[NI_MAXSERV];
  if (getnameinfo(raw, length, host, sizeof(host), service, sizeof(service),
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return;
  }
  ip = host;
  port = std::atoi(service);
}

const char* Reason(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 413:
      return "Payload Too Large";
    case 414:
      return "URI Too Long";
    default:
      return "Request Header Fields Too Large";  // 431
  }
}

// One connection's bytes, for httplib's parser, with the limits of GuardedHttpServer.
// Used by the one thread that serves the connection.
class GuardedStream final : public httplib::Stream {
 public:
  GuardedStream(socket_t sock, const GuardedHttpServer::Limits& limits,
                std::chrono::microseconds write_timeout, const std::atomic<socket_t>& listener)
      : sock_(sock),
        limits_(limits),
        write_timeout_(write_timeout),
        listener_(listener),
        head_(limits.max_head_bytes, limits.max_body_bytes) {}

  // A request begins: its head is scanned afresh and must arrive within the timeout. Its
  // arrival is that of the bytes already buffered, else of the next ones received.
  void BeginRequest() {
    head_.Reset();
    deadline_ = SteadyClock::now() + limits_.request_timeout;
    request_arrival = buffered() ? last_arrival_ : std::nullopt;
  }
  bool refused() const { return refused_; }
  bool buffered() const { return begin_ < end_; }

  bool is_readable() const override {
    return buffered() || WaitReady(sock_, POLLIN, deadline_, listener_);
  }
  bool is_writable() const override {
    return WaitReady(sock_, POLLOUT, SteadyClock::now() + write_timeout_, listener_);
  }

  ssize_t read(char* ptr, size_t size) override {
    if (refused_) return -1;
    if (!buffered()) {
      if (!WaitReady(sock_, POLLIN, deadline_, listener_)) {
        if (SteadyClock::now() >= deadline_) {
          Refuse(408, absl::StrCat("request not received within ", limits_.request_timeout.count(),
                                   " ms"));
        }
        return -1;
      }
      const ssize_t received = Receive();
      if (received <= 0) return received < 0 ? -1 : 0;
      begin_ = 0;
      end_ = static_cast<size_t>(received);
      if (!request_arrival) request_arrival = last_arrival_;
    }
    const size_t n = std::min(size, end_ - begin_);
    if (head_.verdict() == RequestHeadScanner::Verdict::kReading) {
      switch (head_.Feed(absl::string_view(buffer_ + begin_, n))) {
        case RequestHeadScanner::Verdict::kRequestLineTooLong:
          Refuse(414, absl::StrCat("request line over ", limits_.max_head_bytes, " bytes"));
          return -1;
        case RequestHeadScanner::Verdict::kHeadTooLarge:
          Refuse(431, absl::StrCat("request head over ", limits_.max_head_bytes, " bytes"));
          return -1;
        case RequestHeadScanner::Verdict::kBodyTooLarge:
          Refuse(413, absl::StrCat("body over ", limits_.max_body_bytes, " bytes"));
          return -1;
        case RequestHeadScanner::Verdict::kLengthRequired:
          Refuse(411, "a body needs a Content-Length (no Transfer-Encoding)");
          return -1;
        case RequestHeadScanner::Verdict::kMalformed:
          Refuse(400, "malformed request");
          return -1;
        case RequestHeadScanner::Verdict::kReading:
        case RequestHeadScanner::Verdict::kComplete:
          break;
      }
    }
    std::memcpy(ptr, buffer_ + begin_, n);
    begin_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    // After a refusal httplib may still answer the half-read request: that answer goes
    // nowhere, the refusal was the answer.
    if (refused_) return static_cast<ssize_t>(size);
    if (!is_writable()) return -1;
    return send(sock_, ptr, size, MSG_NOSIGNAL);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    AddressOf(sock_, /*peer=*/true, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    AddressOf(sock_, /*peer=*/false, ip, port);
  }
  socket_t socket() const override { return sock_; }

 private:
  // recv into buffer_, noting the kernel's receive time of the bytes in last_arrival_.
  ssize_t Receive() { return ReceiveStamped(sock_, buffer_, sizeof(buffer_), last_arrival_); }

  // Answers `status` with a one-line reason and ends the connection.
  void Refuse(int status, const std::string& reason) {
    refused_ = true;
    const std::string body = reason + "\n";
    const std::string response = absl::StrCat(
        "HTTP/1.1 ", status, " ", Reason(status),
        "\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ", body.size(),
        "\r\n\r\n", body);
    if (is_writable()) send(sock_, response.data(), response.size(), MSG_NOSIGNAL);
  }

  const socket_t sock_;
  const GuardedHttpServer::Limits& limits_;
  const std::chrono::microseconds write_timeout_;
  const std::atomic<socket_t>& listener_;
  RequestHeadScanner head_;
  SteadyClock::time_point deadline_;
  bool refused_ = false;
  char buffer_[4096];
  size_t begin_ = 0;
  size_t end_ = 0;
  std::optional<absl::Time> last_arrival_;  // of the bytes in buffer_
};

#if defined(PONG_TSAN)  // CMakeLists.txt: a ThreadSanitizer build
// A request from memory, its answer to nowhere: for PrimeLibraryStatics.
class CannedStream final : public httplib::Stream {
 public:
  explicit CannedStream(absl::string_view request) : request_(request) {}

  bool is_readable() const override { return true; }
  bool is_writable() const override { return true; }
  ssize_t read(char* ptr, size_t size) override {
    const size_t n = std::min(size, request_.size());
    std::memcpy(ptr, request_.data(), n);
    request_.remove_prefix(n);
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char*, size_t size) override { return static_cast<ssize_t>(size); }
  void get_remote_ip_and_port(std::string&, int&) const override {}
  void get_local_ip_and_port(std::string&, int&) const override {}
  socket_t socket() const override { return INVALID_SOCKET; }

 private:
  absl::string_view request_;
};
#endif

// httplib's TaskQueue interface on an ElasticPool.
class ElasticTaskQueue final : public httplib::TaskQueue {
 public:
  explicit ElasticTaskQueue(ElasticPool::Options options) : pool_(options) {}
  void enqueue(std::function<void()> fn) override { pool_.Enqueue(std::move(fn)); }
  void shutdown() override { pool_.Shutdown(); }

 private:
  ElasticPool pool_;
};

}  // namespace

GuardedHttpServer::GuardedHttpServer(Limits limits) : limits_(limits) {
  set_payload_max_length(limits_.max_body_bytes);
  new_task_queue = [this] { return new ElasticTaskQueue(limits_.pool); };
  PrimeLibraryStatics();
}

void GuardedHttpServer::PrimeLibraryStatics() {
#if defined(PONG_TSAN)  // CMakeLists.txt: a ThreadSanitizer build
  // Requests like the peer's, answered 404 (no route yet), before any thread of ours runs.
  for (const char* request :
       {"GET /ping?game=0&seq=1&ms=1 HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /confirm?command=c&kind=start&at=1 HTTP/1.1\r\nHost: x\r\n\r\n"}) {
    CannedStream stream(request);
    bool connection_closed = false;
    process_request(stream, /*close_connection=*/true, connection_closed, [](httplib::Request&) {});
  }
#endif
}

std::optional<absl::Time> GuardedHttpServer::RequestArrival() { return request_arrival; }

std::optional<absl::Duration> GuardedHttpServer::RequestAge() {
  if (!request_arrival) return std::nullopt;
  return absl::Now() - *request_arrival;
}

bool GuardedHttpServer::WidenListenQueue() {
  if (svr_sock_ == INVALID_SOCKET) return false;
  // Accepted connections inherit it; set here, it makes the kernel start stamping received
  // packets (it does so only once a socket asks, after a moment) before the first request.
  const int yes = 1;
  setsockopt(svr_sock_, SOL_SOCKET, SO_TIMESTAMPNS, &yes, sizeof(yes));
  // Linux takes a second listen() on a listening socket as a new queue length.
  return ::listen(svr_sock_, limits_.listen_backlog) == 0;
}

// What httplib's own does (a keep-alive loop around process_request), with GuardedStream.
bool GuardedHttpServer::process_and_close_socket(socket_t sock) {
  const int yes = 1;  // each recv reports when the kernel received the bytes
  setsockopt(sock, SOL_SOCKET, SO_TIMESTAMPNS, &yes, sizeof(yes));
  GuardedStream stream(
      sock, limits_,
      std::chrono::seconds(write_timeout_sec_) + std::chrono::microseconds(write_timeout_usec_),
      svr_sock_);
  const auto keep_alive = std::chrono::seconds(keep_alive_timeout_sec_);
  bool ok = false;
  for (size_t left = keep_alive_max_count_; left > 0; --left) {
    if (!stream.buffered() &&
        !WaitReady(sock, POLLIN, SteadyClock::now() + keep_alive, svr_sock_)) {
      break;
    }
    stream.BeginRequest();
    bool connection_closed = false;
    ok = process_request(stream, /*close_connection=*/left == 1, connection_closed,
                         [](httplib::Request&) {});
    if (!ok || connection_closed || stream.refused()) break;
  }
  request_arrival.reset();
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ok;
}

}  // namespace pong
