// pong.v1.GameControl end to end in one process: a real server on 127.0.0.1:0 with a real
// clock and a fake peer, driven over gRPC (and over HTTP where the ball must come back).

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/server/service_test_util.h"

namespace pong::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

// Both clocks are read one after the other, by the server and by the fake: this is how far
// apart two such readings may be when a wall time is compared across them.
constexpr absl::Duration kClockSkew = absl::Milliseconds(1);
// How late a deadline may be met on a loaded machine (sanitizers included).
constexpr absl::Duration kLateness = absl::Milliseconds(150);

// Room for the calls a test makes before a command it timed is sent or due, more in a
// slower build (under TSan a call can stall for hundreds of milliseconds while TSan
// symbolizes the gRPC races it then suppresses).
absl::Duration Lead(absl::Duration plain) { return plain * SlowdownFactor(); }

std::string Describe(const grpc::Status& status) {
  return absl::StrCat("code ", status.error_code(), ": ", status.error_message());
}

// Sends a game ping to the instance's HTTP plane; expects "pong".
void ExpectPong(TestInstance& instance, const std::string& game_id, uint64_t seq, int64_t ms) {
  std::unique_ptr<httplib::Client> http = instance.NewHttpClient();
  const httplib::Result res =
      http->Get(absl::StrCat("/ping?game=", game_id, "&seq=", seq, "&ms=", ms));
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->body, "pong");
}

TEST_F(ServiceTest, StatusOfAFreshInstance) {
  const v1::GameStatus s = Status();
  EXPECT_EQ(s.name(), "first");
  EXPECT_NE(instance_->http_port(), 0);
  EXPECT_EQ(s.http_address(), absl::StrCat("127.0.0.1:", instance_->http_port()));
  EXPECT_EQ(s.state(), v1::GAME_STATE_IDLE);
  EXPECT_EQ(s.game_id(), "");
  EXPECT_EQ(s.ball(), v1::BALL_NONE);
  EXPECT_EQ(s.pings_sent() + s.pings_received() + s.duplicate_pings() + s.rejected_pings(), 0u);
  EXPECT_EQ(s.peer().address(), "127.0.0.1:8082");
  EXPECT_TRUE(s.peer().reachable());
  EXPECT_FALSE(s.has_pending_command());
  EXPECT_FALSE(s.has_last_command());
}

TEST_F(ServiceTest, StartServingMakesAGameIdAndSendsSeqOne) {
  const absl::Time before = absl::Now();
  v1::CommandResult r;
  const grpc::Status status = control().Start(MakeStart("start-1", 1000, /*serve=*/true), &r);
  const absl::Time after = absl::Now();
  ASSERT_TRUE(status.ok()) << Describe(status);

  EXPECT_EQ(r.command_id(), "start-1");
  EXPECT_EQ(r.kind(), v1::COMMAND_KIND_START);
  EXPECT_EQ(r.phase(), v1::COMMAND_PHASE_APPLIED);
  EXPECT_GE(ToTime(r.effective_at()), before);
  EXPECT_LE(ToTime(r.effective_at()), after);
  EXPECT_EQ(r.status().state(), v1::GAME_STATE_RUNNING);
  EXPECT_THAT(r.status().game_id(), MatchesRegex("[0-9a-f]{32}"));
  EXPECT_EQ(r.status().pong_time_ms(), 1000);
  EXPECT_TRUE(r.status().serve());

  ASSERT_TRUE(peer().WaitForSent(1, absl::Seconds(2)));
  const FakePeerLink::Sent sent = peer().sent()[0];
  EXPECT_EQ(sent.ping, (GamePing{r.status().game_id(), 1, 1000}));
  EXPECT_GE(sent.wall_at, ToTime(r.effective_at()) - kClockSkew);

  ASSERT_TRUE(WaitForStatus([](const v1::GameStatus& s) { return s.ball() == v1::BALL_AT_PEER; }));
  const v1::GameStatus s = Status();
  EXPECT_EQ(s.game_id(), r.status().game_id());
  EXPECT_EQ(s.last_seq(), 1u);
  EXPECT_EQ(s.pings_sent(), 1u);
  EXPECT_EQ(s.pings_received(), 0u);
  ASSERT_TRUE(s.has_last_ping_sent_at());
  EXPECT_GE(ToTime(s.last_ping_sent_at()), before);
  EXPECT_LE(ToTime(s.last_ping_sent_at()), absl::Now());
  EXPECT_TRUE(s.peer().reachable());
  EXPECT_EQ(ToDuration(s.peer().last_rtt()), absl::Microseconds(100));  // the fake's answer
  EXPECT_FALSE(s.has_pending_command());
  EXPECT_EQ(s.last_command().command_id(), "start-1");
  EXPECT_EQ(s.last_command().kind(), v1::COMMAND_KIND_START);
  EXPECT_EQ(s.last_command().phase(), v1::COMMAND_PHASE_APPLIED);
  EXPECT_EQ(ToTime(s.last_command().effective_at()), ToTime(r.effective_at()));
}

