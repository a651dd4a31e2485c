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

grpc::ServerUnaryReactor* ControlService::Start(grpc::CallbackServerContext* context,
                                                const v1::StartRequest* request,
                                                v1::StartResponse* response) {
  if (grpc::Status denied = authorizer_.Check(*context, "Start"); !denied.ok()) {
    return Done(context, denied);
  }
  return Done(context, Submit(*request, response->mutable_result()));
}

grpc::ServerUnaryReactor* ControlService::Pause(grpc::CallbackServerContext* context,
                                                const v1::PauseRequest* request,
                                                v1::PauseResponse* response) {
  if (grpc::Status denied = authorizer_.Check(*context, "Pause"); !denied.ok()) {
    return Done(context, denied);
  }
  return Done(context, Submit(*request, response->mutable_result()));
}

grpc::ServerUnaryReactor* ControlService::Resume(grpc::CallbackServerContext* context,
                                                 const v1::ResumeRequest* request,
                                                 v1::ResumeResponse* response) {
  if (grpc::Status denied = authorizer_.Check(*context, "Resume"); !denied.ok()) {
    return Done(context, denied);
  }
  return Done(context, Submit(*request, response->mutable_result()));
}

grpc::ServerUnaryReactor* ControlService::Stop(grpc::CallbackServerContext* context,
                                               const v1::StopRequest* request,
                                               v1::StopResponse* response) {
  if (grpc::Status denied = authorizer_.Check(*context, "Stop"); !denied.ok()) {
    return Done(context, denied);
  }
  return Done(context, Submit(*request, response->mutable_result()));
}

grpc::ServerUnaryReactor* ControlService::Cancel(grpc::CallbackServerContext* context,
                                                 const v1::CancelRequest* request,
                                                 v1::CancelResponse* response) {
  if (grpc::Status denied = authorizer_.Check(*context, "Cancel"); !denied.ok()) {
    return Done(context, denied);
  }
  return Done(context, Finish(engine_.Cancel(request->command_id()), response->mutable_result()));
}

grpc::ServerUnaryReactor* ControlService::GetStatus(grpc::CallbackServerContext* context,
                                                    const v1::GetStatusRequest* /*request*/,
                                                    v1::GetStatusResponse* response) {
  if (grpc::Status denied = authorizer_.Check(*context, "GetStatus"); !denied.ok()) {
    return Done(context, denied);
  }
  ToProto(engine_.Snapshot(), info_, response->mutable_status());
  return Done(context, grpc::Status::OK);
}

}  // namespace pong
