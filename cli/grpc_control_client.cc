#include "cli/grpc_control_client.h"

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/proto_time.h"

namespace pong::cli {
namespace {

// gRPC and abseil share the canonical code numbers.
absl::Status ToAbsl(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

template <typename Request>
Request CommonFields(const CommandRequest& command) {
  Request request;
  request.set_command_id(command.command_id);
  *request.mutable_effective_at() = ToProto(command.effective_at);
  return request;
}

template <typename Response>
absl::StatusOr<v1::CommandResult> ResultOf(const grpc::Status& status, Response& response) {
  if (!status.ok()) return ToAbsl(status);
  return std::move(*response.mutable_result());
}

}  // namespace

GrpcControlClient::GrpcControlClient(const std::string& address, std::string token)
    : stub_(v1::GameControl::NewStub(
          grpc::CreateChannel(address, grpc::InsecureChannelCredentials()))),
      token_(std::move(token)) {}

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
      return ResultOf(stub_->Start(&context, request, &response), response);
    }
    case v1::COMMAND_KIND_PAUSE: {
      v1::PauseResponse response;
      return ResultOf(stub_->Pause(&context, CommonFields<v1::PauseRequest>(command), &response),
                      response);
    }
    case v1::COMMAND_KIND_RESUME: {
      v1::ResumeResponse response;
      return ResultOf(stub_->Resume(&context, CommonFields<v1::ResumeRequest>(command), &response),
                      response);
    }
    case v1::COMMAND_KIND_STOP: {
      v1::StopResponse response;
      return ResultOf(stub_->Stop(&context, CommonFields<v1::StopRequest>(command), &response),
                      response);
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
  return ResultOf(stub_->Cancel(&context, request, &response), response);
}

absl::StatusOr<v1::GameStatus> GrpcControlClient::GetStatus(absl::Time deadline) {
  grpc::ClientContext context;
  Prepare(context, deadline);
  v1::GetStatusResponse response;
  if (grpc::Status status = stub_->GetStatus(&context, v1::GetStatusRequest(), &response);
      !status.ok()) {
    return ToAbsl(status);
  }
  return std::move(*response.mutable_status());
}

}  // namespace pong::cli
