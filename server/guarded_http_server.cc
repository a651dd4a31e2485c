#include "server/guarded_http_server.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/addresses.h"
#include "server/request_head.h"
#include "server/thread_name.h"

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

std::optional<absl::Duration> HttpRequest::Age() const {
  if (!arrival) return std::nullopt;
  return absl::Now() - *arrival;
}

namespace {

using SteadyClock = std::chrono::steady_clock;

// Waits until `sock` is ready for `events` (or in error, or shut down by Stop, which the
// next recv or send reports), or until `deadline`. True when ready. One poll: an idle
// connection wakes no thread.
bool WaitReady(int sock, short events, SteadyClock::time_point deadline) {
  while (true) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - SteadyClock::now());
    if (left.count() <= 0) return false;
    pollfd fd{sock, events, 0};
    const int ready = poll(&fd, 1, static_cast<int>(left.count()));
    if (ready > 0) return true;
    if (ready == 0 || errno != EINTR) return false;
  }
}

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 413:
      return "Payload Too Large";
    case 414:
      return "URI Too Long";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
    default:
      return status < 500 ? "Client Error" : "Server Error";
  }
}

// The bytes of an answer: its head, and its body unless `with_body` is false (HEAD).
std::string Answer(const HttpResponse& response, bool close, bool with_body) {
  std::string answer = absl::StrCat(
      "HTTP/1.1 ", response.status, " ", Reason(response.status),
      "\r\nContent-Type: text/plain\r\nContent-Length: ", response.body.size(), "\r\n");
  if (!response.allow.empty()) absl::StrAppend(&answer, "Allow: ", response.allow, "\r\n");
  if (close) absl::StrAppend(&answer, "Connection: close\r\n");
  absl::StrAppend(&answer, "\r\n");
  if (with_body) absl::StrAppend(&answer, response.body);
  return answer;
}

// One connection, served by one thread: requests in turn, while the client keeps it.
class Connection {
 public:
  Connection(int sock, const GuardedHttpServer::Limits& limits, const std::atomic<bool>& stopping)
      : sock_(sock),
        limits_(limits),
        stopping_(stopping),
        head_(limits.max_head_bytes, limits.max_body_bytes) {}

  void Run(const GuardedHttpServer::Handler& handler) {
    while (!stopping_) {
      if (pending_.empty() &&
          !WaitReady(sock_, POLLIN, SteadyClock::now() + limits_.keep_alive_timeout)) {
        return;  // idle for the keep-alive timeout, or stopping
      }
      if (!ServeOne(handler)) return;
    }
  }

 private:
  // Reads, answers and consumes one request. False when the connection is to end.
  bool ServeOne(const GuardedHttpServer::Handler& handler) {
    head_.Reset();
    deadline_ = SteadyClock::now() + limits_.request_timeout;
    // Its arrival: that of the bytes already here, else of the next ones received.
    arrival_ = pending_.empty() ? std::nullopt : pending_arrival_;
    size_t fed = 0;  // bytes of pending_ the scanner has seen
    while (true) {
      if (fed < pending_.size()) {
        const RequestHeadScanner::Verdict verdict =
            head_.Feed(absl::string_view(pending_).substr(fed));
        fed = pending_.size();
        if (verdict == RequestHeadScanner::Verdict::kComplete) break;
        if (verdict != RequestHeadScanner::Verdict::kReading) return Refuse(verdict);
      } else if (!Receive()) {
        return false;
      }
    }
    const size_t head_bytes = head_.head_bytes();
    absl::StatusOr<RequestHead> head =
        ParseRequestHead(absl::string_view(pending_).substr(0, head_bytes));
    if (!head.ok()) return Refuse(400, std::string(head.status().message()));
    // The body (at most max_body_bytes, the scanner saw to it) is read and not looked at.
    while (pending_.size() < head_bytes + head->content_length) {
      if (!Receive()) return false;
    }
    pending_.erase(0, head_bytes + head->content_length);

    HttpRequest request;
    request.method = std::move(head->method);
    const size_t question = head->target.find('?');
    request.path = head->target.substr(0, question);
    if (question != std::string::npos) {
      request.params = ParseQueryString(absl::string_view(head->target).substr(question + 1));
    }
    request.arrival = arrival_;
    HttpResponse response;
    handler(request, response);
    return Send(Answer(response, /*close=*/!head->keep_alive, request.method != "HEAD")) &&
           head->keep_alive;
  }

  // Waits for more bytes of the request (until its deadline) and appends them. False if
  // the client closed, the deadline passed (answered 408) or the server stops.
  bool Receive() {
    if (!WaitReady(sock_, POLLIN, deadline_)) {
      if (!stopping_ && SteadyClock::now() >= deadline_) {
        Refuse(408, absl::StrCat("request not received within ", limits_.request_timeout.count(),
                                 " ms"));
      }
      return false;
    }
    char chunk[4096];
    const ssize_t received = ReceiveStamped(sock_, chunk, sizeof(chunk), pending_arrival_);
    if (received <= 0) return false;
    if (!arrival_) arrival_ = pending_arrival_;
    pending_.append(chunk, static_cast<size_t>(received));
    return true;
  }