TEST_F(ServiceTest, EveryServedGameGetsAFreshId) {
  const std::string first = StartNow(1000, /*serve=*/true, "", "start-1").status().game_id();
  v1::CommandResult r;
  ASSERT_TRUE(control().Stop(MakeCommand<v1::StopRequest>("stop-1"), &r).ok());
  const std::string second = StartNow(1000, /*serve=*/true, "", "start-2").status().game_id();
  EXPECT_THAT(second, MatchesRegex("[0-9a-f]{32}"));
  EXPECT_NE(first, second);
}

TEST_F(ServiceTest, StartWithAGameIdUsesIt) {
  const v1::CommandResult r = StartNow(250, /*serve=*/true, kGameId);
  EXPECT_EQ(r.status().game_id(), kGameId);
  ASSERT_TRUE(peer().WaitForSent(1, absl::Seconds(2)));
  EXPECT_EQ(peer().sent()[0].ping, (GamePing{kGameId, 1, 250}));
}

TEST_F(ServiceTest, StartWithoutServeWaitsForTheFirstPingAndTakesItsGameId) {
  v1::CommandResult r;
  const grpc::Status status = control().Start(MakeStart("start-1", 1000, /*serve=*/false), &r);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(r.phase(), v1::COMMAND_PHASE_APPLIED);
  EXPECT_EQ(r.kind(), v1::COMMAND_KIND_START);
  EXPECT_EQ(r.status().state(), v1::GAME_STATE_RUNNING);
  EXPECT_EQ(r.status().game_id(), "");
  EXPECT_FALSE(r.status().serve());
  EXPECT_EQ(r.status().ball(), v1::BALL_AT_PEER);

  const absl::Time before = absl::Now();
  ExpectPong(*instance_, kGameId, 1, 1000);
  const absl::Time after = absl::Now();
  const v1::GameStatus s = Status();
  EXPECT_EQ(s.game_id(), kGameId);
  EXPECT_EQ(s.ball(), v1::BALL_HELD);
  EXPECT_EQ(s.last_seq(), 1u);
  EXPECT_EQ(s.pings_received(), 1u);
  EXPECT_EQ(s.pings_sent(), 0u);
  ASSERT_TRUE(s.has_last_ping_received_at());
  EXPECT_GE(ToTime(s.last_ping_received_at()), before);
  EXPECT_LE(ToTime(s.last_ping_received_at()), after);
  ASSERT_TRUE(s.has_ball_due_at());
  EXPECT_GE(ToTime(s.ball_due_at()), before + absl::Milliseconds(1000) - kClockSkew);
  EXPECT_LE(ToTime(s.ball_due_at()), after + absl::Milliseconds(1000) + kClockSkew);
  EXPECT_EQ(peer().sent_count(), 0u);  // the ball is due in a second
}

TEST_F(ServiceTest, PauseResumeStopApplyAtOnce) {
  StartServingAndPassBall(1000);
  v1::CommandResult r;

  grpc::Status status = control().Pause(MakeCommand<v1::PauseRequest>("pause-1"), &r);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(r.command_id(), "pause-1");
  EXPECT_EQ(r.kind(), v1::COMMAND_KIND_PAUSE);
  EXPECT_EQ(r.phase(), v1::COMMAND_PHASE_APPLIED);
  EXPECT_EQ(r.status().state(), v1::GAME_STATE_PAUSED);
  EXPECT_EQ(r.status().game_id(), kGameId);

  status = control().Resume(MakeCommand<v1::ResumeRequest>("resume-1"), &r);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(r.command_id(), "resume-1");
  EXPECT_EQ(r.kind(), v1::COMMAND_KIND_RESUME);
  EXPECT_EQ(r.phase(), v1::COMMAND_PHASE_APPLIED);
  EXPECT_EQ(r.status().state(), v1::GAME_STATE_RUNNING);
  EXPECT_EQ(r.status().game_id(), kGameId);

  const absl::Time before = absl::Now();
  status = control().Stop(MakeCommand<v1::StopRequest>("stop-1"), &r);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(r.command_id(), "stop-1");
  EXPECT_EQ(r.kind(), v1::COMMAND_KIND_STOP);
  EXPECT_EQ(r.phase(), v1::COMMAND_PHASE_APPLIED);
  EXPECT_GE(ToTime(r.effective_at()), before);
  EXPECT_EQ(r.status().state(), v1::GAME_STATE_IDLE);
  EXPECT_EQ(r.status().game_id(), "");
  EXPECT_EQ(r.status().ball(), v1::BALL_NONE);
  EXPECT_EQ(r.status().last_command().command_id(), "stop-1");
  EXPECT_EQ(r.status().last_command().phase(), v1::COMMAND_PHASE_APPLIED);
}

