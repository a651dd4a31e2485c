#include "cli/fanout.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cli/output.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cli/fake_control_client.h"

namespace pong::cli {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using Call = FakeControlClient::Call;

constexpr absl::string_view kCommandId = "c0ffee00c0ffee00c0ffee00c0ffee00";
constexpr absl::string_view kGameId = "0123456789abcdef0123456789abcdef";
constexpr absl::Duration kLead = absl::Milliseconds(100);

class FanoutTest : public ::testing::Test {
 protected:
  void SetStates(v1::GameState first, v1::GameState second) {
    first_.set_state(first);
    second_.set_state(second);
  }

  CommandReport Run(v1::CommandKind kind, int64_t pong_time_ms = 0) {
    return MakeFanout().Run(kind, pong_time_ms);
  }

  Fanout MakeFanout() {
    FanoutOptions options;
    options.lead = lead_;
    options.tries = tries_;
    options.on_retry = [this](const Retry& retry) { retries_seen_.push_back(retry); };
    int ids = 0;
    return Fanout(
        {{"first", "127.0.0.1:50051", &first_}, {"second", "127.0.0.1:50052", &second_}}, &clock_,
        [ids]() mutable { return NthId(++ids); }, options);
  }

  // The ids made, in order: kCommandId, kGameId (a start's game id, else the command id of
  // the second try), then 32 digits ending in n.
  static std::string NthId(int n) {
    if (n == 1) return std::string(kCommandId);
    if (n == 2) return std::string(kGameId);
    return absl::StrFormat("%032d", n);
  }

  static absl::Time EffectiveAt() { return FakeClock::Start() + kLead; }

