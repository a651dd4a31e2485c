#ifndef PONG_SERVER_CONTROL_SERVICE_H_
#define PONG_SERVER_CONTROL_SERVICE_H_

#include "pong/v1/pong.grpc.pb.h"
#include "server/authorizer.h"
#include "server/engine.h"
#include "server/proto_convert.h"

namespace pong {

// pong.v1.GameControl over the engine. Each handler converts, calls the engine (which
// never waits for a scheduled time) and finishes at once; a call the authorizer refuses
// changes nothing. Called by gRPC's threads.
class ControlService final : public v1::GameControl::CallbackService {
 public:
  ControlService(GameEngine& engine, InstanceInfo info, const Authorizer& authorizer);

  grpc::ServerUnaryReactor* Start(grpc::CallbackServerContext* context,
                                  const v1::StartRequest* request,
                                  v1::StartResponse* response) override;
  grpc::ServerUnaryReactor* Pause(grpc::CallbackServerContext* context,
                                  const v1::PauseRequest* request,
                                  v1::PauseResponse* response) override;
  grpc::ServerUnaryReactor* Resume(grpc::CallbackServerContext* context,
                                   const v1::ResumeRequest* request,
                                   v1::ResumeResponse* response) override;
  grpc::ServerUnaryReactor* Stop(grpc::CallbackServerContext* context,
                                 const v1::StopRequest* request,
                                 v1::StopResponse* response) override;
  grpc::ServerUnaryReactor* Cancel(grpc::CallbackServerContext* context,
                                   const v1::CancelRequest* request,
                                   v1::CancelResponse* response) override;
  grpc::ServerUnaryReactor* GetStatus(grpc::CallbackServerContext* context,
                                      const v1::GetStatusRequest* request,
                                      v1::GetStatusResponse* response) override;

 private:
  // Checks the caller's token, then does `work` (which returns the call's status) and
  // finishes the call: the one path of every handler.
  template <typename Work>
  grpc::ServerUnaryReactor* Serve(grpc::CallbackServerContext* context, absl::string_view method,
                                  Work work);
  template <typename Request>
  grpc::Status Submit(const Request& request, v1::CommandResult* result);
  grpc::Status Finish(const absl::StatusOr<CommandOutcome>& outcome, v1::CommandResult* result);

  GameEngine& engine_;
  const Authorizer& authorizer_;
  const InstanceInfo info_;
};

}  // namespace pong

#endif  // PONG_SERVER_CONTROL_SERVICE_H_