TEST_F(ServiceTest, ScheduledStartTakesEffectAtEffectiveAt) {
  const absl::Time effective_at = absl::Now() + Lead(absl::Milliseconds(300));
  v1::CommandResult r;
  const grpc::Status status =
      control().Start(At(MakeStart("start-1", 1000, /*serve=*/true), effective_at), &r);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(r.phase(), v1::COMMAND_PHASE_SCHEDULED);
  EXPECT_EQ(r.kind(), v1::COMMAND_KIND_START);
  EXPECT_EQ(ToTime(r.effective_at()), effective_at);
  EXPECT_EQ(r.status().state(), v1::GAME_STATE_IDLE);

  const v1::GameStatus scheduled = Status();
  EXPECT_EQ(scheduled.state(), v1::GAME_STATE_IDLE);
  ASSERT_TRUE(scheduled.has_pending_command());
  EXPECT_EQ(scheduled.pending_command().command_id(), "start-1");
  EXPECT_EQ(scheduled.pending_command().kind(), v1::COMMAND_KIND_START);
  EXPECT_EQ(ToTime(scheduled.pending_command().effective_at()), effective_at);

  // Every status taken entirely before effective_at is IDLE; RUNNING only after it.
  v1::GameStatus s;
  ASSERT_TRUE(WaitUntil(
      [&] {
        const absl::Time asked = absl::Now();
        s = Status();
        const absl::Time answered = absl::Now();
        if (s.state() == v1::GAME_STATE_RUNNING) {
          EXPECT_GE(answered, effective_at - kClockSkew);
          return true;
        }
        EXPECT_EQ(s.state(), v1::GAME_STATE_IDLE);
        EXPECT_LE(asked, effective_at + kLateness) << "still idle long after effective_at";
        return false;
      },
      absl::Seconds(2)));
  EXPECT_FALSE(s.has_pending_command());
  EXPECT_THAT(s.game_id(), MatchesRegex("[0-9a-f]{32}"));
  EXPECT_EQ(s.last_command().command_id(), "start-1");
  EXPECT_EQ(s.last_command().phase(), v1::COMMAND_PHASE_APPLIED);

  ASSERT_TRUE(peer().WaitForSent(1, absl::Seconds(2)));
  const FakePeerLink::Sent sent = peer().sent()[0];
  EXPECT_EQ(sent.ping, (GamePing{s.game_id(), 1, 1000}));
  EXPECT_GE(sent.wall_at, effective_at - kClockSkew) << "ping seq 1 went out early";
  EXPECT_LE(sent.wall_at, effective_at + kLateness);

  // The same command again reports what became of it.
  const grpc::Status again =
      control().Start(At(MakeStart("start-1", 1000, /*serve=*/true), effective_at), &r);
  ASSERT_TRUE(again.ok()) << Describe(again);
  EXPECT_EQ(r.phase(), v1::COMMAND_PHASE_APPLIED);
}

TEST_F(ServiceTest, ScheduledPauseLetsTheGameRunUntilEffectiveAt) {
  StartServingAndPassBall(1000);
  const absl::Time effective_at = absl::Now() + Lead(absl::Milliseconds(200));
  v1::CommandResult r;
  const grpc::Status status =
      control().Pause(At(MakeCommand<v1::PauseRequest>("pause-1"), effective_at), &r);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(r.phase(), v1::COMMAND_PHASE_SCHEDULED);
  EXPECT_EQ(r.status().state(), v1::GAME_STATE_RUNNING);
  EXPECT_EQ(r.status().pending_command().kind(), v1::COMMAND_KIND_PAUSE);

  ASSERT_TRUE(WaitUntil(
      [&] {
        const absl::Time asked = absl::Now();
        const v1::GameStatus s = Status();
        const absl::Time answered = absl::Now();
        if (s.state() == v1::GAME_STATE_PAUSED) {
          EXPECT_GE(answered, effective_at - kClockSkew);
          return true;
        }
        EXPECT_LE(asked, effective_at + kLateness) << "still running long after effective_at";
        return false;
      },
      absl::Seconds(2)));
}

