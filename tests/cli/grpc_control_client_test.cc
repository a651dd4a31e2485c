#include "cli/grpc_control_client.h"

#include <grpcpp/grpcpp.h>

#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pong/v1/pong.grpc.pb.h"
#include "server/proto_time.h"
#include "tests/support/free_port.h"

namespace pong::cli {
namespace {

using ::pong::testing::FreePort;

// Records what arrives and answers each RPC its own way. Called on gRPC's threads.
class RecordingService final : public v1::GameControl::Service {
 public:
  grpc::Status Start(grpc::ServerContext* context, const v1::StartRequest* request,
                     v1::StartResponse* response) override {
    std::lock_guard<std::mutex> lock(mu);
    start = *request;
    deadline = absl::FromChrono(context->deadline());
    response->mutable_result()->set_command_id(request->command_id());
    response->mutable_result()->set_phase(v1::COMMAND_PHASE_SCHEDULED);
    response->mutable_result()->mutable_status()->set_name("alpha");
    return grpc::Status::OK;
  }
  grpc::Status Pause(grpc::ServerContext*, const v1::PauseRequest* request,
                     v1::PauseResponse*) override {
    std::lock_guard<std::mutex> lock(mu);
    last_kind = "pause:" + request->command_id();
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "no game to pause");
  }
  grpc::Status Resume(grpc::ServerContext*, const v1::ResumeRequest* request,
                      v1::ResumeResponse* response) override {
    std::lock_guard<std::mutex> lock(mu);
    last_kind = "resume:" + request->command_id();
    response->mutable_result()->set_phase(v1::COMMAND_PHASE_NO_OP);
    response->mutable_result()->set_message("already running");
    return grpc::Status::OK;
  }
  grpc::Status Stop(grpc::ServerContext*, const v1::StopRequest* request,
                    v1::StopResponse* response) override {
    std::lock_guard<std::mutex> lock(mu);
    last_kind = "stop:" + request->command_id();
    stop_effective_at = FromProto(request->effective_at());
    response->mutable_result()->set_phase(v1::COMMAND_PHASE_APPLIED);
    return grpc::Status::OK;
  }
  grpc::Status Cancel(grpc::ServerContext*, const v1::CancelRequest* request,
                      v1::CancelResponse*) override {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "no command " + request->command_id());
  }
  grpc::Status GetStatus(grpc::ServerContext*, const v1::GetStatusRequest*,
                         v1::GetStatusResponse* response) override {
    response->mutable_status()->set_name("alpha");
    response->mutable_status()->set_state(v1::GAME_STATE_PAUSED);
    return grpc::Status::OK;
  }

  std::mutex mu;
  v1::StartRequest start;
  absl::Time deadline;
  std::string last_kind;
  absl::Time stop_effective_at;
};

class GrpcControlClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
    client_ = std::make_unique<GrpcControlClient>(absl::StrCat("127.0.0.1:", port_));
  }
  void TearDown() override {
    if (server_) server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  }

  static absl::Time Soon() { return absl::Now() + absl::Seconds(5); }

  RecordingService service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<GrpcControlClient> client_;
};

TEST_F(GrpcControlClientTest, StartCarriesEveryField) {
  const absl::Time effective_at = absl::FromUnixMillis(1'750'000'000'123);
  const absl::Time deadline = absl::Now() + absl::Seconds(3);
  const absl::StatusOr<v1::CommandResult> result =
      client_->Submit(CommandRequest{.kind = v1::COMMAND_KIND_START,
                                     .command_id = "cmd-1",
                                     .effective_at = effective_at,
                                     .pong_time_ms = 250,
                                     .serve = true,
                                     .game_id = "0123456789abcdef0123456789abcdef"},
                      deadline);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->command_id(), "cmd-1");
  EXPECT_EQ(result->phase(), v1::COMMAND_PHASE_SCHEDULED);
  EXPECT_EQ(result->status().name(), "alpha");
  std::lock_guard<std::mutex> lock(service_.mu);
  EXPECT_EQ(service_.start.command_id(), "cmd-1");
  EXPECT_EQ(FromProto(service_.start.effective_at()), effective_at);
  EXPECT_EQ(service_.start.pong_time_ms(), 250);
  EXPECT_TRUE(service_.start.serve());
  EXPECT_EQ(service_.start.game_id(), "0123456789abcdef0123456789abcdef");
  // The deadline travels with the call (as a timeout, so not to the nanosecond).
  EXPECT_LT(absl::AbsDuration(service_.deadline - deadline), absl::Milliseconds(100));
}

TEST_F(GrpcControlClientTest, EachKindGoesToItsRpc) {
  const absl::Time at = absl::FromUnixSeconds(1'750'000'000) + absl::Nanoseconds(5);
  CommandRequest request;
  request.kind = v1::COMMAND_KIND_STOP;
  request.command_id = "c";
  request.effective_at = at;
  ASSERT_TRUE(client_->Submit(request, Soon()).ok());
  {
    std::lock_guard<std::mutex> lock(service_.mu);
    EXPECT_EQ(service_.last_kind, "stop:c");
    EXPECT_EQ(service_.stop_effective_at, at);
  }
  request.kind = v1::COMMAND_KIND_RESUME;
  const absl::StatusOr<v1::CommandResult> resumed = client_->Submit(request, Soon());
  ASSERT_TRUE(resumed.ok());
  EXPECT_EQ(resumed->phase(), v1::COMMAND_PHASE_NO_OP);
  EXPECT_EQ(resumed->message(), "already running");
  request.kind = v1::COMMAND_KIND_PAUSE;
  const absl::StatusOr<v1::CommandResult> paused = client_->Submit(request, Soon());
  EXPECT_EQ(paused.status(), absl::FailedPreconditionError("no game to pause"));
  std::lock_guard<std::mutex> lock(service_.mu);
  EXPECT_EQ(service_.last_kind, "pause:c");
}

TEST_F(GrpcControlClientTest, CancelAndStatusKeepTheServersAnswer) {
  EXPECT_EQ(client_->Cancel("c", Soon()).status(), absl::NotFoundError("no command c"));
  const absl::StatusOr<v1::GameStatus> status = client_->GetStatus(Soon());
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->name(), "alpha");
  EXPECT_EQ(status->state(), v1::GAME_STATE_PAUSED);
}

TEST_F(GrpcControlClientTest, APassedDeadlineFailsAtOnce) {
  const absl::StatusOr<v1::GameStatus> status = client_->GetStatus(absl::Now() - absl::Seconds(1));
  EXPECT_EQ(status.status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(GrpcControlClientUnreachableTest, NothingListeningIsUnavailableQuickly) {
  const int port = FreePort();
  ASSERT_GT(port, 0);
  GrpcControlClient client(absl::StrCat("127.0.0.1:", port));
  const absl::Time before = absl::Now();
  const absl::StatusOr<v1::GameStatus> status = client.GetStatus(before + absl::Seconds(5));
  EXPECT_EQ(status.status().code(), absl::StatusCode::kUnavailable) << status.status();
  EXPECT_LT(absl::Now() - before, absl::Seconds(2));
}

}  // namespace
}  // namespace pong::cli
