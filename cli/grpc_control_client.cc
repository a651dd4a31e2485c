#include "cli/grpc_control_client.h"

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/proto_time.h"

namespace pong::cli {
namespace {

// gRPC and abseil share the canonical code numbers. A TLS mismatch shows as UNAVAILABLE
// (a closed socket, a failed handshake): unless the port plainly refused the connection,
// the message says which side of TLS pong-cli was on.
absl::Status ToAbsl(const grpc::Status& status, bool tls) {
  if (status.ok()) return absl::OkStatus();
  std::string message = status.error_message();
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE &&
      !absl::StrContains(message, "Connection refused")) {
    absl::StrAppend(&message,
                    tls ? " (pong-cli speaks TLS because of --tls_ca: does the instance serve "
                          "TLS (--tls_cert), with a certificate for this host signed by that CA?)"
                        : " (pong-cli speaks plain gRPC: if the instance serves TLS "
                          "(--tls_cert), give --tls_ca)");
  }
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), message);
}

template <typename Request>
Request CommonFields(const CommandRequest& command) {
  Request request;
  request.set_command_id(command.command_id);
  *request.mutable_effective_at() = ToProto(command.effective_at);
  request.set_paired(command.paired);
  return request;
}

template <typename Response>
absl::StatusOr<v1::CommandResult> ResultOf(bool tls, const grpc::Status& status,
                                           Response& response) {
  if (!status.ok()) return ToAbsl(status, tls);
  return std::move(*response.mutable_result());
}

std::shared_ptr<grpc::ChannelCredentials> Credentials(const std::string& tls_ca_pem) {
  if (tls_ca_pem.empty()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = tls_ca_pem;
  return grpc::SslCredentials(options);
}

}  // namespace

GrpcControlClient::GrpcControlClient(const std::string& address, std::string token,
                                     const std::string& tls_ca_pem)
    : stub_(v1::GameControl::NewStub(grpc::CreateChannel(address, Credentials(tls_ca_pem)))),
      token_(std::move(token)),
      tls_(!tls_ca_pem.empty()) {}

void GrpcControlClient::Prepare(grpc::ClientContext& context, absl::Time deadline) const {
  context.set_deadline(absl::ToChronoTime(deadline));
  if (!token_.empty()) context.AddMetadata("authorization", absl::StrCat("Bearer ", token_));
}

absl::StatusOr<v1::CommandResult> GrpcControlClient::Submit(const CommandRequest& command,
                                                            absl::Time deadline) {
  grpc::ClientContext context;
  Prepare(context, deadline);
  switch (command.kind) {
    case v1::COMMAND_KIND_START: {
      auto request = CommonFields<v1::StartRequest>(command);
      request.set_pong_time_ms(command.pong_time_ms);
      request.set_serve(command.serve);
      request.set_game_id(command.game_id);
      v1::StartResponse response;
      return ResultOf(tls_, stub_->Start(&context, request, &response), response);
    }
    case v1::COMMAND_KIND_PAUSE: {
      v1::PauseResponse response;
      return ResultOf(tls_,
                      stub_->Pause(&context, CommonFields<v1::PauseRequest>(command), &response),
                      response);
    }
    case v1::COMMAND_KIND_RESUME: {
      v1::ResumeResponse response;
      return ResultOf(tls_,
                      stub_->Resume(&context, CommonFields<v1::ResumeRequest>(command), &response),
                      response);
    }
    case v1::COMMAND_KIND_STOP: {
      v1::StopResponse response;
      return ResultOf(
          tls_, stub_->Stop(&context, CommonFields<v1::StopRequest>(command), &response), response);
    }
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("not a state-changing command: ", v1::CommandKind_Name(command.kind)));
  }
}

absl::StatusOr<v1::CommandResult> GrpcControlClient::Cancel(absl::string_view command_id,
                                                            absl::Time deadline) {
  grpc::ClientContext context;
  Prepare(context, deadline);
  v1::CancelRequest request;
  request.set_command_id(std::string(command_id));
  v1::CancelResponse response;
  return ResultOf(tls_, stub_->Cancel(&context, request, &response), response);
}

absl::StatusOr<v1::GameStatus> GrpcControlClient::GetStatus(absl::Time deadline) {
  grpc::ClientContext context;
  Prepare(context, deadline);
  v1::GetStatusResponse response;
  if (grpc::Status status = stub_->GetStatus(&context, v1::GetStatusRequest(), &response);
      !status.ok()) {
    return ToAbsl(status, tls_);
  }
  return std::move(*response.mutable_status());
}

}  // namespace pong::cli
