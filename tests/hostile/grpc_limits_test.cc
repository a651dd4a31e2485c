// The control plane at and beyond the limits of each field, in process: the precise
// status code, and the instance's status unchanged. Fills what control_service_test.cc
// leaves open.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "tests/server/service_test_util.h"

namespace pong::testing {
namespace {

using ::testing::HasSubstr;

std::string Describe(const grpc::Status& status) {
  return absl::StrCat(status.error_code(), ": ", status.error_message());
}

class GrpcLimitsTest : public ServiceTest {
 protected:
  // Runs `call`, expects `code`, and that nothing moved.
  void ExpectRefused(const std::function<grpc::Status()>& call, grpc::StatusCode code,
                     const std::string& what) {
    SCOPED_TRACE(what);
    const v1::GameStatus before = Status();
    const grpc::Status status = call();
    EXPECT_EQ(status.error_code(), code) << Describe(status);
    ExpectUnchanged(before, Status());
  }
};

TEST_F(GrpcLimitsTest, PongTimeMsAtAndBeyondItsRange) {
  v1::CommandResult r;
  int n = 0;
  for (const int64_t ms : {int64_t{-1}, int64_t{3'600'001}, std::numeric_limits<int64_t>::max(),
                           std::numeric_limits<int64_t>::min()}) {
    ExpectRefused(
        [&] { return control().Start(MakeStart(absl::StrCat("bad-", ++n), ms, true), &r); },
        grpc::StatusCode::INVALID_ARGUMENT, absl::StrCat("pong_time_ms ", ms));
  }
  // 0 and 3,600,000 are in range (each starts a game, stopped again).
  for (const int64_t ms : {int64_t{0}, int64_t{3'600'000}}) {
    SCOPED_TRACE(ms);
    const grpc::Status status =
        control().Start(MakeStart(absl::StrCat("ok-", ms), ms, /*serve=*/false), &r);
    ASSERT_TRUE(status.ok()) << Describe(status);
    EXPECT_EQ(r.status().pong_time_ms(), ms);
    ASSERT_TRUE(control().Stop(MakeCommand<v1::StopRequest>(absl::StrCat("stop-", ms)), &r).ok());
  }
}

TEST_F(GrpcLimitsTest, EffectiveAtFarInThePastOrFutureOrOutOfRange) {
  StartServingAndPassBall(1000);
  v1::CommandResult r;
  auto pause_at = [&](const std::string& id, int64_t seconds, int32_t nanos) {
    v1::PauseRequest request = MakeCommand<v1::PauseRequest>(id);
    request.mutable_effective_at()->set_seconds(seconds);
    request.mutable_effective_at()->set_nanos(nanos);
    return [this, request, &r] { return control().Pause(request, &r); };
  };
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  // Valid timestamps, but long past: never applied late.
  ExpectRefused(pause_at("epoch", 0, 0), grpc::StatusCode::DEADLINE_EXCEEDED, "the Unix epoch");
  ExpectRefused(pause_at("year-1", -62135596800, 0), grpc::StatusCode::DEADLINE_EXCEEDED,
                "0001-01-01, the earliest Timestamp");
  ExpectRefused(pause_at("hour-ago", now - 3600, 0), grpc::StatusCode::DEADLINE_EXCEEDED,
                "an hour ago");
  // Ahead by more than 60 s.
  ExpectRefused(pause_at("hour-ahead", now + 3600, 0), grpc::StatusCode::INVALID_ARGUMENT,
                "an hour ahead");
  ExpectRefused(pause_at("year-9999", 253402300799, 999'999'999),
                grpc::StatusCode::INVALID_ARGUMENT, "9999-12-31, the latest Timestamp");
  // Not a Timestamp at all.
  ExpectRefused(pause_at("before-year-1", -62135596801, 0), grpc::StatusCode::INVALID_ARGUMENT,
                "seconds before 0001-01-01");
  ExpectRefused(pause_at("after-9999", 253402300800, 0), grpc::StatusCode::INVALID_ARGUMENT,
                "seconds after 9999");
  ExpectRefused(pause_at("nanos-neg", now + 5, -1), grpc::StatusCode::INVALID_ARGUMENT, "nanos -1");
  ExpectRefused(pause_at("nanos-1e9", now + 5, 1'000'000'000), grpc::StatusCode::INVALID_ARGUMENT,
                "nanos 1e9");
  ExpectRefused(pause_at("nanos-max", now + 5, std::numeric_limits<int32_t>::max()),
                grpc::StatusCode::INVALID_ARGUMENT, "nanos INT32_MAX");
}

TEST_F(GrpcLimitsTest, CancelOfAnIdThatCannotExist) {
  StartServingAndPassBall(1000);
  v1::CommandResult r;
  ExpectRefused([&] { return control().Cancel("never-sent", &r); }, grpc::StatusCode::NOT_FOUND,
                "an unknown id");
  ExpectRefused([&] { return control().Cancel("", &r); }, grpc::StatusCode::INVALID_ARGUMENT,
                "an empty id");
  ExpectRefused([&] { return control().Cancel(std::string(10 * 1024, 'x'), &r); },
                grpc::StatusCode::INVALID_ARGUMENT, "a 10 KB id");
  ExpectRefused([&] { return control().Cancel(std::string(129, 'x'), &r); },
                grpc::StatusCode::INVALID_ARGUMENT, "129 characters");
  ExpectRefused([&] { return control().Cancel("bad id\n", &r); },
                grpc::StatusCode::INVALID_ARGUMENT, "a line break");
}

TEST_F(GrpcLimitsTest, CommandIdsJustOverTheLimitOrWithBadCharacters) {
  StartServingAndPassBall(1000);
  v1::CommandResult r;
  for (const std::string& id : {std::string(129, 'a'), std::string("a b"), std::string("a/b"),
                                std::string("caf\xc3\xa9"), std::string("a\0b", 3)}) {
    ExpectRefused([&] { return control().Pause(MakeCommand<v1::PauseRequest>(id), &r); },
                  grpc::StatusCode::INVALID_ARGUMENT, absl::StrCat("command_id of ", id.size()));
  }
}

// The server takes requests up to 64 KiB; a bigger one is refused by gRPC before any
// handler runs.
TEST_F(GrpcLimitsTest, AnOversizedRequestIsResourceExhausted) {
  StartServingAndPassBall(1000);
  v1::CommandResult r;
  ExpectRefused(
      [&] {
        return control().Pause(MakeCommand<v1::PauseRequest>(std::string(100 * 1024, 'x')), &r);
      },
      grpc::StatusCode::RESOURCE_EXHAUSTED, "a 100 KiB command_id");
  ExpectRefused([&] { return control().Cancel(std::string(1024 * 1024, 'x'), &r); },
                grpc::StatusCode::RESOURCE_EXHAUSTED, "a 1 MiB cancel");
  // Just under the limit it is read, and refused for what it says.
  ExpectRefused(
      [&] {
        return control().Pause(MakeCommand<v1::PauseRequest>(std::string(60 * 1024, 'x')), &r);
      },
      grpc::StatusCode::INVALID_ARGUMENT, "a 60 KiB command_id");
}

}  // namespace
}  // namespace pong::testing