TEST_F(ServiceTest, CancelDropsAScheduledCommand) {
  const absl::Time effective_at = absl::Now() + Lead(absl::Milliseconds(300));
  v1::CommandResult r;
  ASSERT_TRUE(
      control().Start(At(MakeStart("start-1", 1000, /*serve=*/true), effective_at), &r).ok());
  ASSERT_EQ(r.phase(), v1::COMMAND_PHASE_SCHEDULED);

  grpc::Status status = control().Cancel("start-1", &r);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(r.command_id(), "start-1");
  EXPECT_EQ(r.kind(), v1::COMMAND_KIND_START);
  EXPECT_EQ(r.phase(), v1::COMMAND_PHASE_CANCELLED);
  EXPECT_EQ(ToTime(r.effective_at()), effective_at);
  EXPECT_EQ(r.status().state(), v1::GAME_STATE_IDLE);
  EXPECT_FALSE(r.status().has_pending_command());
  EXPECT_EQ(r.status().last_command().command_id(), "start-1");
  EXPECT_EQ(r.status().last_command().phase(), v1::COMMAND_PHASE_CANCELLED);

  // Cancelling again, or sending the start again, reports the cancellation.
  status = control().Cancel("start-1", &r);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(r.phase(), v1::COMMAND_PHASE_CANCELLED);
  status = control().Start(At(MakeStart("start-1", 1000, /*serve=*/true), effective_at), &r);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(r.phase(), v1::COMMAND_PHASE_CANCELLED);

  // Past effective_at nothing has happened.
  absl::SleepFor(effective_at + absl::Milliseconds(100) - absl::Now());
  const v1::GameStatus s = Status();
  EXPECT_EQ(s.state(), v1::GAME_STATE_IDLE);
  EXPECT_FALSE(s.has_pending_command());
  EXPECT_EQ(peer().sent_count(), 0u);
}

