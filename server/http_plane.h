#ifndef PONG_SERVER_HTTP_PLANE_H_
#define PONG_SERVER_HTTP_PLANE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/engine.h"
#include "server/ping_auth.h"

namespace pong {

class GuardedHttpServer;
struct HttpRequest;
struct HttpResponse;

// The game's HTTP plane: GET /ping answers "pong" and hands game pings to the engine, GET
// /confirm hands it the peer's asks of paired commands; with a guard (a pair secret),
// only those it admits, the others get 403. Hostile clients
// meet the limits of GuardedHttpServer.
// Bind, then Start from one thread; Stop from any thread, once.
class HttpPlane {
 public:
  explicit HttpPlane(GameEngine& engine, PingGuard* guard = nullptr);
  ~HttpPlane();  // stops if still running

  // Binds host:port (port 0 picks a free one) and returns the bound port.
  absl::StatusOr<int> Bind(const std::string& host, int port);
  // Serves on threads of its own.
  void Start();
  void Stop();

 private:
  // Routes: GET (or HEAD) /ping and /confirm; 405 for other methods there, 404 elsewhere.
  void Handle(const HttpRequest& req, HttpResponse& res);
  void HandlePing(const HttpRequest& req, HttpResponse& res);
  void HandleConfirm(const HttpRequest& req, HttpResponse& res);

  GameEngine& engine_;
  PingGuard* const guard_;  // null: no pair secret
  std::unique_ptr<GuardedHttpServer> server_;
};

}  // namespace pong

#endif  // PONG_SERVER_HTTP_PLANE_H_
