#include "tests/support/game_control_client.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include "absl/time/clock.h"

namespace pong::testing {

std::shared_ptr<grpc::Channel> NewInsecureChannel(const std::string& target) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);  // tests talk to 127.0.0.1 directly
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

GameControlClient::GameControlClient(std::shared_ptr<grpc::Channel> channel, absl::Duration timeout)
    : stub_(v1::GameControl::NewStub(channel)), timeout_(timeout) {}

void GameControlClient::Prepare(grpc::ClientContext& context) const {
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
}

grpc::Status GameControlClient::Start(const v1::StartRequest& request, v1::CommandResult* result) {
  return Command(&v1::GameControl::Stub::Start, request, result);
}

grpc::Status GameControlClient::Pause(const v1::PauseRequest& request, v1::CommandResult* result) {
  return Command(&v1::GameControl::Stub::Pause, request, result);
}

grpc::Status GameControlClient::Resume(const v1::ResumeRequest& request,
                                       v1::CommandResult* result) {
  return Command(&v1::GameControl::Stub::Resume, request, result);
}

grpc::Status GameControlClient::Stop(const v1::StopRequest& request, v1::CommandResult* result) {
  return Command(&v1::GameControl::Stub::Stop, request, result);
}

grpc::Status GameControlClient::Cancel(const std::string& command_id, v1::CommandResult* result) {
  grpc::ClientContext context;
  Prepare(context);
  v1::CancelRequest request;
  request.set_command_id(command_id);
  v1::CancelResponse response;
  grpc::Status status = stub_->Cancel(&context, request, &response);
  if (status.ok()) *result = response.result();
  return status;
}

grpc::Status GameControlClient::GetStatus(v1::GameStatus* status) {
  grpc::ClientContext context;
  Prepare(context);
  v1::GetStatusResponse response;
  grpc::Status rpc = stub_->GetStatus(&context, v1::GetStatusRequest(), &response);
  if (rpc.ok()) *status = response.status();
  return rpc;
}

absl::StatusOr<v1::GameStatus> GameControlClient::Status() {
  v1::GameStatus status;
  grpc::Status rpc = GetStatus(&status);
  if (!rpc.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(rpc.error_code()), rpc.error_message());
  }
  return status;
}

}  // namespace pong::testing