TEST_F(ServiceTest, CancelOfUnknownAppliedOrRejectedCommandsIsRefused) {
  StartNow(60'000, /*serve=*/false, kGameId, "start-1");  // nothing moves for 2 min
  v1::CommandResult r;
  const grpc::Status rejected = control().Start(MakeStart("start-2", 1000, true), &r);
  ASSERT_EQ(rejected.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << Describe(rejected);
  const v1::GameStatus before = Status();

  grpc::Status status = control().Cancel("no-such-command", &r);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << Describe(status);
  ExpectUnchanged(before, Status());

  status = control().Cancel("start-1", &r);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << Describe(status);
  ExpectUnchanged(before, Status());

  status = control().Cancel("start-2", &r);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << Describe(status);
  ExpectUnchanged(before, Status());
}

TEST_F(ServiceTest, InvalidStartFieldsAreInvalidArgument) {
  struct Case {
    std::string name;
    v1::StartRequest request;
    std::string field;  // the message names it
  };
  const absl::Time now = absl::Now();
  std::vector<Case> cases;
  cases.push_back({"negative pong_time_ms", MakeStart("c1", -1, true), "pong_time_ms"});
  cases.push_back({"pong_time_ms over an hour", MakeStart("c2", 3'600'001, true), "pong_time_ms"});
  {
    v1::StartRequest request = At(MakeStart("c3", 1000, true), now + absl::Seconds(10));
    request.mutable_effective_at()->set_nanos(-1);
    cases.push_back({"negative nanos", request, "effective_at"});
    request.set_command_id("c4");
    request.mutable_effective_at()->set_nanos(1'000'000'000);
    cases.push_back({"nanos of a whole second", request, "effective_at"});
    request.set_command_id("c5");
    request.mutable_effective_at()->set_nanos(0);
    request.mutable_effective_at()->set_seconds(int64_t{1} << 50);
    cases.push_back({"seconds beyond year 9999", request, "effective_at"});
  }
  cases.push_back(
      {"more than 60 s ahead",
       At(MakeStart("c6", 1000, true), now + absl::Seconds(60) + Lead(absl::Seconds(2))),
       "effective_at"});
  cases.push_back({"empty command_id", MakeStart("", 1000, true), "command_id"});
  cases.push_back(
      {"10 KB command_id", MakeStart(std::string(10 * 1024, 'x'), 1000, true), "command_id"});
  cases.push_back({"game_id XYZ", MakeStart("c7", 1000, true, "XYZ"), "game_id"});
  cases.push_back({"uppercase game_id",
                   MakeStart("c8", 1000, true, "0123456789ABCDEF0123456789ABCDEF"), "game_id"});
  cases.push_back(
      {"31 digit game_id", MakeStart("c9", 1000, true, std::string(31, 'a')), "game_id"});

  const v1::GameStatus before = Status();
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    v1::CommandResult r;
    const grpc::Status status = control().Start(c.request, &r);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(status);
    EXPECT_THAT(status.error_message(), HasSubstr(c.field));
    ExpectUnchanged(before, Status());
  }
  EXPECT_EQ(peer().sent_count(), 0u);
}

TEST_F(ServiceTest, InvalidCommonFieldsAreInvalidArgumentForEveryKind) {
  StartServingAndPassBall(1000);
  const v1::GameStatus before = Status();
  const absl::Time now = absl::Now();
  int n = 0;
  auto check = [&](auto request, const std::string& what) {
    SCOPED_TRACE(what);
    using Request = decltype(request);
    v1::CommandResult r;
    grpc::Status status;
    if constexpr (std::is_same_v<Request, v1::PauseRequest>) {
      status = control().Pause(request, &r);
    } else if constexpr (std::is_same_v<Request, v1::ResumeRequest>) {
      status = control().Resume(request, &r);
    } else {
      status = control().Stop(request, &r);
    }
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(status);
    ExpectUnchanged(before, Status());
  };
  auto each_kind = [&](auto make, const std::string& what) {
    check(make(v1::PauseRequest()), "pause, " + what);
    check(make(v1::ResumeRequest()), "resume, " + what);
    check(make(v1::StopRequest()), "stop, " + what);
  };
  each_kind([](auto r) { return r; }, "empty command_id");
  each_kind(
      [](auto r) {
        r.set_command_id(std::string(10 * 1024, 'y'));
        return r;
      },
      "10 KB command_id");
  each_kind(
      [&](auto r) {
        r.set_command_id(absl::StrCat("nanos-", ++n));
        *r.mutable_effective_at() = ToTimestamp(now + absl::Seconds(5));
        r.mutable_effective_at()->set_nanos(-1);
        return r;
      },
      "negative nanos");
  each_kind(
      [&](auto r) {
        r.set_command_id(absl::StrCat("ahead-", ++n));
        *r.mutable_effective_at() = ToTimestamp(now + absl::Seconds(60) + Lead(absl::Seconds(2)));
        return r;
      },
      "more than 60 s ahead");
}

TEST_F(ServiceTest, BoundaryValuesAreAccepted) {
  v1::CommandResult r;
  grpc::Status status = control().Start(MakeStart("start-0", 0, /*serve=*/true), &r);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(r.status().pong_time_ms(), 0);
  ASSERT_TRUE(control().Stop(MakeCommand<v1::StopRequest>("stop-1"), &r).ok());

  status = control().Start(MakeStart("start-max", 3'600'000, /*serve=*/false), &r);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(r.status().pong_time_ms(), 3'600'000);

  status = control().Stop(
      At(MakeCommand<v1::StopRequest>(std::string(128, 'z')), absl::Now() + absl::Seconds(59)), &r);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(r.phase(), v1::COMMAND_PHASE_SCHEDULED);
  status = control().Cancel(std::string(128, 'z'), &r);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(r.phase(), v1::COMMAND_PHASE_CANCELLED);
}

TEST_F(ServiceTest, WrongStateIsFailedPrecondition) {
  v1::CommandResult r;
  v1::GameStatus before = Status();
  grpc::Status status = control().Pause(MakeCommand<v1::PauseRequest>("pause-1"), &r);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << Describe(status);
  ExpectUnchanged(before, Status());
  status = control().Resume(MakeCommand<v1::ResumeRequest>("resume-1"), &r);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << Describe(status);
  ExpectUnchanged(before, Status());

  StartServingAndPassBall(1000);
  before = Status();
  status = control().Start(MakeStart("start-2", 500, /*serve=*/true), &r);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << Describe(status);
  ExpectUnchanged(before, Status());

  ASSERT_TRUE(control().Pause(MakeCommand<v1::PauseRequest>("pause-2"), &r).ok());
  before = Status();
  status = control().Start(MakeStart("start-3", 500, /*serve=*/false, kOtherGameId), &r);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << Describe(status);
  ExpectUnchanged(before, Status());
  EXPECT_EQ(peer().sent_count(), 1u);
}

TEST_F(ServiceTest, CommandArrivingAfterEffectiveAtIsDeadlineExceeded) {
  v1::CommandResult r;
  v1::GameStatus before = Status();
  grpc::Status status = control().Start(
      At(MakeStart("late-start", 1000, /*serve=*/true), absl::Now() - absl::Seconds(1)), &r);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << Describe(status);
  EXPECT_THAT(status.error_message(), HasSubstr("effective_at"));  // not the client's deadline
  ExpectUnchanged(before, Status());

  StartServingAndPassBall(1000);
  before = Status();
  status = control().Pause(
      At(MakeCommand<v1::PauseRequest>("pause-1"), absl::Now() - absl::Seconds(1)), &r);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << Describe(status);
  ExpectUnchanged(before, Status());
  EXPECT_EQ(peer().sent_count(), 1u);
}

TEST_F(ServiceTest, SecondCommandWhileOneIsPendingIsAborted) {
  StartServingAndPassBall(1000);
  v1::CommandResult r;
  ASSERT_TRUE(
      control()
          .Pause(At(MakeCommand<v1::PauseRequest>("pause-1"), absl::Now() + absl::Seconds(5)), &r)
          .ok());
  const v1::GameStatus before = Status();
  ASSERT_TRUE(before.has_pending_command());

  grpc::Status status = control().Stop(MakeCommand<v1::StopRequest>("stop-1"), &r);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ABORTED) << Describe(status);
  EXPECT_THAT(status.error_message(), HasSubstr("pause-1"));
  ExpectUnchanged(before, Status());
  status = control().Pause(
      At(MakeCommand<v1::PauseRequest>("pause-2"), absl::Now() + absl::Seconds(1)), &r);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ABORTED) << Describe(status);
  ExpectUnchanged(before, Status());

  ASSERT_TRUE(control().Cancel("pause-1", &r).ok());
  status = control().Stop(MakeCommand<v1::StopRequest>("stop-2"), &r);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(r.status().state(), v1::GAME_STATE_IDLE);
}

