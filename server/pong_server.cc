#include "server/pong_server.h"

#include <grpc/grpc.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.pb.h"
#include "server/tls_files.h"

namespace pong {
namespace {

// The token file's rules, and long enough that a mac seen on the network does not give
// the secret away to an offline guess.
absl::StatusOr<std::string> ReadPairSecret(const std::string& path) {
  absl::StatusOr<std::string> secret = ReadSecretFile("--pair_secret_file", path);
  if (secret.ok() && secret->size() < kMinPairSecretLength) {
    return absl::FailedPreconditionError(
        absl::StrCat("--pair_secret_file ", path, " holds ", secret->size(),
                     " characters; a pair secret needs at least ", kMinPairSecretLength));
  }
  return secret;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PongServer>> PongServer::Start(const ServerOptions& options,
                                                              const Clock& clock,
                                                              std::unique_ptr<PeerLink> peer) {
  std::string token;
  if (!options.control_token_file.empty()) {
    absl::StatusOr<std::string> read =
        ReadSecretFile("--control_token_file", options.control_token_file);
    if (!read.ok()) return read.status();
    token = *std::move(read);
  }
  // Three macs under the pair secret, one per thread that uses one: the ball thread signs
  // pings, the command thread signs asks, the HTTP plane's workers verify (one at a time).
  std::unique_ptr<PingMac> signer;
  std::unique_ptr<PingMac> confirm_signer;
  std::unique_ptr<PingMac> verifier;
  if (!options.pair_secret_file.empty()) {
    absl::StatusOr<std::string> secret = ReadPairSecret(options.pair_secret_file);
    if (!secret.ok()) return secret.status();
    for (std::unique_ptr<PingMac>* mac : {&signer, &confirm_signer, &verifier}) {
      absl::StatusOr<std::unique_ptr<PingMac>> made = PingMac::Create(*secret);
      if (!made.ok()) return made.status();
      *mac = *std::move(made);
    }
  }
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (!options.tls_cert_file.empty() || !options.tls_key_file.empty()) {
    absl::StatusOr<TlsKeyCert> tls = ReadTlsKeyCert(options.tls_cert_file, options.tls_key_file);
    if (!tls.ok()) return tls.status();
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({tls->private_key, tls->cert_chain});
    credentials = grpc::SslServerCredentials(ssl);
  }
  std::unique_ptr<PongServer> server(new PongServer());
  absl::StatusOr<std::unique_ptr<EventLog>> log =
      EventLog::Open(options.log_file, options.name, options.log_micros);
  if (!log.ok()) return log.status();
  server->log_ = std::move(*log);
  server->peer_ = peer ? std::move(peer)
                       : std::make_unique<HttpPeerLink>(options.peer, std::move(signer),
                                                        std::move(confirm_signer));
  server->engine_ = std::make_unique<GameEngine>(clock, *server->peer_, *server->log_);

  if (verifier) {
    server->ping_guard_ = std::make_unique<PingGuard>(std::move(verifier), *server->log_);
  }
  server->http_ = std::make_unique<HttpPlane>(*server->engine_, server->ping_guard_.get());
  absl::StatusOr<int> http_port = server->http_->Bind(options.bind, options.http_port);
  if (!http_port.ok()) return http_port.status();
  server->http_port_ = *http_port;

  server->authorizer_ = std::make_unique<Authorizer>(std::move(token), *server->log_);
  server->service_ = std::make_unique<ControlService>(
      *server->engine_,
      InstanceInfo{options.name, absl::StrCat(options.bind, ":", *http_port),
                   options.peer.ToString()},
      *server->authorizer_);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // gRPC sets SO_REUSEPORT by default, which lets a second server share a busy port.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Every request is a few hundred bytes at most (a command_id is up to 128 characters);
  // a bigger one is RESOURCE_EXHAUSTED before it reaches a handler.
  builder.SetMaxReceiveMessageSize(kMaxControlRequestBytes);
  builder.AddListeningPort(absl::StrCat(options.bind, ":", options.grpc_port), credentials,
                           &server->grpc_port_);
  builder.RegisterService(server->service_.get());
  server->grpc_ = builder.BuildAndStart();
  if (server->grpc_ == nullptr || server->grpc_port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen for gRPC on ", options.bind, ":",
                                               options.grpc_port, " (in use?)"));
  }
  // `grpc_health_probe -service=pong.v1.GameControl` works too, not only the server's "".
  server->grpc_->GetHealthCheckService()->SetServingStatus(v1::GameControl::service_full_name(),
                                                           true);
  // Referencing health.proto's descriptor links it in, so reflection can describe
  // grpc.health.v1.Health to grpcurl (gRPC itself serves health through upb).
  grpc::health::v1::HealthCheckRequest::descriptor();
  server->http_->Start();
  server->log_->Write(
      absl::Now(),
      absl::StrCat("listening http=", options.bind, ":", server->http_port_, " grpc=", options.bind,
                   ":", server->grpc_port_, " peer=", options.peer.ToString(),
                   options.control_token_file.empty() ? "" : " control=token",
                   options.tls_cert_file.empty() ? "" : " control=tls",
                   options.pair_secret_file.empty() ? "" : " pings=mac"));
  return server;
}

PongServer::~PongServer() { Shutdown(); }

void PongServer::Shutdown() {
  if (http_ == nullptr) return;
  // No new commands first, then no timers (closing our connection to the peer, so its
  // HTTP plane need not wait for it), then no pings.
  if (grpc_) grpc_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  engine_->Stop();
  http_->Stop();
  log_->Write(absl::Now(), "stopped");
  http_.reset();
}

}  // namespace pong