  bool Refuse(RequestHeadScanner::Verdict verdict) {
    switch (verdict) {
      case RequestHeadScanner::Verdict::kRequestLineTooLong:
        return Refuse(414, absl::StrCat("request line over ", limits_.max_head_bytes, " bytes"));
      case RequestHeadScanner::Verdict::kHeadTooLarge:
        return Refuse(431, absl::StrCat("request head over ", limits_.max_head_bytes, " bytes"));
      case RequestHeadScanner::Verdict::kBodyTooLarge:
        return Refuse(413, absl::StrCat("body over ", limits_.max_body_bytes, " bytes"));
      case RequestHeadScanner::Verdict::kLengthRequired:
        return Refuse(411, "a body needs a Content-Length (no Transfer-Encoding)");
      default:
        return Refuse(400, "malformed request");
    }
  }

  // Answers `status` with a one-line reason; the connection then ends (returns false).
  bool Refuse(int status, const std::string& reason) {
    Send(Answer(HttpResponse{status, absl::StrCat(reason, "\n"), ""}, /*close=*/true,
                /*with_body=*/true));
    return false;
  }

  bool Send(absl::string_view bytes) {
    const auto deadline = SteadyClock::now() + limits_.write_timeout;
    while (!bytes.empty()) {
      const ssize_t sent = ::send(sock_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (sent > 0) {
        bytes.remove_prefix(static_cast<size_t>(sent));
      } else if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        return false;
      } else if (sent < 0 && errno != EINTR && !WaitReady(sock_, POLLOUT, deadline)) {
        return false;
      }
    }
    return true;
  }

  const int sock_;
  const GuardedHttpServer::Limits& limits_;
  const std::atomic<bool>& stopping_;
  RequestHeadScanner head_;
  SteadyClock::time_point deadline_;           // of the request being read
  std::string pending_;                        // received, not yet consumed
  std::optional<absl::Time> pending_arrival_;  // of the last bytes received
  std::optional<absl::Time> arrival_;          // of the request being read
};

}  // namespace

GuardedHttpServer::GuardedHttpServer(Limits limits, Handler handler)
    : limits_(limits), handler_(std::move(handler)), pool_(limits.pool) {}

GuardedHttpServer::~GuardedHttpServer() { Stop(); }

absl::StatusOr<int> GuardedHttpServer::Bind(const std::string& host, int port) {
  absl::StatusOr<TcpAddresses> addresses = ResolveTcp(host, port, /*passive=*/true);
  if (!addresses.ok()) return addresses.status();
  std::string failure = "no address";
  for (const addrinfo* a = addresses->get(); a != nullptr && listener_ < 0; a = a->ai_next) {
    const int sock = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (sock < 0) continue;
    const int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    // Accepted connections inherit it; set here, it makes the kernel start stamping
    // received packets (it does so only once a socket asks, after a moment) before the
    // first request.
    setsockopt(sock, SOL_SOCKET, SO_TIMESTAMPNS, &yes, sizeof(yes));
    if (::bind(sock, a->ai_addr, a->ai_addrlen) == 0 &&
        ::listen(sock, limits_.listen_backlog) == 0) {
      listener_ = sock;
    } else {
      failure = strerror(errno);
      ::close(sock);
    }
  }
  if (listener_ < 0) return absl::UnavailableError(failure);
  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  getsockname(listener_, reinterpret_cast<sockaddr*>(&bound), &length);
  return ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                           : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
}

void GuardedHttpServer::Start() {
  acceptor_ = std::thread([this] { Accept(); });
}

void GuardedHttpServer::Accept() {
  NameThisThread("pong-accept");
  while (!stopping_) {
    const int sock = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (sock < 0) {
      if (stopping_ || errno == EINVAL || errno == EBADF) return;  // shut down
      // Out of descriptors or memory: wait a little rather than spin on the listener.
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      continue;
    }
    const int yes = 1;
    setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
    setsockopt(sock, SOL_SOCKET, SO_TIMESTAMPNS, &yes, sizeof(yes));
    pool_.Enqueue([this, sock] { Serve(sock); });
  }
}

void GuardedHttpServer::Serve(int sock) {
  bool serve;
  {
    MutexLock lock(connections_mu_);
    serve = !stopping_;
    if (serve) connections_.insert(sock);
  }
  if (serve) Connection(sock, limits_, stopping_).Run(handler_);
  {
    MutexLock lock(connections_mu_);
    connections_.erase(sock);
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
}

void GuardedHttpServer::Stop() {
  MutexLock stop_lock(stop_mu_);
  {
    MutexLock lock(connections_mu_);
    stopping_ = true;
    // Wakes each connection's wait: its next recv sees the end.
    for (const int sock : connections_) ::shutdown(sock, SHUT_RDWR);
  }
  if (listener_ >= 0) ::shutdown(listener_, SHUT_RDWR);  // accept() returns
  if (acceptor_.joinable()) acceptor_.join();
  pool_.Shutdown();
  if (listener_ >= 0) ::close(listener_);
  listener_ = -1;
}

}  // namespace pong