TEST_F(ServiceTest, SameCommandIdAgainReturnsTheFirstOutcomeAppliedOnce) {
  const v1::CommandResult first = StartNow(1000, /*serve=*/true, "", "start-1");
  ASSERT_TRUE(peer().WaitForSent(1, absl::Seconds(2)));

  v1::CommandResult again;
  const grpc::Status status = control().Start(MakeStart("start-1", 1000, /*serve=*/true), &again);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(again.command_id(), "start-1");
  EXPECT_EQ(again.kind(), v1::COMMAND_KIND_START);
  EXPECT_EQ(again.phase(), v1::COMMAND_PHASE_APPLIED);
  EXPECT_EQ(ToTime(again.effective_at()), ToTime(first.effective_at()));
  EXPECT_EQ(again.message(), first.message());
  EXPECT_EQ(again.status().game_id(), first.status().game_id());  // not restarted
  EXPECT_EQ(Status().pings_sent(), 1u);
  EXPECT_EQ(peer().sent_count(), 1u);
}

TEST_F(ServiceTest, SameCommandIdForAnotherKindIsInvalidArgument) {
  StartNow(60'000, /*serve=*/false, kGameId, "cmd-1");  // nothing moves for 2 min
  const v1::GameStatus before = Status();
  v1::CommandResult r;
  grpc::Status status = control().Pause(MakeCommand<v1::PauseRequest>("cmd-1"), &r);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(status);
  EXPECT_THAT(status.error_message(), HasSubstr("cmd-1"));
  ExpectUnchanged(before, Status());
  status = control().Stop(MakeCommand<v1::StopRequest>("cmd-1"), &r);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(status);
  ExpectUnchanged(before, Status());
}

TEST_F(ServiceTest, RejectedCommandIdStaysRejected) {
  v1::CommandResult r;
  grpc::Status status = control().Pause(MakeCommand<v1::PauseRequest>("pause-1"), &r);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << Describe(status);
  StartNow(1000, /*serve=*/true, kGameId);
  // Pausing would now succeed, but this id's outcome was decided.
  status = control().Pause(MakeCommand<v1::PauseRequest>("pause-1"), &r);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << Describe(status);
  EXPECT_EQ(Status().state(), v1::GAME_STATE_RUNNING);
}

TEST_F(ServiceTest, NoOpsSucceedAndSaySo) {
  v1::CommandResult r;
  grpc::Status status = control().Stop(MakeCommand<v1::StopRequest>("stop-1"), &r);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(r.phase(), v1::COMMAND_PHASE_NO_OP);
  EXPECT_EQ(r.kind(), v1::COMMAND_KIND_STOP);
  EXPECT_THAT(r.message(), HasSubstr("already"));
  EXPECT_EQ(r.status().state(), v1::GAME_STATE_IDLE);
  EXPECT_EQ(r.status().last_command().phase(), v1::COMMAND_PHASE_NO_OP);

  StartServingAndPassBall(1000);
  v1::GameStatus before = Status();
  status = control().Resume(MakeCommand<v1::ResumeRequest>("resume-1"), &r);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(r.phase(), v1::COMMAND_PHASE_NO_OP);
  EXPECT_EQ(r.kind(), v1::COMMAND_KIND_RESUME);
  EXPECT_THAT(r.message(), HasSubstr("already"));
  EXPECT_EQ(r.status().state(), v1::GAME_STATE_RUNNING);
  EXPECT_EQ(r.status().game_id(), before.game_id());

  ASSERT_TRUE(control().Pause(MakeCommand<v1::PauseRequest>("pause-1"), &r).ok());
  ASSERT_EQ(r.phase(), v1::COMMAND_PHASE_APPLIED);
  status = control().Pause(MakeCommand<v1::PauseRequest>("pause-2"), &r);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(r.phase(), v1::COMMAND_PHASE_NO_OP);
  EXPECT_EQ(r.kind(), v1::COMMAND_KIND_PAUSE);
  EXPECT_THAT(r.message(), HasSubstr("already"));
  EXPECT_EQ(r.status().state(), v1::GAME_STATE_PAUSED);
  EXPECT_EQ(r.status().last_command().command_id(), "pause-2");
  EXPECT_EQ(r.status().last_command().phase(), v1::COMMAND_PHASE_NO_OP);
}

TEST_F(ServiceTest, PauseFreezesTheHeldBallAndResumeRestartsItsClock) {
  const std::string game = StartServingAndPassBall(10'000);
  const absl::Time ping_sent = absl::Now();
  ExpectPong(*instance_, game, 2, 10'000);
  const absl::Time pong_received = absl::Now();
  v1::GameStatus s = Status();
  ASSERT_EQ(s.ball(), v1::BALL_HELD);
  EXPECT_EQ(s.last_seq(), 2u);
  ASSERT_TRUE(s.has_ball_due_at());
  EXPECT_GE(ToTime(s.ball_due_at()), ping_sent + absl::Seconds(10) - kClockSkew);
  EXPECT_LE(ToTime(s.ball_due_at()), pong_received + absl::Seconds(10) + kClockSkew);
  EXPECT_FALSE(s.has_time_left());

  const absl::Time pause_sent = absl::Now();
  v1::CommandResult r;
  ASSERT_TRUE(control().Pause(MakeCommand<v1::PauseRequest>("pause-1"), &r).ok());
  const absl::Time pause_answered = absl::Now();
  s = r.status();
  EXPECT_EQ(s.state(), v1::GAME_STATE_PAUSED);
  EXPECT_EQ(s.ball(), v1::BALL_HELD);
  EXPECT_FALSE(s.has_ball_due_at());
  ASSERT_TRUE(s.has_time_left());
  const absl::Duration time_left = ToDuration(s.time_left());
  EXPECT_GE(time_left, absl::Seconds(10) - (pause_answered - ping_sent) - kClockSkew);
  EXPECT_LE(time_left, absl::Seconds(10) - (pause_sent - pong_received) + kClockSkew);

  absl::SleepFor(absl::Milliseconds(50));  // time passes; what is left does not
  s = Status();
  EXPECT_EQ(ToDuration(s.time_left()), time_left);
  EXPECT_EQ(s.ball(), v1::BALL_HELD);

  const absl::Time resume_sent = absl::Now();
  ASSERT_TRUE(control().Resume(MakeCommand<v1::ResumeRequest>("resume-1"), &r).ok());
  const absl::Time resume_answered = absl::Now();
  s = r.status();
  EXPECT_EQ(s.state(), v1::GAME_STATE_RUNNING);
  EXPECT_EQ(s.ball(), v1::BALL_HELD);
  EXPECT_FALSE(s.has_time_left());
  ASSERT_TRUE(s.has_ball_due_at());
  EXPECT_GE(ToTime(s.ball_due_at()), resume_sent + time_left - kClockSkew);
  EXPECT_LE(ToTime(s.ball_due_at()), resume_answered + time_left + kClockSkew);
  EXPECT_EQ(s.pong_time_ms(), 10'000);
  EXPECT_EQ(peer().sent_count(), 1u);
}

TEST_F(ServiceTest, PingArrivingWhilePausedHoldsTheWholeInterval) {
  const std::string game = StartServingAndPassBall(10'000);
  v1::CommandResult r;
  ASSERT_TRUE(control().Pause(MakeCommand<v1::PauseRequest>("pause-1"), &r).ok());
  EXPECT_EQ(r.status().ball(), v1::BALL_AT_PEER);
  EXPECT_FALSE(r.status().has_time_left());

  ExpectPong(*instance_, game, 2, 10'000);
  v1::GameStatus s = Status();
  EXPECT_EQ(s.state(), v1::GAME_STATE_PAUSED);
  EXPECT_EQ(s.ball(), v1::BALL_HELD);
  EXPECT_EQ(ToDuration(s.time_left()), absl::Seconds(10));

  const absl::Time resume_sent = absl::Now();
  ASSERT_TRUE(control().Resume(MakeCommand<v1::ResumeRequest>("resume-1"), &r).ok());
  const absl::Time resume_answered = absl::Now();
  s = r.status();
  EXPECT_GE(ToTime(s.ball_due_at()), resume_sent + absl::Seconds(10) - kClockSkew);
  EXPECT_LE(ToTime(s.ball_due_at()), resume_answered + absl::Seconds(10) + kClockSkew);
}

TEST_F(ServiceTest, HeldBallGoesToThePeerPongTimeAfterItArrived) {
  StartNow(100, /*serve=*/false);
  const absl::Time ping_sent = absl::Now();
  ExpectPong(*instance_, kGameId, 1, 100);
  const absl::Time pong_received = absl::Now();

  ASSERT_TRUE(peer().WaitForSent(1, absl::Seconds(2)));
  const FakePeerLink::Sent sent = peer().sent()[0];
  EXPECT_EQ(sent.ping, (GamePing{kGameId, 2, 100}));
  EXPECT_GE(sent.wall_at, ping_sent + absl::Milliseconds(100) - kClockSkew);
  EXPECT_LE(sent.wall_at, pong_received + absl::Milliseconds(100) + kLateness);
  ASSERT_TRUE(WaitForStatus([](const v1::GameStatus& s) { return s.ball() == v1::BALL_AT_PEER; }));
  const v1::GameStatus s = Status();
  EXPECT_EQ(s.pings_sent(), 1u);
  EXPECT_EQ(s.pings_received(), 1u);
  EXPECT_EQ(s.last_seq(), 2u);
}

TEST_F(ServiceTest, UnreachablePeerKeepsTheBallUntilItIsBack) {
  peer().SetDefaultResult(FakePeerLink::Failed("connection refused"));
  StartNow(0, /*serve=*/true, kGameId);
  ASSERT_TRUE(
      WaitForStatus([](const v1::GameStatus& s) { return s.peer().consecutive_failures() >= 3; }));
  v1::GameStatus s = Status();
  EXPECT_FALSE(s.peer().reachable());
  EXPECT_EQ(s.peer().last_error(), "connection refused");
  EXPECT_NE(s.ball(), v1::BALL_AT_PEER);
  EXPECT_EQ(s.pings_sent(), 1u);  // retries of one ping

  // Retries back off: each wait at least the previous step's (jittered) minimum.
  const std::vector<FakePeerLink::Sent> sent = peer().sent();
  ASSERT_GE(sent.size(), 3u);
  for (const FakePeerLink::Sent& each : sent) EXPECT_EQ(each.ping, (GamePing{kGameId, 1, 0}));
  EXPECT_GE(sent[1].at - sent[0].at, std::chrono::milliseconds(16));
  EXPECT_GE(sent[2].at - sent[1].at, std::chrono::milliseconds(32));

  peer().SetDefaultResult(FakePeerLink::Delivered());
  ASSERT_TRUE(WaitForStatus([](const v1::GameStatus& st) {
    return st.ball() == v1::BALL_AT_PEER && st.peer().reachable();
  }));
  s = Status();
  EXPECT_EQ(s.peer().consecutive_failures(), 0u);
  EXPECT_EQ(s.pings_sent(), 1u);
  EXPECT_EQ(s.last_seq(), 1u);
}

TEST_F(ServiceTest, ConcurrentStartsStartOneGame) {
  constexpr int kCallers = 8;
  std::atomic<int> applied{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&, i] {
      GameControlClient client(instance_->channel());
      v1::CommandResult r;
      const grpc::Status status =
          client.Start(MakeStart(absl::StrCat("start-", i), 1000, /*serve=*/true), &r);
      if (status.ok() && r.phase() == v1::COMMAND_PHASE_APPLIED) ++applied;
      if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION) ++refused;
    });
  }
  for (std::thread& caller : callers) caller.join();
  EXPECT_EQ(applied.load(), 1);
  EXPECT_EQ(refused.load(), kCallers - 1);
  ASSERT_TRUE(peer().WaitForSent(1, absl::Seconds(2)));
  ASSERT_TRUE(WaitForStatus([](const v1::GameStatus& s) { return s.ball() == v1::BALL_AT_PEER; }));
  EXPECT_EQ(peer().sent_count(), 1u);
}

TEST_F(ServiceTest, ShutdownWithAPendingCommandIsPrompt) {
  v1::CommandResult r;
  ASSERT_TRUE(
      control()
          .Start(At(MakeStart("start-1", 1000, /*serve=*/true), absl::Now() + absl::Seconds(30)),
                 &r)
          .ok());
  const absl::Time before = absl::Now();
  instance_->Shutdown();
  EXPECT_LT(absl::Now() - before, absl::Seconds(2));
}

}  // namespace
}  // namespace pong::testing
