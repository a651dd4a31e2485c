#ifndef PONG_SERVER_HTTP_CLIENT_H_
#define PONG_SERVER_HTTP_CLIENT_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pong {

// An answer to a GET: its status code and body.
struct HttpReply {
  int status = 0;
  std::string body;
};

// The few HTTP/1.1 GETs the peer link makes (game pings and asks), over one kept-alive TCP
// connection with Nagle off. It replaces httplib's client on the ping path, which spent
// three poll() calls and a loop of checks before each send: a GET here is one send() and,
// as a rule, one recv() (the socket blocks with a receive timeout; no poll).
//
// A connection is opened on first use and kept until the peer closes it (or says
// "Connection: close"), Close() is called, or an exchange fails. A GET on a kept
// connection that turns out closed (the peer's idle timeout, a restart) is sent once more
// on a new one, at once: the peer may then see the request twice, which the game's
// requests allow (a ping of a seq it already has, an ask it already answered).
//
// Get, Open and Close are called by one thread at a time; Interrupt by any.
class HttpConnection {
 public:
  struct Timeouts {
    std::chrono::milliseconds connect{250};
    std::chrono::microseconds reply{500'000};  // from the request's send to its whole answer
  };
  // Answers bigger than this are refused (ours are a word or a line).
  static constexpr size_t kMaxReplyBytes = 16 * 1024;

  HttpConnection(std::string host, int port);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // GET `target` (path and query, already encoded). An error says what failed: connect,
  // send, no answer within the timeout, an answer that is not HTTP, or Interrupt.
  absl::StatusOr<HttpReply> Get(absl::string_view target, const Timeouts& timeouts);

  // Opens a connection now unless a usable one is kept, so that the next Get does not
  // wait for the handshake. A failure changes nothing else: the next Get tries again.
  absl::Status Open(std::chrono::milliseconds connect_timeout);
  // Closes the kept connection, if any; the next Get opens another.
  void Close();
  // Makes a Get in progress on another thread fail at once (for shutdown). A later Get
  // works again.
  void Interrupt();

  // Connections opened so far (for tests: whether one was kept).
  int connections_opened() const { return connections_opened_; }

 private:
  // One attempt on the kept connection or a new one; `reused` says which it was.
  absl::StatusOr<HttpReply> Exchange(const Timeouts& timeouts, bool& reused);
  // The kept connection when it is still usable (`reused`), else a new one.
  absl::Status KeptOrNewConnection(std::chrono::milliseconds connect_timeout, bool& reused);
  absl::Status Connect(std::chrono::milliseconds timeout);
  // Whether the kept connection is still open with nothing unread on it.
  bool KeptConnectionUsable() const;
  // Reads one whole answer to the request just sent.
  absl::StatusOr<HttpReply> ReadReply(std::chrono::steady_clock::time_point deadline,
                                      bool& nothing_received);
  void SetReceiveTimeout(std::chrono::microseconds timeout);

  const std::string host_;
  const int port_;
  std::string request_;  // reused between GETs
  std::string buffer_;   // the answer's bytes
  std::mutex fd_mu_;     // fd_ against Interrupt
  int fd_ = -1;
  std::atomic<uint64_t> interrupts_{0};
  uint64_t interrupts_at_start_ = 0;  // interrupts_ when the Get or Open in progress began
  bool Interrupted() const { return interrupts_.load() != interrupts_at_start_; }
  bool close_after_reply_ = false;
  std::chrono::microseconds receive_timeout_{-1};  // as set on fd_
  int connections_opened_ = 0;
};

}  // namespace pong

#endif  // PONG_SERVER_HTTP_CLIENT_H_
