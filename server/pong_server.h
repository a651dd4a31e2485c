#ifndef PONG_SERVER_PONG_SERVER_H_
#define PONG_SERVER_PONG_SERVER_H_

#include <grpcpp/server.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/authorizer.h"
#include "server/control_service.h"
#include "server/engine.h"
#include "server/event_log.h"
#include "server/http_plane.h"
#include "server/peer_link.h"

namespace pong {

// The largest gRPC request the control plane reads.
inline constexpr int kMaxControlRequestBytes = 64 * 1024;

struct ServerOptions {
  std::string name = "pong";
  std::string bind = "127.0.0.1";
  int http_port = 8081;  // 0 picks a free port
  int grpc_port = 50051;
  HostPort peer{"127.0.0.1", 8082};
  std::string log_file;     // empty: standard error
  bool log_micros = false;  // log timestamps with microseconds (tools/bench)
  // Empty: GameControl is open to anyone who can reach it. Otherwise every call must carry
  // "authorization: Bearer <the file's content, trimmed>"; the file must be mode 0600.
  std::string control_token_file;
  // Empty: game pings carry no mac and any is taken. Otherwise (the same file on both
  // instances, mode 0600) every game ping sent carries an HMAC-SHA256 under its content
  // and one received without a valid one is refused with 403 before the engine sees it.
  std::string pair_secret_file;
  // Both empty: plain gRPC. Both set: the control plane serves TLS with this PEM
  // certificate (chain) and key; the key must not be readable by others.
  std::string tls_cert_file;
  std::string tls_key_file;
};

// One pong instance: the engine with its HTTP plane and its gRPC control plane.
// Construct with Start; Shutdown (or the destructor) from the owning thread.
class PongServer {
 public:
  // peer == nullptr: game pings go over HTTP to options.peer.
  static absl::StatusOr<std::unique_ptr<PongServer>> Start(
      const ServerOptions& options, const Clock& clock, std::unique_ptr<PeerLink> peer = nullptr);
  ~PongServer();

  int http_port() const { return http_port_; }
  int grpc_port() const { return grpc_port_; }
  EventLog& log() { return *log_; }
  // Stops serving, lets calls in progress finish (up to a second), stops the game.
  void Shutdown();

 private:
  PongServer() = default;

  std::unique_ptr<EventLog> log_;
  std::unique_ptr<PeerLink> peer_;
  std::unique_ptr<GameEngine> engine_;
  std::unique_ptr<PingGuard> ping_guard_;  // null without a pair secret
  std::unique_ptr<HttpPlane> http_;
  std::unique_ptr<Authorizer> authorizer_;
  std::unique_ptr<ControlService> service_;
  std::unique_ptr<grpc::Server> grpc_;
  int http_port_ = 0;
  int grpc_port_ = 0;
};

}  // namespace pong

#endif  // PONG_SERVER_PONG_SERVER_H_
