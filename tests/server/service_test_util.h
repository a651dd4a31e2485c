#ifndef PONG_TESTS_SERVER_SERVICE_TEST_UTIL_H_
#define PONG_TESTS_SERVER_SERVICE_TEST_UTIL_H_

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <functional>
#include <iostream>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "pong/v1/pong.pb.h"
#include "tests/support/test_instance.h"
#include "tests/support/wait.h"

namespace pong {
// For gtest's messages.
inline void PrintTo(const GamePing& ping, std::ostream* os) {
  *os << "{game=" << ping.game_id << " seq=" << ping.seq << " ms=" << ping.pong_time_ms << "}";
}
}  // namespace pong

// What the service tests share: a fixture with one in-process instance, and request and
// time helpers written independently of the server's own conversions.
namespace pong::testing {

inline constexpr char kGameId[] = "0123456789abcdef0123456789abcdef";
inline constexpr char kOtherGameId[] = "fedcba9876543210fedcba9876543210";

inline google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  const int64_t ns = absl::ToUnixNanos(t);
  google::protobuf::Timestamp out;
  out.set_seconds(ns / 1'000'000'000);
  out.set_nanos(static_cast<int32_t>(ns % 1'000'000'000));
  return out;
}

inline absl::Time ToTime(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

inline absl::Duration ToDuration(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

inline v1::StartRequest MakeStart(const std::string& id, int64_t pong_time_ms, bool serve,
                                  const std::string& game_id = "") {
  v1::StartRequest request;
  request.set_command_id(id);
  request.set_pong_time_ms(pong_time_ms);
  request.set_serve(serve);
  request.set_game_id(game_id);
  return request;
}

// Pause, Resume and Stop requests share their fields.
template <typename Request>
Request MakeCommand(const std::string& id) {
  Request request;
  request.set_command_id(id);
  return request;
}

template <typename Request>
Request At(Request request, absl::Time effective_at) {
  *request.mutable_effective_at() = ToTimestamp(effective_at);
  return request;
}

// Two statuses of an instance that nothing happened to are equal, but for ball_due_at:
// each status maps the monotonic deadline to wall time anew, from two clock readings (which
// a busy machine can take further apart in a slower build).
inline void ExpectUnchanged(const v1::GameStatus& before, const v1::GameStatus& after) {
  google::protobuf::util::MessageDifferencer differencer;
  differencer.IgnoreField(v1::GameStatus::descriptor()->FindFieldByName("ball_due_at"));
  std::string report;
  differencer.ReportDifferencesToString(&report);
  EXPECT_TRUE(differencer.Compare(before, after)) << report;
  ASSERT_EQ(before.has_ball_due_at(), after.has_ball_due_at());
  if (before.has_ball_due_at()) {
    EXPECT_LE(absl::AbsDuration(ToTime(before.ball_due_at()) - ToTime(after.ball_due_at())),
              absl::Milliseconds(1) * SlowdownFactor());
  }
}

// One instance per test, started afresh; its log is printed when the test failed.
class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<TestInstance>> started = TestInstance::Start();
    ASSERT_TRUE(started.ok()) << started.status();
    instance_ = std::move(*started);
  }

  void TearDown() override {
    if (instance_ == nullptr) return;
    instance_->Shutdown();
    if (HasFailure()) std::cerr << "--- server log ---\n" << instance_->ReadLog() << "---\n";
  }

  GameControlClient& control() { return instance_->control(); }
  FakePeerLink& peer() { return instance_->peer(); }

  v1::GameStatus Status() {
    absl::StatusOr<v1::GameStatus> status = control().Status();
    EXPECT_TRUE(status.ok()) << status.status();
    return status.value_or(v1::GameStatus());
  }

  bool WaitForStatus(const std::function<bool(const v1::GameStatus&)>& condition,
                     absl::Duration timeout = absl::Seconds(2)) {
    return WaitUntil(
        [&] {
          absl::StatusOr<v1::GameStatus> status = control().Status();
          return status.ok() && condition(*status);
        },
        timeout);
  }

  // Starts a game at once and expects it to be running.
  v1::CommandResult StartNow(int64_t pong_time_ms, bool serve, const std::string& game_id = "",
                             const std::string& id = "start-1") {
    v1::CommandResult result;
    const grpc::Status status =
        control().Start(MakeStart(id, pong_time_ms, serve, game_id), &result);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(result.status().state(), v1::GAME_STATE_RUNNING);
    return result;
  }

  // Starts a serving game and waits until the fake peer has seq 1: the ball is at the peer.
  std::string StartServingAndPassBall(int64_t pong_time_ms) {
    const v1::CommandResult result = StartNow(pong_time_ms, /*serve=*/true, kGameId);
    EXPECT_TRUE(peer().WaitForSent(1, absl::Seconds(2)));
    EXPECT_TRUE(
        WaitForStatus([](const v1::GameStatus& s) { return s.ball() == v1::BALL_AT_PEER; }));
    return result.status().game_id();
  }

  std::unique_ptr<TestInstance> instance_;
};

}  // namespace pong::testing

#endif  // PONG_TESTS_SERVER_SERVICE_TEST_UTIL_H_