  FakeClock clock_;
  FakeControlClient first_{"first", &clock_, v1::GAME_STATE_RUNNING};
  FakeControlClient second_{"second", &clock_, v1::GAME_STATE_RUNNING};
  absl::Duration lead_ = kLead;
  int tries_ = FanoutOptions().tries;  // the product's default
  std::vector<Retry> retries_seen_;
};

TEST_F(FanoutTest, StartSendsOneScheduleToBothAndOnlyTheFirstServes) {
  SetStates(v1::GAME_STATE_IDLE, v1::GAME_STATE_IDLE);
  const CommandReport report = Run(v1::COMMAND_KIND_START, 1000);
  EXPECT_EQ(report.exit_code, kExitOk);

  const std::vector<Call> to_first = first_.Calls(Call::kSubmit);
  const std::vector<Call> to_second = second_.Calls(Call::kSubmit);
  ASSERT_THAT(to_first, Not(IsEmpty()));
  ASSERT_THAT(to_second, Not(IsEmpty()));
  const CommandRequest& a = to_first[0].request;
  const CommandRequest& b = to_second[0].request;
  EXPECT_EQ(a.kind, v1::COMMAND_KIND_START);
  EXPECT_EQ(b.kind, v1::COMMAND_KIND_START);
  EXPECT_TRUE(a.serve);
  EXPECT_FALSE(b.serve);
  EXPECT_EQ(a.command_id, kCommandId);
  EXPECT_EQ(b.command_id, kCommandId);
  EXPECT_EQ(a.game_id, kGameId);
  EXPECT_EQ(b.game_id, kGameId);
  EXPECT_EQ(a.pong_time_ms, 1000);
  EXPECT_EQ(b.pong_time_ms, 1000);
  EXPECT_EQ(a.effective_at, EffectiveAt());
  EXPECT_EQ(b.effective_at, EffectiveAt());
  EXPECT_EQ(report.effective_at, EffectiveAt());
  EXPECT_EQ(report.game_id, kGameId);
  // Both sent at once, before effective_at, with an answer due in time to cancel.
  for (const Call& call : {to_first[0], to_second[0]}) {
    EXPECT_EQ(call.at, FakeClock::Start());
    EXPECT_EQ(call.deadline, FakeClock::Start() + kLead / 2);
    EXPECT_LT(call.deadline, EffectiveAt());
  }
  EXPECT_EQ(first_.state(), v1::GAME_STATE_RUNNING);
  EXPECT_EQ(second_.state(), v1::GAME_STATE_RUNNING);
}

// The time from `pong-cli` to effective_at is the lead, however long the check took, as
// long as it took less than half of it.
TEST_F(FanoutTest, TheLeadCountsFromTheCommandNotFromTheCheck) {
  first_.QueueStatus([this](FakeControlClient& self, const Call&) {
    clock_.SleepUntil(clock_.Now() + kLead * 0.4);
    return self.DefaultStatus();
  });
  const CommandReport report = Run(v1::COMMAND_KIND_PAUSE);
  EXPECT_EQ(report.exit_code, kExitOk);
  EXPECT_EQ(report.effective_at, EffectiveAt());
  const std::vector<Call> submits = first_.Calls(Call::kSubmit);
  ASSERT_THAT(submits, Not(IsEmpty()));
  EXPECT_EQ(submits[0].deadline, FakeClock::Start() + kLead / 2);
}

TEST_F(FanoutTest, ACheckSlowerThanHalfTheLeadMovesEffectiveAt) {
  first_.QueueStatus([this](FakeControlClient& self, const Call&) {
    clock_.SleepUntil(clock_.Now() + kLead * 0.6);
    return self.DefaultStatus();
  });
  const CommandReport report = Run(v1::COMMAND_KIND_PAUSE);
  EXPECT_EQ(report.exit_code, kExitOk);
  EXPECT_EQ(report.effective_at, EffectiveAt() + kLead * 0.6);
}

TEST_F(FanoutTest, ACheckRefusedForAMissingTokenIsARejectionNotUnreachable) {
  first_.QueueStatus([](FakeControlClient&, const Call&) -> absl::StatusOr<v1::GameStatus> {
    return absl::UnauthenticatedError("missing or wrong control token");
  });
  const CommandReport report = Run(v1::COMMAND_KIND_PAUSE);
  EXPECT_EQ(report.exit_code, kExitNothingChanged);
  EXPECT_EQ(report.instances[0].outcome, Outcome::kRejected);
  EXPECT_EQ(report.instances[1].outcome, Outcome::kNotSent);
  EXPECT_THAT(first_.Calls(Call::kSubmit), IsEmpty());
  EXPECT_THAT(second_.Calls(Call::kSubmit), IsEmpty());
  const Rendered text = RenderCommand(report, /*json=*/false);
  EXPECT_THAT(text.err, HasSubstr("first rejected it: UNAUTHENTICATED"));
  EXPECT_THAT(text.err, Not(HasSubstr("did not answer")));
}

TEST_F(FanoutTest, BothAcceptReturnsOnlyOnceConfirmedOnBoth) {
  const CommandReport report = Run(v1::COMMAND_KIND_PAUSE);
  EXPECT_EQ(report.exit_code, kExitOk);
  for (FakeControlClient* fake : {&first_, &second_}) {
    const std::vector<Call> submits = fake->Calls(Call::kSubmit);
    ASSERT_THAT(submits, SizeIs(2));
    // The confirmation is the same request again, at effective_at.
    EXPECT_EQ(submits[1].request.command_id, kCommandId);
    EXPECT_EQ(submits[1].request.effective_at, EffectiveAt());
    EXPECT_GE(submits[1].at, EffectiveAt());
    EXPECT_THAT(fake->Calls(Call::kCancel), IsEmpty());
    EXPECT_EQ(fake->state(), v1::GAME_STATE_PAUSED);
  }
  for (const InstanceReport& instance : report.instances) {
    EXPECT_EQ(instance.outcome, Outcome::kApplied) << instance.label;
    EXPECT_EQ(instance.phase, v1::COMMAND_PHASE_APPLIED);
    ASSERT_TRUE(instance.status.has_value());
    EXPECT_EQ(instance.status->state(), v1::GAME_STATE_PAUSED);
  }

  const Rendered text = RenderCommand(report, /*json=*/false);
  EXPECT_THAT(text.out, HasSubstr("first   127.0.0.1:50051  applied  PAUSED  at 15:06:40.107Z\n"));
  EXPECT_THAT(text.out, HasSubstr("second  127.0.0.1:50052  applied  PAUSED  at 15:06:40.107Z\n"));
  EXPECT_EQ(text.err, "");
}

TEST_F(FanoutTest, StartLineShowsTheGameAndWhoServes) {
  SetStates(v1::GAME_STATE_IDLE, v1::GAME_STATE_IDLE);
  const Rendered text = RenderCommand(Run(v1::COMMAND_KIND_START, 1000), false);
  EXPECT_THAT(text.out, HasSubstr("first   127.0.0.1:50051  applied  RUNNING  at 15:06:40.107Z; "
                                  "game 01234567 1000 ms, serves\n"));
  EXPECT_THAT(text.out, HasSubstr("second  127.0.0.1:50052  applied  RUNNING  at 15:06:40.107Z; "
                                  "game 01234567 1000 ms\n"));
}

TEST_F(FanoutTest, ConfirmationRetriesWhileTheTimerIsLate) {
  first_.QueueSubmit(AsUsual());
  for (int i = 0; i < 3; ++i) first_.QueueSubmit(AnswerPhase(v1::COMMAND_PHASE_SCHEDULED));
  const CommandReport report = Run(v1::COMMAND_KIND_PAUSE);
  EXPECT_EQ(report.exit_code, kExitOk);
  const std::vector<Call> submits = first_.Calls(Call::kSubmit);
  ASSERT_THAT(submits, SizeIs(5));
  // A few milliseconds apart, not a busy loop.
  for (size_t i = 2; i < submits.size(); ++i) {
    EXPECT_EQ(submits[i].at - submits[i - 1].at, absl::Milliseconds(2));
  }
  EXPECT_EQ(report.instances[0].outcome, Outcome::kApplied);
}

TEST_F(FanoutTest, StillScheduledAfterTheWindowIsUnknownAndExits3) {
  first_.QueueSubmit(AsUsual());
  for (int i = 0; i < 1000; ++i) first_.QueueSubmit(AnswerPhase(v1::COMMAND_PHASE_SCHEDULED));
  const CommandReport report = Run(v1::COMMAND_KIND_PAUSE);
  EXPECT_EQ(report.exit_code, kExitPartial);
  EXPECT_EQ(report.instances[0].outcome, Outcome::kUnknown);
  EXPECT_EQ(report.instances[1].outcome, Outcome::kApplied);
  EXPECT_LE(first_.Calls(Call::kSubmit).back().at, EffectiveAt() + absl::Seconds(1));
  const Rendered text = RenderCommand(report, false);
  EXPECT_THAT(text.out, HasSubstr("still scheduled 1s after effective_at"));
  EXPECT_THAT(text.err, HasSubstr("pause is in effect on second, unknown on first"));
}

TEST_F(FanoutTest, OneRejectsSoTheOtherIsCancelledBeforeEffectiveAt) {
  SetStates(v1::GAME_STATE_RUNNING, v1::GAME_STATE_IDLE);
  const CommandReport report = Run(v1::COMMAND_KIND_PAUSE);
  EXPECT_EQ(report.exit_code, kExitNothingChanged);

  const std::vector<Call> cancels = first_.Calls(Call::kCancel);
  ASSERT_THAT(cancels, SizeIs(1));
  EXPECT_EQ(cancels[0].command_id, kCommandId);
  EXPECT_LT(cancels[0].at, EffectiveAt());
  EXPECT_LE(cancels[0].deadline, EffectiveAt());
  EXPECT_THAT(second_.Calls(Call::kCancel), IsEmpty()) << "it refused; nothing to cancel";
  EXPECT_THAT(first_.Calls(Call::kSubmit), SizeIs(1)) << "no confirmation of a cancelled command";
  EXPECT_EQ(first_.state(), v1::GAME_STATE_RUNNING);
  EXPECT_EQ(report.instances[0].outcome, Outcome::kCancelled);
  EXPECT_EQ(report.instances[1].outcome, Outcome::kRejected);
  EXPECT_EQ(report.instances[1].error.code(), absl::StatusCode::kFailedPrecondition);

  const Rendered text = RenderCommand(report, false);
  EXPECT_THAT(text.out, HasSubstr("first   127.0.0.1:50051  cancelled  RUNNING  cancelled before "
                                  "15:06:40.107Z\n"));
  EXPECT_THAT(text.out, HasSubstr("second  127.0.0.1:50052  rejected   IDLE     "
                                  "FAILED_PRECONDITION: no game to pause\n"));
  EXPECT_EQ(text.err,
            "pong-cli: pause not done: second rejected it: FAILED_PRECONDITION: no game to pause; "
            "nothing changed\n");
}

TEST_F(FanoutTest, StartRefusedWhileRunningNamesTheReason) {
  SetStates(v1::GAME_STATE_IDLE, v1::GAME_STATE_RUNNING);
  const CommandReport report = Run(v1::COMMAND_KIND_START, 500);
  EXPECT_EQ(report.exit_code, kExitNothingChanged);
  EXPECT_EQ(first_.state(), v1::GAME_STATE_IDLE);
  EXPECT_THAT(RenderCommand(report, false).err,
              HasSubstr("second rejected it: FAILED_PRECONDITION: a game is running; stop it "
                        "before starting another; nothing changed"));
}

TEST_F(FanoutTest, OneTimesOutSoBothThatDidNotRefuseAreCancelled) {
  tries_ = 1;  // what one try does; the retry that follows is RetryTest's
  first_.QueueSubmit(TimeOut<v1::CommandResult>(&clock_));
  const CommandReport report = Run(v1::COMMAND_KIND_PAUSE);
  EXPECT_EQ(report.exit_code, kExitNothingChanged);
  for (FakeControlClient* fake : {&first_, &second_}) {
    const std::vector<Call> cancels = fake->Calls(Call::kCancel);
    ASSERT_THAT(cancels, Not(IsEmpty()));
    EXPECT_EQ(cancels[0].command_id, kCommandId);
    EXPECT_LT(cancels[0].at, EffectiveAt());
    EXPECT_EQ(fake->state(), v1::GAME_STATE_RUNNING);
  }
  // The cancel found nothing on the first; as the command might still arrive, it asked
  // again after effective_at, when a late arrival would be refused.
  const std::vector<Call> cancels = first_.Calls(Call::kCancel);
  ASSERT_THAT(cancels, SizeIs(2));
  EXPECT_GT(cancels[1].at, EffectiveAt());
  EXPECT_THAT(second_.Calls(Call::kCancel), SizeIs(1));
  EXPECT_EQ(report.instances[0].outcome, Outcome::kUnchanged);
  EXPECT_EQ(report.instances[1].outcome, Outcome::kCancelled);
  const Rendered text = RenderCommand(report, false);
  EXPECT_THAT(text.out, HasSubstr("first   127.0.0.1:50051  unchanged  RUNNING  never took effect; "
                                  "answer was DEADLINE_EXCEEDED: Deadline Exceeded\n"));
  EXPECT_EQ(text.err,
            "pong-cli: pause not done: first did not accept it: DEADLINE_EXCEEDED: Deadline "
            "Exceeded; nothing changed\n");
}

TEST_F(FanoutTest, ACommandThatArrivesAfterItsCancelIsFoundAfterEffectiveAt) {
  first_.QueueSubmit(TimeOut<v1::CommandResult>(&clock_));
  // The cancel overtakes the command: nothing to cancel yet, then the command arrives.
  first_.QueueCancel([](FakeControlClient& self, const Call& call) {
    absl::StatusOr<v1::CommandResult> answer = self.DefaultCancel(call.command_id);
    EXPECT_TRUE(self.DefaultSubmit(self.Calls(Call::kSubmit)[0].request).ok());
    return answer;
  });
  second_.set_state(v1::GAME_STATE_IDLE);  // refuses the pause
  const CommandReport report = Run(v1::COMMAND_KIND_PAUSE);
  EXPECT_EQ(report.exit_code, kExitPartial);
  EXPECT_EQ(report.instances[0].outcome, Outcome::kApplied);
  EXPECT_EQ(first_.state(), v1::GAME_STATE_PAUSED);
  EXPECT_THAT(RenderCommand(report, false).err,
              HasSubstr("pause is in effect on first, not on second: first is PAUSED, second is "
                        "IDLE\n"));
}

TEST_F(FanoutTest, TimedOutButReceivedIsCancelledToo) {
  tries_ = 1;  // what one try does; the retry that follows is RetryTest's
  first_.QueueSubmit(TimeOut<v1::CommandResult>(&clock_, /*received=*/true));
  const CommandReport report = Run(v1::COMMAND_KIND_STOP);
  EXPECT_EQ(report.exit_code, kExitNothingChanged);
  EXPECT_EQ(report.instances[0].outcome, Outcome::kCancelled);
  EXPECT_EQ(report.instances[1].outcome, Outcome::kCancelled);
  EXPECT_EQ(first_.state(), v1::GAME_STATE_RUNNING);
  EXPECT_EQ(second_.state(), v1::GAME_STATE_RUNNING);
}

TEST_F(FanoutTest, CancelThatFailsIsAskedAgainAfterEffectiveAtAndExits3WhenUnknown) {
  SetStates(v1::GAME_STATE_RUNNING, v1::GAME_STATE_IDLE);
  const absl::Status down = absl::UnavailableError("connection refused");
  first_.QueueCancel(Fail<v1::CommandResult>(down));
  first_.QueueCancel(Fail<v1::CommandResult>(down));
  first_.QueueStatus(AsUsualStatus());
  first_.QueueStatus(Fail<v1::GameStatus>(down));
  const CommandReport report = Run(v1::COMMAND_KIND_PAUSE);
  EXPECT_EQ(report.exit_code, kExitPartial);

  const std::vector<Call> cancels = first_.Calls(Call::kCancel);
  ASSERT_THAT(cancels, SizeIs(2));
  EXPECT_LT(cancels[0].at, EffectiveAt());
  EXPECT_GT(cancels[1].at, EffectiveAt()) << "asked again once the answer is final";
  EXPECT_EQ(report.instances[0].outcome, Outcome::kUnknown);
  EXPECT_FALSE(report.instances[0].status.has_value()) << "its state is not known";
  EXPECT_EQ(report.instances[1].outcome, Outcome::kRejected);

  const Rendered text = RenderCommand(report, false);
  EXPECT_THAT(text.out,
              HasSubstr("first   127.0.0.1:50051  unknown   ?     may have taken effect at "
                        "15:06:40.107Z; could not cancel: UNAVAILABLE: connection refused\n"));
  EXPECT_EQ(text.err,
            "pong-cli: pause is not in effect on second, unknown on first (could be neither "
            "confirmed nor "
            "cancelled): first's state is unknown, second is IDLE\n"
            "pong-cli: second rejected it: FAILED_PRECONDITION: no game to pause\n"
            "pong-cli: to recover: 'pong-cli status' shows both; 'pong-cli pause' again pauses "
            "the other (a paused one reports a no-op), or 'pong-cli stop' brings both to IDLE\n");
}

TEST_F(FanoutTest, CancelThatFailsThenFindsItAppliedExits3) {
  SetStates(v1::GAME_STATE_RUNNING, v1::GAME_STATE_IDLE);
  first_.QueueCancel(Fail<v1::CommandResult>(absl::DeadlineExceededError("Deadline Exceeded")));
  const CommandReport report = Run(v1::COMMAND_KIND_PAUSE);
  EXPECT_EQ(report.exit_code, kExitPartial);
  // Asked again after effective_at, the fake's timer had fired: FAILED_PRECONDITION.
  EXPECT_EQ(report.instances[0].outcome, Outcome::kApplied);
  EXPECT_EQ(first_.state(), v1::GAME_STATE_PAUSED);
  ASSERT_TRUE(report.instances[0].status.has_value());
  EXPECT_EQ(report.instances[0].status->state(), v1::GAME_STATE_PAUSED);
}

TEST_F(FanoutTest, CancelFindsItAlreadyAppliedExits3WithTheStateOfEach) {
  first_.QueueSubmit(Fail<v1::CommandResult>(
      absl::AbortedError("command x (stop at 15:06:40.300Z) is pending; cancel it or wait")));
  second_.QueueCancel(
      [](FakeControlClient& self, const Call& call) -> absl::StatusOr<v1::CommandResult> {
        self.set_state(v1::GAME_STATE_PAUSED);
        return absl::FailedPreconditionError("command " + call.command_id + " already took effect");
      });
  const CommandReport report = Run(v1::COMMAND_KIND_PAUSE);
  EXPECT_EQ(report.exit_code, kExitPartial);
  EXPECT_EQ(report.instances[0].outcome, Outcome::kRejected);
  EXPECT_EQ(report.instances[1].outcome, Outcome::kApplied);
  // The states come from a GetStatus after effective_at.
  const std::vector<Call> statuses = second_.Calls(Call::kGetStatus);
  ASSERT_THAT(statuses, SizeIs(2));
  EXPECT_GT(statuses[1].at, EffectiveAt());

  const Rendered text = RenderCommand(report, false);
  EXPECT_THAT(text.out, HasSubstr("second  127.0.0.1:50052  applied   PAUSED   at 15:06:40.107Z; "
                                  "could not cancel: FAILED_PRECONDITION: command "));
  EXPECT_EQ(text.err,
            "pong-cli: pause is in effect on second, not on first: first is RUNNING, second is "
            "PAUSED\n"
            "pong-cli: first rejected it: ABORTED: command x (stop at 15:06:40.300Z) is pending; "
            "cancel it or wait\n"
            "pong-cli: to recover: 'pong-cli pause' again pauses the other (a paused one reports "
            "a no-op), or 'pong-cli stop' brings both to IDLE\n");
}

TEST_F(FanoutTest, ConfirmationThatFindsOneNotAppliedExits3) {
  SetStates(v1::GAME_STATE_PAUSED, v1::GAME_STATE_PAUSED);
  second_.QueueSubmit(AsUsual());
  second_.QueueSubmit(AnswerPhase(v1::COMMAND_PHASE_CANCELLED));  // someone else cancelled it
  const CommandReport report = Run(v1::COMMAND_KIND_RESUME);
  EXPECT_EQ(report.exit_code, kExitPartial);
  EXPECT_EQ(report.instances[0].outcome, Outcome::kApplied);
  EXPECT_EQ(report.instances[1].outcome, Outcome::kNotApplied);
  EXPECT_THAT(RenderCommand(report, false).err,
              HasSubstr("resume is in effect on first, not on second: first is RUNNING, second "
                        "is PAUSED\n"));
}

// An answer too late for pong-cli, but the instances had the command and confirmed it with
// each other: the cancels before effective_at are refused ("confirmed by both"), which is
// final only after effective_at, when a second cancel finds it applied on both.
TEST_F(FanoutTest, ACancelRefusedAsConfirmedIsCheckedAfterEffectiveAtAndBothApplied) {
  first_.QueueSubmit(TimeOut<v1::CommandResult>(&clock_, /*received=*/true));
  for (FakeControlClient* client : {&first_, &second_}) {
    client->QueueCancel([](FakeControlClient&,
                           const Call& call) -> absl::StatusOr<v1::CommandResult> {
      return absl::FailedPreconditionError("command " + call.command_id +
                                           " is confirmed by both instances; too late to cancel");
    });
  }
  const CommandReport report = Run(v1::COMMAND_KIND_PAUSE);
  EXPECT_EQ(report.exit_code, kExitOk);
  for (FakeControlClient* client : {&first_, &second_}) {
    const std::vector<Call> cancels = client->Calls(Call::kCancel);
    ASSERT_THAT(cancels, SizeIs(2));
    EXPECT_LT(cancels[0].at, EffectiveAt());
    EXPECT_GT(cancels[1].at, EffectiveAt());
    EXPECT_EQ(client->state(), v1::GAME_STATE_PAUSED);
  }
  EXPECT_EQ(report.instances[0].outcome, Outcome::kApplied);
  EXPECT_EQ(report.instances[1].outcome, Outcome::kApplied);
}

TEST_F(FanoutTest, ADroppedCommandIsReportedAsNotAppliedWithWhy) {
  SetStates(v1::GAME_STATE_PAUSED, v1::GAME_STATE_PAUSED);
  second_.QueueSubmit(AsUsual());
  second_.QueueSubmit(AnswerPhase(v1::COMMAND_PHASE_DROPPED));
  const CommandReport report = Run(v1::COMMAND_KIND_RESUME);
  EXPECT_EQ(report.instances[1].outcome, Outcome::kNotApplied);
  EXPECT_THAT(RenderCommand(report, false).out,
              HasSubstr("dropped at effective_at: the other instance did not confirm it had the "
                        "command too"));
}

TEST_F(FanoutTest, ConfirmationRetriesTransportErrorsThenGivesUp) {
  second_.QueueSubmit(AsUsual());
  for (int i = 0; i < 1000; ++i) {
    second_.QueueSubmit(Fail<v1::CommandResult>(absl::UnavailableError("connection reset")));
  }
  const CommandReport report = Run(v1::COMMAND_KIND_STOP);
  EXPECT_EQ(report.exit_code, kExitPartial);
  EXPECT_EQ(report.instances[1].outcome, Outcome::kUnknown);
  EXPECT_EQ(report.instances[1].error.code(), absl::StatusCode::kUnavailable);
}

TEST_F(FanoutTest, BothNoOpSucceedsWithoutWaiting) {
  SetStates(v1::GAME_STATE_PAUSED, v1::GAME_STATE_PAUSED);
  const CommandReport report = Run(v1::COMMAND_KIND_PAUSE);
  EXPECT_EQ(report.exit_code, kExitOk);
  EXPECT_THAT(first_.Calls(Call::kSubmit), SizeIs(1));
  EXPECT_THAT(second_.Calls(Call::kSubmit), SizeIs(1));
  EXPECT_EQ(clock_.Now(), FakeClock::Start()) << "nothing is scheduled, so nothing to wait for";
  for (const InstanceReport& instance : report.instances) {
    EXPECT_EQ(instance.outcome, Outcome::kNoOp);
  }
  EXPECT_THAT(RenderCommand(report, false).out,
              AllOf(HasSubstr("first   127.0.0.1:50051  no-op  PAUSED  already paused\n"),
                    HasSubstr("second  127.0.0.1:50052  no-op  PAUSED  already paused\n")));
}

TEST_F(FanoutTest, NoOpOnOneAndAppliedOnTheOtherIsSuccess) {
  SetStates(v1::GAME_STATE_PAUSED, v1::GAME_STATE_RUNNING);
  const CommandReport report = Run(v1::COMMAND_KIND_PAUSE);
  EXPECT_EQ(report.exit_code, kExitOk);
  EXPECT_EQ(report.instances[0].outcome, Outcome::kNoOp);
  EXPECT_EQ(report.instances[1].outcome, Outcome::kApplied);
  EXPECT_EQ(second_.state(), v1::GAME_STATE_PAUSED);
  EXPECT_THAT(first_.Calls(Call::kSubmit), SizeIs(1));
  EXPECT_THAT(second_.Calls(Call::kSubmit), SizeIs(2));
}

TEST_F(FanoutTest, StopWhenOneIsIdleIsANoOpThereNotARefusal) {
  SetStates(v1::GAME_STATE_IDLE, v1::GAME_STATE_RUNNING);
  const CommandReport report = Run(v1::COMMAND_KIND_STOP);
  EXPECT_EQ(report.exit_code, kExitOk);
  EXPECT_EQ(report.instances[0].outcome, Outcome::kNoOp);
  EXPECT_EQ(report.instances[1].outcome, Outcome::kApplied);
  EXPECT_EQ(second_.state(), v1::GAME_STATE_IDLE);
}

TEST_F(FanoutTest, NoOpOnOneAndRefusedOnTheOtherChangesNothing) {
  SetStates(v1::GAME_STATE_PAUSED, v1::GAME_STATE_IDLE);
  const CommandReport report = Run(v1::COMMAND_KIND_PAUSE);
  EXPECT_EQ(report.exit_code, kExitNothingChanged);
  EXPECT_EQ(report.instances[0].outcome, Outcome::kNoOp);
  EXPECT_EQ(report.instances[1].outcome, Outcome::kRejected);
  EXPECT_THAT(first_.Calls(Call::kCancel), SizeIs(1)) << "a no-op is cancelled like the rest";
}

TEST_F(FanoutTest, UnreachableInstanceMeansNothingIsSent) {
  second_.QueueStatus(Fail<v1::GameStatus>(absl::UnavailableError(
      "failed to connect to all addresses; last error: Connection refused")));
  const CommandReport report = Run(v1::COMMAND_KIND_START, 1000);
  EXPECT_EQ(report.exit_code, kExitNothingChanged);
  EXPECT_THAT(first_.Calls(Call::kSubmit), IsEmpty());
  EXPECT_THAT(second_.Calls(Call::kSubmit), IsEmpty());
  EXPECT_FALSE(report.effective_at.has_value());
  EXPECT_EQ(report.instances[0].outcome, Outcome::kNotSent);
  EXPECT_EQ(report.instances[1].outcome, Outcome::kUnreachable);
  const Rendered text = RenderCommand(report, false);
  EXPECT_THAT(text.out, HasSubstr("second  127.0.0.1:50052  unreachable  ?        UNAVAILABLE: "));
  EXPECT_EQ(text.err,
            "pong-cli: second (127.0.0.1:50052) did not answer: UNAVAILABLE: failed to connect to "
            "all addresses; last error: Connection refused; nothing sent, nothing changed\n");
}

TEST_F(FanoutTest, StatusAsksBothAtOnce) {
  const StatusReport report = MakeFanout().Status();
  EXPECT_EQ(report.exit_code, kExitOk);
  ASSERT_THAT(report.instances, SizeIs(2));
  EXPECT_TRUE(report.instances[0].status.ok());
  EXPECT_EQ(first_.Calls(Call::kGetStatus)[0].deadline, FakeClock::Start() + absl::Seconds(1));
}

TEST_F(FanoutTest, StatusWithOneUnreachableExits1AndStillShowsTheOther) {
  first_.QueueStatus(Fail<v1::GameStatus>(absl::DeadlineExceededError("Deadline Exceeded")));
  const StatusReport report = MakeFanout().Status();
  EXPECT_EQ(report.exit_code, kExitNothingChanged);
  const Rendered text = RenderStatus(report, false);
  EXPECT_THAT(
      text.out,
      HasSubstr("first   127.0.0.1:50051  ?        DEADLINE_EXCEEDED: Deadline Exceeded\n"));
  EXPECT_THAT(text.out, HasSubstr("second  127.0.0.1:50052  RUNNING"));
  EXPECT_EQ(text.err,
            "pong-cli: first (127.0.0.1:50051) did not answer: DEADLINE_EXCEEDED: Deadline "
            "Exceeded\n");
}

// Retries: a try refused only for arriving late, with nothing changed anywhere, goes again
// with a new command_id and twice the lead; nothing else is ever retried.

absl::Status LateRefusal() {
  return absl::DeadlineExceededError(
      "arrived 3.000 ms after its effective_at 2025-06-15T15:06:40.107Z; never applied late");
}

// The submits of one try: those that carry `command_id`.
std::vector<Call> SubmitsOf(const FakeControlClient& fake, absl::string_view command_id) {
  std::vector<Call> calls;
  for (const Call& call : fake.Calls(Call::kSubmit)) {
    if (call.command_id == command_id) calls.push_back(call);
  }
  return calls;
}

TEST_F(FanoutTest, RefusedAsLateIsTriedAgainWithANewIdAndTwiceTheLead) {
  second_.QueueSubmit(Fail<v1::CommandResult>(LateRefusal()));
  const CommandReport report = Run(v1::COMMAND_KIND_STOP);
  EXPECT_EQ(report.exit_code, kExitOk) << RenderCommand(report, false).err;
  EXPECT_EQ(first_.state(), v1::GAME_STATE_IDLE);
  EXPECT_EQ(second_.state(), v1::GAME_STATE_IDLE);
  // The first try was cancelled on the first, then the second try went to both.
  EXPECT_THAT(first_.Calls(Call::kCancel), SizeIs(1));
  EXPECT_EQ(first_.Calls(Call::kCancel)[0].command_id, kCommandId);
  const std::string second_id = NthId(2);  // a stop uses no game id
  EXPECT_EQ(report.command_id, second_id);
  for (FakeControlClient* fake : {&first_, &second_}) {
    const std::vector<Call> submits = SubmitsOf(*fake, second_id);
    ASSERT_THAT(submits, SizeIs(2)) << "sent, then confirmed";
    EXPECT_EQ(submits[0].request.effective_at - submits[0].at, 2 * kLead);
    EXPECT_EQ(submits[0].deadline - submits[0].at, kLead) << "half of the new lead to answer";
  }
  ASSERT_THAT(report.retries, SizeIs(1));
  const Retry& retry = report.retries[0];
  EXPECT_EQ(retry.command_id, kCommandId);
  EXPECT_EQ(retry.lead, kLead);
  EXPECT_EQ(retry.next_lead, 2 * kLead);
  EXPECT_EQ(retry.next_try, 2);
  EXPECT_EQ(retry.tries, 4);
  ASSERT_THAT(retry.late, SizeIs(1));
  EXPECT_EQ(retry.late[0].first, "second");
  // Said once, as it happened, in one line.
  ASSERT_THAT(retries_seen_, SizeIs(1));
  EXPECT_EQ(RenderRetry(v1::COMMAND_KIND_STOP, retries_seen_[0]),
            "pong-cli: stop came too late (second DEADLINE_EXCEEDED: arrived 3.000 ms after "
            "its effective_at 2025-06-15T15:06:40.107Z; never applied late); nothing changed; "
            "trying again with a new command and a 200 ms lead (try 2 of 4)\n");
}

TEST_F(FanoutTest, NoAnswerInTimeIsTriedAgain) {
  first_.QueueSubmit(TimeOut<v1::CommandResult>(&clock_));
  const CommandReport report = Run(v1::COMMAND_KIND_PAUSE);
  EXPECT_EQ(report.exit_code, kExitOk);
  ASSERT_THAT(report.retries, SizeIs(1));
  EXPECT_EQ(report.retries[0].late[0].second.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(first_.state(), v1::GAME_STATE_PAUSED);
  EXPECT_EQ(second_.state(), v1::GAME_STATE_PAUSED);
}

// The answer was lost, not the command: it was scheduled there, and cancelled in time.
TEST_F(FanoutTest, NoAnswerButReceivedAndCancelledIsTriedAgain) {
  first_.QueueSubmit(TimeOut<v1::CommandResult>(&clock_, /*received=*/true));
  const CommandReport report = Run(v1::COMMAND_KIND_STOP);
  EXPECT_EQ(report.exit_code, kExitOk);
  EXPECT_THAT(report.retries, SizeIs(1));
  EXPECT_EQ(first_.state(), v1::GAME_STATE_IDLE);
}

// Both accepted, but had not confirmed it with each other by effective_at (their exchange
// was slow): both dropped it, nothing changed.
TEST_F(FanoutTest, DroppedUnconfirmedOnBothIsTriedAgain) {
  SetStates(v1::GAME_STATE_PAUSED, v1::GAME_STATE_PAUSED);
  for (FakeControlClient* fake : {&first_, &second_}) {
    fake->QueueSubmit(AnswerPhase(v1::COMMAND_PHASE_SCHEDULED));
    fake->QueueSubmit(AnswerPhase(v1::COMMAND_PHASE_DROPPED));
  }
  const CommandReport report = Run(v1::COMMAND_KIND_RESUME);
  EXPECT_EQ(report.exit_code, kExitOk) << RenderCommand(report, false).err;
  ASSERT_THAT(report.retries, SizeIs(1));
  EXPECT_THAT(report.retries[0].late, SizeIs(2));
  EXPECT_EQ(first_.state(), v1::GAME_STATE_RUNNING);
  EXPECT_EQ(second_.state(), v1::GAME_STATE_RUNNING);
  EXPECT_THAT(RenderRetry(v1::COMMAND_KIND_RESUME, retries_seen_.at(0)),
              HasSubstr("resume came too late (first ABORTED: dropped at effective_at"));
}

// Someone else cancelled it on both before effective_at: their intent, not lateness.
TEST_F(FanoutTest, CancelledBySomeoneElseIsNotRetried) {
  SetStates(v1::GAME_STATE_PAUSED, v1::GAME_STATE_PAUSED);
  for (FakeControlClient* fake : {&first_, &second_}) {
    fake->QueueSubmit(AnswerPhase(v1::COMMAND_PHASE_SCHEDULED));
    fake->QueueSubmit(AnswerPhase(v1::COMMAND_PHASE_CANCELLED));
  }
  const CommandReport report = Run(v1::COMMAND_KIND_RESUME);
  EXPECT_EQ(report.exit_code, kExitNothingChanged);
  EXPECT_THAT(report.retries, IsEmpty());
  EXPECT_THAT(first_.Calls(Call::kSubmit), SizeIs(2)) << "sent and confirmed once";
}

TEST_F(FanoutTest, StartKeepsItsGameIdAcrossTries) {
  SetStates(v1::GAME_STATE_IDLE, v1::GAME_STATE_IDLE);
  first_.QueueSubmit(Fail<v1::CommandResult>(LateRefusal()));
  const CommandReport report = Run(v1::COMMAND_KIND_START, 0);
  EXPECT_EQ(report.exit_code, kExitOk);
  EXPECT_EQ(report.command_id, NthId(3));
  EXPECT_EQ(report.game_id, kGameId);
  const std::vector<Call> submits = SubmitsOf(second_, NthId(3));
  ASSERT_THAT(submits, Not(IsEmpty()));
  EXPECT_EQ(submits[0].request.game_id, kGameId);
  EXPECT_FALSE(submits[0].request.serve);
  EXPECT_TRUE(SubmitsOf(first_, NthId(3))[0].request.serve);
}

TEST_F(FanoutTest, AlwaysLateGivesUpAfterTheLastTryWithTheLeadCapped) {
  lead_ = absl::Milliseconds(600);
  for (int i = 0; i < 10; ++i) second_.QueueSubmit(Fail<v1::CommandResult>(LateRefusal()));
  const CommandReport report = Run(v1::COMMAND_KIND_PAUSE);
  EXPECT_EQ(report.exit_code, kExitNothingChanged);
  EXPECT_EQ(first_.state(), v1::GAME_STATE_RUNNING);
  // 600, 1200, then 2000 (the cap) twice: four tries, each with its own id.
  const std::vector<Call> submits = second_.Calls(Call::kSubmit);
  ASSERT_THAT(submits, SizeIs(4));
  const absl::Duration leads[] = {absl::Milliseconds(600), absl::Milliseconds(1200),
                                  absl::Seconds(2), absl::Seconds(2)};
  for (size_t i = 0; i < submits.size(); ++i) {
    EXPECT_EQ(submits[i].request.effective_at - submits[i].at, leads[i]) << "try " << i + 1;
    EXPECT_EQ(submits[i].command_id, NthId(static_cast<int>(i) + 1));
  }
  EXPECT_THAT(first_.Calls(Call::kCancel), SizeIs(4));
  EXPECT_THAT(retries_seen_, SizeIs(3));
  ASSERT_THAT(report.retries, SizeIs(3));
  EXPECT_EQ(report.retries[2].next_try, 4);

  const Rendered json = RenderCommand(report, /*json=*/true);
  EXPECT_THAT(json.out, HasSubstr("\"tries\":4,"));
  EXPECT_THAT(json.out, HasSubstr(absl::StrCat("\"retries\":[{\"command_id\":\"", kCommandId,
                                               "\",\"lead_ms\":600,\"late\":\"second "
                                               "DEADLINE_EXCEEDED: arrived 3.000 ms")));
  EXPECT_THAT(RenderCommand(report, false).err, HasSubstr("pause not done: second"));
}

TEST_F(FanoutTest, ALongerLeadThanTheCapStaysAsItIs) {
  lead_ = absl::Seconds(5);
  second_.QueueSubmit(Fail<v1::CommandResult>(LateRefusal()));
  const CommandReport report = Run(v1::COMMAND_KIND_PAUSE);
  EXPECT_EQ(report.exit_code, kExitOk);
  ASSERT_THAT(report.retries, SizeIs(1));
  EXPECT_EQ(report.retries[0].next_lead, absl::Seconds(5));
}

TEST_F(FanoutTest, OneTryOnlyWhenToldSo) {
  tries_ = 1;
  second_.QueueSubmit(Fail<v1::CommandResult>(LateRefusal()));
  const CommandReport report = Run(v1::COMMAND_KIND_PAUSE);
  EXPECT_EQ(report.exit_code, kExitNothingChanged);
  EXPECT_THAT(second_.Calls(Call::kSubmit), SizeIs(1));
  EXPECT_THAT(report.retries, IsEmpty());
  EXPECT_THAT(RenderCommand(report, true).out, HasSubstr("\"tries\":1,\"retries\":[]"));
}

// Each refusal that is not about time: one try, nothing said about retrying.
class NotRetriedTest : public FanoutTest, public ::testing::WithParamInterface<absl::StatusCode> {};

TEST_P(NotRetriedTest, OtherRefusalsAreNeverRetried) {
  second_.QueueSubmit(Fail<v1::CommandResult>(absl::Status(GetParam(), "no")));
  const CommandReport report = Run(v1::COMMAND_KIND_PAUSE);
  EXPECT_EQ(report.exit_code, kExitNothingChanged);
  EXPECT_THAT(first_.Calls(Call::kSubmit), SizeIs(1));
  EXPECT_THAT(second_.Calls(Call::kSubmit), SizeIs(1));
  EXPECT_THAT(report.retries, IsEmpty());
  EXPECT_THAT(retries_seen_, IsEmpty());
}

INSTANTIATE_TEST_SUITE_P(
    Codes, NotRetriedTest,
    ::testing::Values(absl::StatusCode::kFailedPrecondition, absl::StatusCode::kAborted,
                      absl::StatusCode::kInvalidArgument, absl::StatusCode::kUnavailable,
                      absl::StatusCode::kInternal, absl::StatusCode::kUnauthenticated));

TEST_F(FanoutTest, LateOnOneAndRefusedOnTheOtherIsNotRetried) {
  first_.QueueSubmit(Fail<v1::CommandResult>(LateRefusal()));
  second_.set_state(v1::GAME_STATE_IDLE);  // FAILED_PRECONDITION: no game to pause
  const CommandReport report = Run(v1::COMMAND_KIND_PAUSE);
  EXPECT_EQ(report.exit_code, kExitNothingChanged);
  EXPECT_THAT(first_.Calls(Call::kSubmit), SizeIs(1));
  EXPECT_THAT(report.retries, IsEmpty());
}

// Late on one, and the cancel on the other could not be confirmed: maybe in effect there.
TEST_F(FanoutTest, APartialOutcomeIsNotRetried) {
  first_.QueueSubmit(Fail<v1::CommandResult>(LateRefusal()));
  const absl::Status down = absl::UnavailableError("connection refused");
  second_.QueueCancel(Fail<v1::CommandResult>(down));
  second_.QueueCancel(Fail<v1::CommandResult>(down));
  const CommandReport report = Run(v1::COMMAND_KIND_PAUSE);
  EXPECT_EQ(report.exit_code, kExitPartial);
  EXPECT_THAT(second_.Calls(Call::kSubmit), SizeIs(1));
  EXPECT_THAT(report.retries, IsEmpty());
}

TEST_F(FanoutTest, AnInstanceThatMissesTheCheckIsNotRetried) {
  second_.QueueStatus(Fail<v1::GameStatus>(absl::DeadlineExceededError("Deadline Exceeded")));
  const CommandReport report = Run(v1::COMMAND_KIND_STOP);
  EXPECT_EQ(report.exit_code, kExitNothingChanged);
  EXPECT_THAT(second_.Calls(Call::kGetStatus), SizeIs(1));
  EXPECT_THAT(first_.Calls(Call::kSubmit), IsEmpty());
  EXPECT_THAT(report.retries, IsEmpty());
}

// The decision alone, on reports made by hand.
TEST(RefusedOnlyForArrivingLateTest, NeedsExit1ALateInstanceAndNothingElseWrong) {
  CommandReport report;
  report.effective_at = FakeClock::Start();
  report.exit_code = kExitNothingChanged;
  report.instances.resize(2);
  report.instances[0].outcome = Outcome::kCancelled;
  report.instances[1].outcome = Outcome::kUnchanged;
  report.instances[1].error = LateRefusal();
  EXPECT_TRUE(RefusedOnlyForArrivingLate(report));

  CommandReport partial = report;
  partial.exit_code = kExitPartial;
  EXPECT_FALSE(RefusedOnlyForArrivingLate(partial));

  CommandReport never_sent = report;
  never_sent.effective_at.reset();
  EXPECT_FALSE(RefusedOnlyForArrivingLate(never_sent));

  CommandReport nobody_late = report;
  nobody_late.instances[1].error = absl::OkStatus();
  EXPECT_FALSE(RefusedOnlyForArrivingLate(nobody_late));

  CommandReport also_refused = report;
  also_refused.instances[0].outcome = Outcome::kRejected;
  also_refused.instances[0].error = absl::FailedPreconditionError("no game to pause");
  EXPECT_FALSE(RefusedOnlyForArrivingLate(also_refused));

  CommandReport maybe_applied = report;
  maybe_applied.instances[0].outcome = Outcome::kUnknown;
  EXPECT_FALSE(RefusedOnlyForArrivingLate(maybe_applied));

  CommandReport dropped = report;
  dropped.instances[0].outcome = Outcome::kNotApplied;
  dropped.instances[0].phase = v1::COMMAND_PHASE_DROPPED;
  EXPECT_TRUE(RefusedOnlyForArrivingLate(dropped));
  dropped.instances[0].phase = v1::COMMAND_PHASE_CANCELLED;  // by someone else
  EXPECT_FALSE(RefusedOnlyForArrivingLate(dropped));

  CommandReport lost_connection = report;
  lost_connection.instances[0].error = absl::UnavailableError("connection reset");
  EXPECT_FALSE(RefusedOnlyForArrivingLate(lost_connection));
}

}  // namespace
}  // namespace pong::cli
