#include "server/http_client.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/addresses.h"
#include "server/request_head.h"

namespace pong {
namespace {

using SteadyClock = std::chrono::steady_clock;

std::string Errno(absl::string_view what) { return absl::StrCat(what, ": ", strerror(errno)); }

// The parts of an answer's head the client needs.
struct ReplyHead {
  int status = 0;
  std::optional<size_t> content_length;
  bool close = false;
};

// Status line and headers, without the blank line that ends them.
absl::StatusOr<ReplyHead> ParseReplyHead(absl::string_view head) {
  ReplyHead parsed;
  std::vector<absl::string_view> lines = absl::StrSplit(head, "\r\n");
  // "HTTP/1.1 200 OK"
  const absl::string_view status_line = lines[0];
  if (!absl::StartsWith(status_line, "HTTP/1.") || status_line.size() < 12 ||
      status_line[8] != ' ' || !absl::SimpleAtoi(status_line.substr(9, 3), &parsed.status) ||
      parsed.status < 100 || parsed.status > 599) {
    return absl::DataLossError("the answer is not HTTP/1.x");
  }
  parsed.close = status_line[7] == '0';  // HTTP/1.0 closes unless it says keep-alive
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::optional<HeaderField> field = SplitHeaderLine(lines[i]);
    if (!field) return absl::DataLossError("a malformed header line");
    const auto [name, value] = *field;
    if (absl::EqualsIgnoreCase(name, "Content-Length")) {
      size_t length = 0;
      if (!absl::SimpleAtoi(value, &length) ||
          value.find_first_not_of("0123456789") != absl::string_view::npos) {
        return absl::DataLossError("a malformed Content-Length");
      }
      parsed.content_length = length;
    } else if (absl::EqualsIgnoreCase(name, "Connection")) {
      if (absl::EqualsIgnoreCase(value, "close")) parsed.close = true;
      if (absl::EqualsIgnoreCase(value, "keep-alive")) parsed.close = false;
    } else if (absl::EqualsIgnoreCase(name, "Transfer-Encoding")) {
      return absl::UnimplementedError("a Transfer-Encoding answer (the peer is not pong)");
    }
  }
  return parsed;
}

std::chrono::microseconds Left(SteadyClock::time_point deadline) {
  return std::chrono::duration_cast<std::chrono::microseconds>(deadline - SteadyClock::now());
}

}  // namespace

HttpConnection::HttpConnection(std::string host, int port) : host_(std::move(host)), port_(port) {}

HttpConnection::~HttpConnection() { Close(); }

void HttpConnection::Close() {
  std::lock_guard<std::mutex> lock(fd_mu_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void HttpConnection::Interrupt() {
  std::lock_guard<std::mutex> lock(fd_mu_);
  interrupts_.fetch_add(1);
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);  // wakes a recv or connect in progress
}

absl::StatusOr<HttpReply> HttpConnection::Get(absl::string_view target, const Timeouts& timeouts) {
  request_.clear();
  absl::StrAppend(&request_, "GET ", target, " HTTP/1.1\r\nHost: ", host_, ":", port_,
                  "\r\nUser-Agent: pong\r\n\r\n");
  interrupts_at_start_ = interrupts_.load();
  bool reused = false;
  absl::StatusOr<HttpReply> reply = Exchange(timeouts, reused);
  // A kept connection the peer had closed: the request never reached it, or it did and
  // the answer is lost. Either way once more, on a new connection.
  if (!reply.ok() && reused && absl::IsAborted(reply.status()) && !Interrupted()) {
    reply = Exchange(timeouts, reused);
  }
  if (!reply.ok() && Interrupted()) return absl::CancelledError("interrupted");
  return reply;
}

absl::Status HttpConnection::Open(std::chrono::milliseconds connect_timeout) {
  interrupts_at_start_ = interrupts_.load();
  bool reused = false;
  absl::Status opened = KeptOrNewConnection(connect_timeout, reused);
  if (!opened.ok() && Interrupted()) return absl::CancelledError("interrupted");
  return opened;
}

absl::Status HttpConnection::KeptOrNewConnection(std::chrono::milliseconds connect_timeout,
                                                 bool& reused) {
  reused = fd_ >= 0 && KeptConnectionUsable();
  if (reused) return absl::OkStatus();
  Close();
  return Connect(connect_timeout);
}

absl::StatusOr<HttpReply> HttpConnection::Exchange(const Timeouts& timeouts, bool& reused) {
  if (absl::Status connected = KeptOrNewConnection(timeouts.connect, reused); !connected.ok()) {
    return connected;
  }
  const auto deadline = SteadyClock::now() + timeouts.reply;
  SetReceiveTimeout(timeouts.reply);
  ssize_t sent;
  do {
    sent = ::send(fd_, request_.data(), request_.size(), MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent != static_cast<ssize_t>(request_.size())) {
    // A request of a few hundred bytes fits any socket buffer: anything short is a failure.
    const std::string why = sent < 0 ? Errno("send") : "send: cut short";
    Close();
    return reused ? absl::AbortedError(why) : absl::UnavailableError(why);
  }
  bool nothing_received = true;
  absl::StatusOr<HttpReply> reply = ReadReply(deadline, nothing_received);
  if (!reply.ok() || close_after_reply_) Close();
  // The peer closed the kept connection without a byte of answer: Get tries a new one.
  if (!reply.ok() && reused && nothing_received && !absl::IsDeadlineExceeded(reply.status())) {
    return absl::AbortedError(reply.status().message());
  }
  return reply;
}

bool HttpConnection::KeptConnectionUsable() const {
  char byte;
  const ssize_t n = ::recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

absl::Status HttpConnection::Connect(std::chrono::milliseconds timeout) {
  absl::StatusOr<TcpAddresses> addresses = ResolveTcp(host_, port_, /*passive=*/false);
  if (!addresses.ok()) return addresses.status();
  const auto deadline = SteadyClock::now() + timeout;
  std::string failure = "connect: no address";
  for (const addrinfo* a = addresses->get(); a != nullptr; a = a->ai_next) {
    const int fd =
        ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) {
      failure = Errno("socket");
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(fd_mu_);
      // An Interrupt while there was no socket to shut down is seen here.
      if (Interrupted()) {
        ::close(fd);
        return absl::CancelledError("interrupted");
      }
      fd_ = fd;
    }
    int error = 0;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      error = errno;
      if (error == EINPROGRESS) {
        int ready;
        do {
          pollfd p{fd, POLLOUT, 0};
          const auto left = std::chrono::ceil<std::chrono::milliseconds>(Left(deadline));
          ready = left.count() > 0 ? ::poll(&p, 1, static_cast<int>(left.count())) : 0;
        } while (ready < 0 && errno == EINTR);
        socklen_t length = sizeof(error);
        if (ready <= 0) {
          error = ready == 0 ? ETIMEDOUT : errno;
        } else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) {
          error = errno;
        }
      }
    }
    if (error == 0) {
      const int yes = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);  // recv blocks, up to its timeout
      receive_timeout_ = std::chrono::microseconds(-1);
      close_after_reply_ = false;
      ++connections_opened_;
      return absl::OkStatus();
    }
    failure = absl::StrCat("connect to ", host_, ":", port_, ": ", strerror(error));
    Close();
  }
  return absl::UnavailableError(failure);
}

