#ifndef PONG_SERVER_GUARDED_HTTP_SERVER_H_
#define PONG_SERVER_GUARDED_HTTP_SERVER_H_

#include <httplib.h>
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <optional>

#include "absl/time/time.h"
#include "server/elastic_pool.h"

namespace pong {

// recvmsg of up to `size` bytes into `buffer`, again on EINTR. `arrival` gets the kernel's
// receive time of the bytes when the socket has SO_TIMESTAMPNS on (and the kernel
// stamped them), nullopt otherwise.
ssize_t ReceiveStamped(int sock, char* buffer, size_t size, std::optional<absl::Time>& arrival);

// An httplib::Server whose connections hostile clients cannot pin down. Debian's httplib
// (0.11) is a compiled library whose limits are fixed at its build: any number of header
// lines, a read timeout per recv (so one byte every few seconds holds a worker for ever)
// and a pool of 8 threads that queues every other connection, the peer's game pings
// included. This server reads each request through a stream of its own that
//  - refuses a head (request line and headers) over max_head_bytes with 414 (the request
//    line alone) or 431, before reading more of it;
//  - refuses a request line with a control or non-ASCII byte (garbage, a TLS ClientHello)
//    with 400 at once;
//  - refuses a declared body over max_body_bytes with 413, and a Transfer-Encoding (a
//    body of no declared size, which httplib 0.11 would read without limit) with 411,
//    before reading the body;
//  - refuses with 408 a request that has not arrived whole request_timeout after its first
//    byte, and closes a connection that sends nothing for the keep-alive timeout;
// and runs connections on an ElasticPool, so slow clients hold threads of their own
// instead of queueing the peer behind them. Refusals close the connection. It also
// notes when the kernel received each request's first bytes (SO_TIMESTAMPNS), for
// handlers: RequestArrival(), RequestAge(). Configure and run like any httplib::Server.
class GuardedHttpServer : public httplib::Server {
 public:
  struct Limits {
    size_t max_head_bytes = 8192;
    size_t max_body_bytes = 1024;  // a game ping has no body
    std::chrono::milliseconds request_timeout{2000};
    ElasticPool::Options pool;
    int listen_backlog = 512;  // httplib's own is 5: a burst of connects would see SYNs dropped
  };

  explicit GuardedHttpServer(Limits limits);

  // After bind_to_port / bind_to_any_port: widens the listen queue to limits.listen_backlog
  // and turns on receive timestamps (for RequestArrival).
  bool WidenListenQueue();

  // In a handler: when the kernel received the first bytes of the request this thread is
  // handling (wall clock), before this thread woke up and parsed it; nullopt if unknown.
  static std::optional<absl::Time> RequestArrival();
  // How long ago that was (both on the system's realtime clock, as the kernel stamps).
  static std::optional<absl::Duration> RequestAge();

 private:
  bool process_and_close_socket(socket_t sock) override;
  // Under ThreadSanitizer only (a no-op otherwise): httplib, a compiled library TSan does
  // not instrument, builds function-local statics on the first request it parses (e.g. the
  // method names in Server::parse_request_line). Later requests on other threads skip the
  // static's guard through a load in httplib's code, which TSan cannot see, so their reads
  // looked like races with the first request's writes, in frames of the stripped library
  // that no suppression can name. Parsing requests here, before the server's threads
  // exist, builds those statics in an order TSan sees.
  void PrimeLibraryStatics();

  const Limits limits_;
};

}  // namespace pong

#endif  // PONG_SERVER_GUARDED_HTTP_SERVER_H_
