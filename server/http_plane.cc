#include "server/http_plane.h"

#include "absl/strings/str_cat.h"
#include "server/core/ping.h"
#include "server/guarded_http_server.h"
#include "server/ping_query.h"

namespace pong {
namespace {

void Reply(HttpResponse& res, int status, absl::string_view body) {
  res.status = status;
  res.body = std::string(body);
}

}  // namespace

HttpPlane::HttpPlane(GameEngine& engine, PingGuard* guard)
    : engine_(engine),
      guard_(guard),
      server_(std::make_unique<GuardedHttpServer>(
          GuardedHttpServer::Limits{},
          [this](const HttpRequest& req, HttpResponse& res) { Handle(req, res); })) {}

HttpPlane::~HttpPlane() { Stop(); }

void HttpPlane::Handle(const HttpRequest& req, HttpResponse& res) {
  if (req.path != "/ping" && req.path != "/confirm") return Reply(res, 404, "not found\n");
  if (req.method != "GET" && req.method != "HEAD") {
    res.allow = "GET, HEAD";
    return Reply(res, 405, absl::StrCat("method not allowed: ", req.path, " takes GET\n"));
  }
  if (req.path == "/ping") return HandlePing(req, res);
  HandleConfirm(req, res);
}

void HttpPlane::HandlePing(const HttpRequest& req, HttpResponse& res) {
  absl::StatusOr<PingQuery> query = ReadPingQuery(req.params);
  absl::StatusOr<std::optional<GamePing>> ping = query.ok() ? ParsePing(*query) : query.status();
  if (!ping.ok()) return Reply(res, 400, absl::StrCat(ping.status().message(), "\n"));
  if (!ping->has_value()) return Reply(res, 200, "pong");  // liveness: changes nothing
  if (guard_ != nullptr && !guard_->Admit(**ping, query->mac)) {
    return Reply(res, 403, "game ping not authenticated: missing or wrong mac\n");
  }
  const PingVerdict verdict = engine_.OnPing(**ping, req.Age());
  if (verdict.kind == PingVerdict::kRefused) {
    return Reply(res, 409, absl::StrCat(verdict.reason, "\n"));
  }
  Reply(res, 200, "pong");
}

// A paired command's ask from the peer (server/core/confirm.h).
void HttpPlane::HandleConfirm(const HttpRequest& req, HttpResponse& res) {
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
}

absl::StatusOr<int> HttpPlane::Bind(const std::string& host, int port) {
  absl::StatusOr<int> bound = server_->Bind(host, port);
  if (!bound.ok()) {
    return absl::UnavailableError(absl::StrCat("cannot listen for HTTP on ", host, ":", port,
                                               " (in use?): ", bound.status().message()));
  }
  return bound;
}

void HttpPlane::Start() { server_->Start(); }

void HttpPlane::Stop() { server_->Stop(); }

}  // namespace pong
