#include "server/http_plane.h"

#include <httplib.h>
#include <sys/socket.h>

#include "absl/strings/str_cat.h"
#include "server/core/ping.h"
#include "server/guarded_http_server.h"
#include "server/ping_query.h"

namespace pong {
namespace {

constexpr char kTextPlain[] = "text/plain";

void Reply(httplib::Response& res, int status, absl::string_view body) {
  res.status = status;
  res.set_content(std::string(body), kTextPlain);
}

}  // namespace

HttpPlane::HttpPlane(GameEngine& engine, PingGuard* guard)
    : engine_(engine),
      guard_(guard),
      server_(std::make_unique<GuardedHttpServer>(GuardedHttpServer::Limits{})) {
  httplib::Server& server = *server_;
  server.set_tcp_nodelay(true);
  server.set_keep_alive_max_count(1'000'000);
  // An idle kept-alive connection holds a thread (waking every 100 ms to see a stop) and
  // makes stop() wait for it; closing it after 1 s bounds both. The peer link reconnects.
  server.set_keep_alive_timeout(1);

  server.Get("/ping", [this](const httplib::Request& req, httplib::Response& res) {
    absl::StatusOr<PingQuery> query = ReadPingQuery(req.params);
    absl::StatusOr<std::optional<GamePing>> ping = query.ok() ? ParsePing(*query) : query.status();
    if (!ping.ok()) return Reply(res, 400, absl::StrCat(ping.status().message(), "\n"));
    if (!ping->has_value()) return Reply(res, 200, "pong");  // liveness: changes nothing
    if (guard_ != nullptr && !guard_->Admit(**ping, query->mac)) {
      return Reply(res, 403, "game ping not authenticated: missing or wrong mac\n");
    }
    const PingVerdict verdict = engine_.OnPing(**ping, GuardedHttpServer::RequestAge());
    if (verdict.kind == PingVerdict::kRefused) {
      return Reply(res, 409, absl::StrCat(verdict.reason, "\n"));
    }
    Reply(res, 200, "pong");
  });
  // A paired command's ask from the peer (server/core/confirm.h).
  server.Get("/confirm", [this](const httplib::Request& req, httplib::Response& res) {
    absl::StatusOr<ConfirmQuery> query = ReadConfirmQuery(req.params);
    absl::StatusOr<ConfirmAsk> ask = query.ok() ? ParseConfirm(*query) : query.status();
    if (!ask.ok()) return Reply(res, 400, absl::StrCat(ask.status().message(), "\n"));
    if (guard_ != nullptr && !guard_->Admit(*ask, query->mac)) {
      return Reply(res, 403, "confirm not authenticated: missing or wrong mac\n");
    }
    const ConfirmReply reply = engine_.OnConfirmAsk(*ask);
    switch (reply.kind) {
      case ConfirmReply::kConfirmed:
        return Reply(res, 200, "confirmed");
      case ConfirmReply::kUnknown:
        return Reply(res, 404, absl::StrCat("no command ", ask->command_id, " here\n"));
      default:
        return Reply(res, 409, absl::StrCat(reply.reason, "\n"));
    }
  });
  // Any other method, before routing: 405 on /ping (with Allow), 404 elsewhere. (A
  // method token httplib cannot parse at all is a 400 from its parser.)
  server.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    if (req.method == "GET" || req.method == "HEAD") {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    if (req.path == "/ping" || req.path == "/confirm") {
      res.set_header("Allow", "GET, HEAD");
      Reply(res, 405, absl::StrCat("method not allowed: ", req.path, " takes GET\n"));
    } else {
      Reply(res, 404, "not found\n");
    }
    return httplib::Server::HandlerResponse::Handled;
  });
  // httplib's default sets SO_REUSEPORT, which lets a second server share a busy port and
  // take half of the peer's connections; SO_REUSEADDR alone only allows a quick restart.
  server.set_socket_options([](int sock) {
    const int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  server.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) {
      res.set_content(absl::StrCat("HTTP ", res.status, "\n"), kTextPlain);
    }
  });
}

HttpPlane::~HttpPlane() { Stop(); }

absl::StatusOr<int> HttpPlane::Bind(const std::string& host, int port) {
  const int bound =
      port == 0 ? server_->bind_to_any_port(host) : (server_->bind_to_port(host, port) ? port : -1);
  if (bound <= 0 || !server_->WidenListenQueue()) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen for HTTP on ", host, ":", port, " (in use?)"));
  }
  return bound;
}

void HttpPlane::Start() {
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  // httplib's stop() is lost if it comes before the thread is listening, and join would
  // then wait for ever; so Start returns only once it listens (0.11 has no
  // wait_until_ready()).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!server_->is_running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

void HttpPlane::Stop() {
  if (!thread_.joinable()) return;
  server_->stop();
  thread_.join();
}

}  // namespace pong
