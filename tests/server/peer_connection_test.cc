// When the engine closes its kept-alive connection to the peer: one that would idle long
// is closed, so the peer's server does not hold a thread for it (server/engine.cc).

#include <gtest/gtest.h>

#include "tests/server/service_test_util.h"

namespace pong::testing {
namespace {

using PeerConnectionTest = ServiceTest;

TEST_F(PeerConnectionTest, ASlowGameClosesTheConnectionAfterEachPing) {
  StartServingAndPassBall(1000);
  // The ball is at the peer only once the send has returned, and the close comes first.
  EXPECT_GE(peer().close_count(), 1u);
  EXPECT_EQ(peer().sent_at_last_close(), 1u);
}

TEST_F(PeerConnectionTest, AFastGameKeepsItsConnectionUntilItIsPaused) {
  StartServingAndPassBall(100);
  EXPECT_EQ(peer().close_count(), 0u);

  v1::CommandResult r;
  const grpc::Status status = control().Pause(MakeCommand<v1::PauseRequest>("pause-1"), &r);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(WaitUntil([&] { return peer().close_count() >= 1; }, absl::Seconds(2)));
}

TEST_F(PeerConnectionTest, AFastGameClosesItsConnectionWhenItStops) {
  StartServingAndPassBall(10);
  EXPECT_EQ(peer().close_count(), 0u);

  v1::CommandResult r;
  const grpc::Status status = control().Stop(MakeCommand<v1::StopRequest>("stop-1"), &r);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(WaitUntil([&] { return peer().close_count() >= 1; }, absl::Seconds(2)));
}

}  // namespace
}  // namespace pong::testing
