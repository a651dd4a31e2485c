#ifndef PONG_SERVER_GUARDED_HTTP_SERVER_H_
#define PONG_SERVER_GUARDED_HTTP_SERVER_H_

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/elastic_pool.h"
#include "server/mutex.h"
#include "server/ping_query.h"

namespace pong {

// recvmsg of up to `size` bytes into `buffer`, again on EINTR. `arrival` gets the kernel's
// receive time of the bytes when the socket has SO_TIMESTAMPNS on (and the kernel
// stamped them), nullopt otherwise.
ssize_t ReceiveStamped(int sock, char* buffer, size_t size, std::optional<absl::Time>& arrival);

// A request as a handler sees it.
struct HttpRequest {
  std::string method;
  std::string path;  // the target up to '?', as sent
  QueryParams params;
  // When the kernel received the request's first bytes (realtime clock), before a thread
  // woke up and parsed it; nullopt if unknown.
  std::optional<absl::Time> arrival;

  // How long ago that was.
  std::optional<absl::Duration> Age() const;
};

// A handler's answer; its body is sent as text/plain.
struct HttpResponse {
  int status = 200;
  std::string body;
  std::string allow;  // an Allow header, when not empty
};

// The HTTP/1.1 server of the game's plane, built to stand hostile clients: the peer's
// pings must keep their rhythm whatever else connects. It
//  - refuses a head (request line and headers) over max_head_bytes with 414 (the request
//    line alone) or 431, before reading more of it;
//  - refuses a request line with a control or non-ASCII byte (garbage, a TLS ClientHello)
//    with 400 at once, and one that is not "METHOD TARGET HTTP/1.x" with 400;
//  - refuses a declared body over max_body_bytes with 413, and a Transfer-Encoding (a
//    body of no declared size) with 411, before reading the body;
//  - refuses with 408 a request that has not arrived whole request_timeout after its first
//    byte, and closes a connection that sends nothing for keep_alive_timeout;
//  - serves each connection on an ElasticPool thread, so slow clients hold threads of
//    their own instead of queueing the peer behind them.
// Refusals close the connection. Each request carries when the kernel received its first
// bytes (SO_TIMESTAMPNS). It replaced cpp-httplib's server, whose Debian build has its
// limits fixed (any number of headers, a fixed pool of 8 threads), polls kept-alive
// connections, and loads OpenSSL into the process.
//
// Bind, then Start, from one thread; Stop from any, once or more.
class GuardedHttpServer {
 public:
  struct Limits {
    size_t max_head_bytes = 8192;
    size_t max_body_bytes = 1024;  // a game ping has no body
    std::chrono::milliseconds request_timeout{2000};
    // An idle kept-alive connection is closed after this; the peer link reconnects.
    std::chrono::milliseconds keep_alive_timeout{1000};
    std::chrono::milliseconds write_timeout{5000};
    ElasticPool::Options pool{.thread_name = "pong-http"};
    int listen_backlog = 512;  // a burst of connects must not see SYNs dropped
  };
  // Called on a pool thread per request, by many threads at once.
  using Handler = std::function<void(const HttpRequest&, HttpResponse&)>;

  GuardedHttpServer(Limits limits, Handler handler);
  ~GuardedHttpServer();  // Stop()
  GuardedHttpServer(const GuardedHttpServer&) = delete;
  GuardedHttpServer& operator=(const GuardedHttpServer&) = delete;

  // Listens on host:port (0: a free port, returned); SO_REUSEADDR (a quick restart), not
  // SO_REUSEPORT (which would let a second server share the port and half the pings).
  absl::StatusOr<int> Bind(const std::string& host, int port);
  // Accepts connections on a thread of its own.
  void Start();
  // Stops accepting, ends every connection at once and joins their threads.
  void Stop();

 private:
  void Accept();
  void Serve(int sock);

  const Limits limits_;
  const Handler handler_;
  int listener_ = -1;
  std::atomic<bool> stopping_{false};
  Mutex stop_mu_;  // Stop against Stop
  Mutex connections_mu_;
  std::set<int> connections_ ABSL_GUARDED_BY(connections_mu_);  // being served
  std::thread acceptor_;
  ElasticPool pool_;
};

}  // namespace pong

#endif  // PONG_SERVER_GUARDED_HTTP_SERVER_H_
