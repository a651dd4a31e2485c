#include "cli/output.h"

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "cli/fanout.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "server/proto_time.h"

namespace pong::cli {
namespace {

using ::google::protobuf::Struct;
using ::testing::HasSubstr;

const absl::Time kAt = absl::FromUnixSeconds(1'750'000'000) + absl::Milliseconds(107);

Struct ParseJson(const std::string& json) {
  Struct parsed;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &parsed);
  EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << json;
  return parsed;
}

const google::protobuf::Value& Field(const Struct& object, const std::string& key) {
  static const google::protobuf::Value* const kMissing = new google::protobuf::Value();
  auto it = object.fields().find(key);
  EXPECT_NE(it, object.fields().end()) << "no key " << key;
  return it == object.fields().end() ? *kMissing : it->second;
}

v1::GameStatus Running(const std::string& name) {
  v1::GameStatus status;
  status.set_name(name);
  status.set_http_address("127.0.0.1:8081");
  status.set_state(v1::GAME_STATE_RUNNING);
  status.set_game_id("0123456789abcdef0123456789abcdef");
  status.set_pong_time_ms(1000);
  status.set_ball(v1::BALL_HELD);
  *status.mutable_ball_due_at() = ToProto(kAt + absl::Milliseconds(500));
  status.set_last_seq(12);
  status.set_pings_sent(6);
  status.set_pings_received(6);
  status.mutable_peer()->set_address("127.0.0.1:8082");
  status.mutable_peer()->set_reachable(true);
  return status;
}

CommandReport PartialStart() {
  CommandReport report;
  report.kind = v1::COMMAND_KIND_START;
  report.command_id = "c0ffee00c0ffee00c0ffee00c0ffee00";
  report.effective_at = kAt;
  report.pong_time_ms = 1000;
  report.game_id = "0123456789abcdef0123456789abcdef";
  report.exit_code = kExitPartial;
  InstanceReport first;
  first.label = "first";
  first.address = "127.0.0.1:50051";
  first.outcome = Outcome::kApplied;
  first.phase = v1::COMMAND_PHASE_APPLIED;
  first.cancel_error = absl::FailedPreconditionError("command c0ffee already took effect");
  first.status = Running("first");
  InstanceReport second;
  second.label = "second";
  second.address = "127.0.0.1:50052";
  second.outcome = Outcome::kRejected;
  second.error = absl::FailedPreconditionError("a game is \"running\"\n; stop it");
  report.instances = {first, second};
  return report;
}

TEST(OutputTest, CommandJsonIsOneParsableObject) {
  const Rendered rendered = RenderCommand(PartialStart(), /*json=*/true);
  EXPECT_EQ(rendered.err, "");
  ASSERT_FALSE(rendered.out.empty());
  EXPECT_EQ(rendered.out.back(), '\n');
  EXPECT_EQ(rendered.out.find('\n'), rendered.out.size() - 1) << "one line";
  const Struct json = ParseJson(rendered.out);
  EXPECT_EQ(Field(json, "command").string_value(), "start");
  EXPECT_EQ(Field(json, "command_id").string_value(), "c0ffee00c0ffee00c0ffee00c0ffee00");
  EXPECT_EQ(Field(json, "effective_at").string_value(), "2025-06-15T15:06:40.107Z");
  EXPECT_EQ(Field(json, "exit_code").number_value(), 3);
  EXPECT_EQ(Field(json, "pong_time_ms").number_value(), 1000);
  EXPECT_EQ(Field(json, "game_id").string_value(), "0123456789abcdef0123456789abcdef");
  EXPECT_THAT(Field(json, "summary").string_value(), HasSubstr("start is in effect on first"));

  const Struct first = Field(json, "first").struct_value();
  EXPECT_EQ(Field(first, "address").string_value(), "127.0.0.1:50051");
  EXPECT_EQ(Field(first, "outcome").string_value(), "applied");
  EXPECT_EQ(Field(first, "phase").string_value(), "APPLIED");
  EXPECT_EQ(Field(first, "state").string_value(), "RUNNING");
  EXPECT_TRUE(Field(first, "error").has_null_value());
  EXPECT_EQ(Field(Field(first, "cancel_error").struct_value(), "code").string_value(),
            "FAILED_PRECONDITION");
  EXPECT_EQ(Field(Field(first, "status").struct_value(), "state").string_value(),
            "GAME_STATE_RUNNING");

  const Struct second = Field(json, "second").struct_value();
  EXPECT_EQ(Field(second, "outcome").string_value(), "rejected");
  EXPECT_TRUE(Field(second, "phase").has_null_value());
  EXPECT_TRUE(Field(second, "state").has_null_value());
  EXPECT_EQ(Field(Field(second, "error").struct_value(), "message").string_value(),
            "a game is \"running\"\n; stop it");
}

TEST(OutputTest, TextKeepsServerMessagesOnOneLine) {
  const Rendered rendered = RenderCommand(PartialStart(), /*json=*/false);
  EXPECT_THAT(rendered.out,
              HasSubstr("second  127.0.0.1:50052  rejected  ?        FAILED_PRECONDITION: a game "
                        "is \"running\" ; stop it\n"));
  EXPECT_THAT(rendered.err, HasSubstr("pong-cli: to recover: 'pong-cli stop' brings both to "
                                      "IDLE, then 'pong-cli start 1000' starts again\n"));
}

TEST(OutputTest, StatusJsonHasBothGameStatusesAndErrors) {
  StatusReport report;
  report.exit_code = kExitNothingChanged;
  report.instances.push_back({"first", "127.0.0.1:50051", Running("first")});
  report.instances.push_back(
      {"second", "127.0.0.1:50052", absl::UnavailableError("failed to connect")});
  const Rendered rendered = RenderStatus(report, /*json=*/true);
  const Struct json = ParseJson(rendered.out);
  EXPECT_EQ(Field(json, "exit_code").number_value(), 1);
  const Struct first = Field(json, "first").struct_value();
  EXPECT_TRUE(Field(first, "error").has_null_value());
  const Struct status = Field(first, "status").struct_value();
  EXPECT_EQ(Field(status, "name").string_value(), "first");
  EXPECT_EQ(Field(status, "pings_sent").string_value(), "6");  // uint64 is a string in JSON
  EXPECT_EQ(Field(status, "ball_due_at").string_value(), "2025-06-15T15:06:40.607Z");
  EXPECT_EQ(Field(status, "duplicate_pings").string_value(), "0") << "zeros are printed too";
  const Struct second = Field(json, "second").struct_value();
  EXPECT_TRUE(Field(second, "status").has_null_value());
  EXPECT_EQ(Field(Field(second, "error").struct_value(), "code").string_value(), "UNAVAILABLE");
}

TEST(OutputTest, StatusTextShowsGameBallPingsPeerAndPending) {
  v1::GameStatus paused = Running("second");
  paused.set_state(v1::GAME_STATE_PAUSED);
  paused.clear_ball_due_at();
  *paused.mutable_time_left() = google::protobuf::Duration();
  paused.mutable_time_left()->set_nanos(468'000'000);
  paused.mutable_peer()->set_reachable(false);
  paused.mutable_peer()->set_consecutive_failures(3);
  paused.mutable_peer()->set_last_error("connection refused");
  paused.mutable_pending_command()->set_kind(v1::COMMAND_KIND_RESUME);
  *paused.mutable_pending_command()->mutable_effective_at() = ToProto(kAt);
  paused.mutable_pending_command()->set_paired(true);
  v1::GameStatus idle;
  idle.set_name("alpha");
  idle.set_state(v1::GAME_STATE_IDLE);

  StatusReport report;
  report.instances.push_back({"first", "127.0.0.1:50051", Running("first")});
  report.instances.push_back({"second", "127.0.0.1:50052", paused});
  report.instances.push_back({"third", "127.0.0.1:50053", idle});
  const Rendered rendered = RenderStatus(report, /*json=*/false);
  EXPECT_EQ(rendered.err, "");
  EXPECT_EQ(rendered.out,
            "first         127.0.0.1:50051  RUNNING  game 01234567 1000 ms  ball held, due "
            "15:06:40.607Z  seq 12  pings 6 sent, 6 received  peer 127.0.0.1:8082 reachable\n"
            "second        127.0.0.1:50052  PAUSED   game 01234567 1000 ms  ball held, 468 ms "
            "left  seq 12  pings 6 sent, 6 received  peer 127.0.0.1:8082 unreachable (3 "
            "failures: connection refused)  pending resume at 15:06:40.107Z (not yet confirmed "
            "by the peer)\n"
            "third(alpha)  127.0.0.1:50053  IDLE\n");
}

TEST(OutputTest, UsageErrorIsOneLineWithAHint) {
  EXPECT_EQ(RenderUsageError(absl::InvalidArgumentError("unknown command \"x\"")),
            "pong-cli: unknown command \"x\" (run 'pong-cli --help')\n");
}

}  // namespace
}  // namespace pong::cli
