#ifndef PONG_TESTS_SUPPORT_GAME_CONTROL_CLIENT_H_
#define PONG_TESTS_SUPPORT_GAME_CONTROL_CLIENT_H_

#include <grpcpp/channel.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pong/v1/pong.grpc.pb.h"

namespace pong::testing {

// A channel to HOST:PORT without any proxy, whatever the environment says.
std::shared_ptr<grpc::Channel> NewInsecureChannel(const std::string& target);

// pong.v1.GameControl with a fresh ClientContext and a deadline of `timeout` per call.
// The state-changing calls fill `result` only when the status is OK. Thread-safe.
class GameControlClient {
 public:
  explicit GameControlClient(std::shared_ptr<grpc::Channel> channel,
                             absl::Duration timeout = absl::Seconds(5));

  grpc::Status Start(const v1::StartRequest& request, v1::CommandResult* result);
  grpc::Status Pause(const v1::PauseRequest& request, v1::CommandResult* result);
  grpc::Status Resume(const v1::ResumeRequest& request, v1::CommandResult* result);
  grpc::Status Stop(const v1::StopRequest& request, v1::CommandResult* result);
  grpc::Status Cancel(const std::string& command_id, v1::CommandResult* result);
  grpc::Status GetStatus(v1::GameStatus* status);
  // GetStatus for polling loops; the RPC's failure as an absl::Status.
  absl::StatusOr<v1::GameStatus> Status();

  v1::GameControl::Stub& stub() { return *stub_; }

 private:
  void Prepare(grpc::ClientContext& context) const;

  // One state-changing RPC: every response carries a CommandResult.
  template <typename Request, typename Response>
  grpc::Status Command(grpc::Status (v1::GameControl::Stub::*rpc)(grpc::ClientContext*,
                                                                  const Request&, Response*),
                       const Request& request, v1::CommandResult* result) {
    grpc::ClientContext context;
    Prepare(context);
    Response response;
    grpc::Status status = (stub_.get()->*rpc)(&context, request, &response);
    if (status.ok()) *result = response.result();
    return status;
  }

  std::unique_ptr<v1::GameControl::Stub> stub_;
  const absl::Duration timeout_;
};

}  // namespace pong::testing

#endif  // PONG_TESTS_SUPPORT_GAME_CONTROL_CLIENT_H_
