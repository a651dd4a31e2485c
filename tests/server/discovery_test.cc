// What grpcurl needs from an instance with no .proto file at hand: server reflection,
// the health service, and JSON calls mapped by the descriptors reflection serves.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/server/service_test_util.h"
#include "tests/support/grpc_json_client.h"

namespace pong::testing {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;
using ::testing::MatchesRegex;

class DiscoveryTest : public ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    if (instance_ != nullptr) json_ = std::make_unique<GrpcJsonClient>(instance_->channel());
  }

  std::unique_ptr<GrpcJsonClient> json_;
};

TEST_F(DiscoveryTest, ReflectionListsTheServices) {
  const absl::StatusOr<std::vector<std::string>> services = json_->ListServices();
  ASSERT_TRUE(services.ok()) << services.status();
  EXPECT_THAT(*services, IsSupersetOf({"pong.v1.GameControl", "grpc.health.v1.Health",
                                       "grpc.reflection.v1alpha.ServerReflection"}));
}

TEST_F(DiscoveryTest, ReflectionDescribesGameControl) {
  const absl::StatusOr<std::vector<google::protobuf::FileDescriptorProto>> files =
      json_->FileContainingSymbol("pong.v1.GameControl");
  ASSERT_TRUE(files.ok()) << files.status();
  ASSERT_FALSE(files->empty());
  const google::protobuf::FileDescriptorProto& file = files->front();
  EXPECT_EQ(file.name(), "pong/v1/pong.proto");
  EXPECT_EQ(file.package(), "pong.v1");
  ASSERT_EQ(file.service_size(), 1);
  std::vector<std::string> methods;
  for (const auto& method : file.service(0).method()) methods.push_back(method.name());
  EXPECT_THAT(methods, IsSupersetOf({"Start", "Pause", "Resume", "Stop", "Cancel", "GetStatus"}));
  // Its imports come along, so a client can build the types it needs.
  std::vector<std::string> names;
  for (const auto& each : *files) names.push_back(each.name());
  EXPECT_THAT(names, Contains("google/protobuf/timestamp.proto"));
  EXPECT_THAT(names, Contains("google/protobuf/duration.proto"));

  const absl::StatusOr<std::vector<google::protobuf::FileDescriptorProto>> missing =
      json_->FileContainingSymbol("pong.v1.NoSuchService");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound) << missing.status();
}

TEST_F(DiscoveryTest, HealthCheckIsServing) {
  std::unique_ptr<grpc::health::v1::Health::Stub> health =
      grpc::health::v1::Health::NewStub(instance_->channel());
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  grpc::health::v1::HealthCheckRequest request;  // service "": the server as a whole
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = health->Check(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_F(DiscoveryTest, GetStatusAsJson) {
  const absl::StatusOr<JsonReply> reply = json_->CallJson("pong.v1.GameControl/GetStatus", "{}");
  ASSERT_TRUE(reply.ok()) << reply.status();
  ASSERT_TRUE(reply->status.ok()) << reply->status.error_message();
  EXPECT_THAT(reply->json, HasSubstr("\"state\":\"GAME_STATE_IDLE\""));
  EXPECT_THAT(reply->json, HasSubstr("\"name\":\"first\""));
  // The dotted form grpcurl also takes.
  const absl::StatusOr<JsonReply> dotted = json_->CallJson("pong.v1.GameControl.GetStatus", "");
  ASSERT_TRUE(dotted.ok()) << dotted.status();
  EXPECT_TRUE(dotted->status.ok()) << dotted->status.error_message();
}

TEST_F(DiscoveryTest, StartAsGrpcurlWouldSendIt) {
  const absl::StatusOr<JsonReply> reply = json_->CallJson(
      "pong.v1.GameControl/Start", R"({"command_id":"demo-1","pong_time_ms":1000,"serve":true})");
  ASSERT_TRUE(reply.ok()) << reply.status();
  ASSERT_TRUE(reply->status.ok()) << reply->status.error_message();
  EXPECT_THAT(reply->json, HasSubstr("\"phase\":\"COMMAND_PHASE_APPLIED\""));
  EXPECT_THAT(reply->json, HasSubstr("\"state\":\"GAME_STATE_RUNNING\""));
  // Timestamps render as RFC 3339, as grpcurl shows them.
  EXPECT_THAT(reply->json,
              MatchesRegex(R"(.*"effectiveAt":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z".*)"));

  const absl::StatusOr<JsonReply> status = json_->CallJson("pong.v1.GameControl/GetStatus", "{}");
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_THAT(status->json, MatchesRegex(R"(.*"gameId":"[0-9a-f]{32}".*)"));
  EXPECT_THAT(status->json, HasSubstr("\"pongTimeMs\":\"1000\""));  // int64 is a JSON string
}

TEST_F(DiscoveryTest, JsonTimestampsAndErrorsComeThrough) {
  // RFC 3339 effective_at, lowerCamelCase names: a second in the past is refused.
  const std::string past =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now() - absl::Seconds(1), absl::UTCTimeZone());
  absl::StatusOr<JsonReply> reply = json_->CallJson(
      "pong.v1.GameControl/Start",
      absl::StrCat(R"({"commandId":"late-1","pongTimeMs":"1000","effectiveAt":")", past, "\"}"));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << reply->status.error_message();
  EXPECT_EQ(reply->json, "");

  reply = json_->CallJson("pong.v1.GameControl/Pause", R"({"command_id":"p-1"})");
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  // Calls that cannot be made fail locally, with a reason.
  EXPECT_EQ(json_->CallJson("pong.v1.GameControl/Start", "{not json").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(json_->CallJson("pong.v1.GameControl/Start", R"({"no_such_field":1})").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(json_->CallJson("pong.v1.GameControl/Fly", "{}").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(json_->CallJson("pong.v1.Nothing/Fly", "{}").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(json_->CallJson("GetStatus", "{}").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Status().state(), v1::GAME_STATE_IDLE);
}

TEST_F(DiscoveryTest, UnreachableServerIsAnErrorNotAHang) {
  const std::string address = instance_->grpc_address();
  instance_->Shutdown();
  GrpcJsonClient client(NewInsecureChannel(address), absl::Milliseconds(300));
  const absl::Time before = absl::Now();
  EXPECT_FALSE(client.ListServices().ok());
  const absl::StatusOr<JsonReply> reply = client.CallJson("pong.v1.GameControl/GetStatus", "{}");
  EXPECT_FALSE(reply.ok() && reply->status.ok());
  EXPECT_LT(absl::Now() - before, absl::Seconds(2));
}

}  // namespace
}  // namespace pong::testing
