#ifndef PONG_CLI_GRPC_CONTROL_CLIENT_H_
#define PONG_CLI_GRPC_CONTROL_CLIENT_H_

#include <memory>
#include <string>

#include "cli/control_client.h"
#include "pong/v1/pong.grpc.pb.h"

namespace pong::cli {

// ControlClient over gRPC: a channel to HOST:PORT (plain, or TLS with a CA) and the
// generated blocking stub, with a fresh ClientContext and deadline per call (and the control
// token, if any). Blocking calls fit here: the CLI has no reactor to keep free, and the fan-out
// gives each instance its own thread. Thread-safe, like the stub.
class GrpcControlClient final : public ControlClient {
 public:
  // token empty: calls carry no authorization metadata. tls_ca_pem empty: plain gRPC;
  // otherwise TLS, trusting that CA for the instance's certificate.
  explicit GrpcControlClient(const std::string& address, std::string token = "",
                             const std::string& tls_ca_pem = "");

  absl::StatusOr<v1::CommandResult> Submit(const CommandRequest& request,
                                           absl::Time deadline) override;
  absl::StatusOr<v1::CommandResult> Cancel(absl::string_view command_id,
                                           absl::Time deadline) override;
  absl::StatusOr<v1::GameStatus> GetStatus(absl::Time deadline) override;

 private:
  void Prepare(grpc::ClientContext& context, absl::Time deadline) const;

  std::unique_ptr<v1::GameControl::Stub> stub_;
  const std::string token_;
  const bool tls_;
};

}  // namespace pong::cli

#endif  // PONG_CLI_GRPC_CONTROL_CLIENT_H_
