#include "server/control_service.h"

namespace pong {
namespace {

grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* context, const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

}  // namespace

ControlService::ControlService(GameEngine& engine, InstanceInfo info, const Authorizer& authorizer)
    : engine_(engine), authorizer_(authorizer), info_(std::move(info)) {}

template <typename Request>
grpc::Status ControlService::Submit(const Request& request, v1::CommandResult* result) {
  absl::StatusOr<Command> command = ToCommand(request);
  if (!command.ok()) return ToGrpcStatus(command.status());
  return Finish(engine_.Submit(*command), result);
}

grpc::Status ControlService::Finish(const absl::StatusOr<CommandOutcome>& outcome,
                                    v1::CommandResult* result) {
  if (!outcome.ok()) return ToGrpcStatus(outcome.status());
  ToProto(*outcome, result);
  ToProto(engine_.Snapshot(), info_, result->mutable_status());
  return grpc::Status::OK;
}

template <typename Work>
grpc::ServerUnaryReactor* ControlService::Serve(grpc::CallbackServerContext* context,
                                                absl::string_view method, Work work) {
  grpc::Status status = authorizer_.Check(*context, method);
  if (status.ok()) status = work();
  return Done(context, status);
}

grpc::ServerUnaryReactor* ControlService::Start(grpc::CallbackServerContext* context,
                                                const v1::StartRequest* request,
                                                v1::StartResponse* response) {
  return Serve(context, "Start", [&] { return Submit(*request, response->mutable_result()); });
}

grpc::ServerUnaryReactor* ControlService::Pause(grpc::CallbackServerContext* context,
                                                const v1::PauseRequest* request,
                                                v1::PauseResponse* response) {
  return Serve(context, "Pause", [&] { return Submit(*request, response->mutable_result()); });
}

grpc::ServerUnaryReactor* ControlService::Resume(grpc::CallbackServerContext* context,
                                                 const v1::ResumeRequest* request,
                                                 v1::ResumeResponse* response) {
  return Serve(context, "Resume", [&] { return Submit(*request, response->mutable_result()); });
}

grpc::ServerUnaryReactor* ControlService::Stop(grpc::CallbackServerContext* context,
                                               const v1::StopRequest* request,
                                               v1::StopResponse* response) {
  return Serve(context, "Stop", [&] { return Submit(*request, response->mutable_result()); });
}

grpc::ServerUnaryReactor* ControlService::Cancel(grpc::CallbackServerContext* context,
                                                 const v1::CancelRequest* request,
                                                 v1::CancelResponse* response) {
  return Serve(context, "Cancel", [&] {
    return Finish(engine_.Cancel(request->command_id()), response->mutable_result());
  });
}

grpc::ServerUnaryReactor* ControlService::GetStatus(grpc::CallbackServerContext* context,
                                                    const v1::GetStatusRequest* /*request*/,
                                                    v1::GetStatusResponse* response) {
  return Serve(context, "GetStatus", [&] {
    ToProto(engine_.Snapshot(), info_, response->mutable_status());
    return grpc::Status::OK;
  });
}

}  // namespace pong