void HttpConnection::SetReceiveTimeout(std::chrono::microseconds timeout) {
  timeout = std::max(timeout, std::chrono::microseconds(1));  // 0 would mean no timeout
  if (timeout == receive_timeout_) return;
  const timeval tv{static_cast<time_t>(timeout.count() / 1'000'000),
                   static_cast<suseconds_t>(timeout.count() % 1'000'000)};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  receive_timeout_ = timeout;
}

absl::StatusOr<HttpReply> HttpConnection::ReadReply(SteadyClock::time_point deadline,
                                                    bool& nothing_received) {
  buffer_.clear();
  std::optional<ReplyHead> head;
  size_t body_at = 0;
  char chunk[2048];
  bool first_read = true;
  while (true) {
    if (!head) {
      if (const size_t end = buffer_.find("\r\n\r\n"); end != std::string::npos) {
        absl::StatusOr<ReplyHead> parsed =
            ParseReplyHead(absl::string_view(buffer_).substr(0, end));
        if (!parsed.ok()) return parsed.status();
        head = *parsed;
        if (head->content_length > kMaxReplyBytes) {
          return absl::ResourceExhaustedError(
              absl::StrCat("an answer over ", kMaxReplyBytes, " bytes"));
        }
        body_at = end + 4;
        close_after_reply_ = head->close || !head->content_length;
      }
    }
    if (head && head->content_length && buffer_.size() - body_at >= *head->content_length) {
      if (buffer_.size() - body_at > *head->content_length) close_after_reply_ = true;
      return HttpReply{head->status, buffer_.substr(body_at, *head->content_length)};
    }
    if (buffer_.size() > kMaxReplyBytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat("an answer over ", kMaxReplyBytes, " bytes"));
    }
    if (!first_read) {
      const std::chrono::microseconds left = Left(deadline);
      if (left.count() <= 0) return absl::DeadlineExceededError("no answer in time");
      SetReceiveTimeout(left);
    }
    first_read = false;
    ssize_t n;
    do {
      n = ::recv(fd_, chunk, sizeof(chunk), 0);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
      nothing_received = false;
      buffer_.append(chunk, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return absl::DeadlineExceededError("no answer in time");
    }
    if (n < 0) return absl::UnavailableError(Errno("recv"));
    // The peer closed: the end of an answer of no declared length, else a cut one.
    if (head && !head->content_length) {
      return HttpReply{head->status, buffer_.substr(body_at)};
    }
    return absl::UnavailableError(nothing_received ? "the peer closed the connection"
                                                   : "the answer was cut short");
  }
}

}  // namespace pong
