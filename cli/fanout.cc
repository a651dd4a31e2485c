#include "cli/fanout.h"

#include <algorithm>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"

namespace pong::cli {
namespace {

using Answer = Fanout::Answer;

// Runs fn(0) .. fn(n - 1) at the same time, one thread each, and waits for all of them.
template <typename Fn>
void ForEachAtOnce(size_t n, const Fn& fn) {
  std::vector<std::thread> threads;
  for (size_t i = 1; i < n; ++i) threads.emplace_back([&fn, i] { fn(i); });
  if (n > 0) fn(0);
  for (std::thread& thread : threads) thread.join();
}

// The instance looked at the command and said no: it never takes effect there. Any other
// error (UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, ...) may have come after the instance
// accepted it, so the command must be cancelled there.
bool IsRefusal(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kUnimplemented:
      return true;
    default:
      return false;
  }
}

// A paired command the instances did not confirm with each other by effective_at.
absl::Status DroppedError() {
  return absl::AbortedError(
      "dropped at effective_at: the other instance did not confirm it had the command too");
}

void TakeResult(const v1::CommandResult& result, InstanceReport& instance) {
  instance.phase = result.phase();
  if (!result.message().empty()) instance.message = result.message();
  if (result.has_status()) instance.status = result.status();
}

// The first answer to a command. Returns what it says.
Answer TakeAnswer(const absl::StatusOr<v1::CommandResult>& answer, InstanceReport& instance) {
  if (!answer.ok()) {
    instance.error = answer.status();
    if (IsRefusal(answer.status().code())) {
      instance.outcome = Outcome::kRejected;
      return Answer::kRefused;
    }
    instance.outcome = Outcome::kUnknown;
    return Answer::kNone;
  }
  TakeResult(*answer, instance);
  switch (answer->phase()) {
    case v1::COMMAND_PHASE_SCHEDULED:
      instance.outcome = Outcome::kUnknown;  // until confirmed
      return Answer::kAccepted;
    case v1::COMMAND_PHASE_APPLIED:
      instance.outcome = Outcome::kApplied;
      return Answer::kAccepted;
    case v1::COMMAND_PHASE_NO_OP:
      instance.outcome = Outcome::kNoOp;
      return Answer::kAccepted;
    case v1::COMMAND_PHASE_CANCELLED:
      instance.outcome = Outcome::kRejected;
      instance.error = absl::AbortedError("the instance reports this command as cancelled");
      return Answer::kRefused;
    case v1::COMMAND_PHASE_DROPPED:
      instance.outcome = Outcome::kRejected;
      instance.error = DroppedError();
      return Answer::kRefused;
    default:
      instance.outcome = Outcome::kUnknown;
      instance.error = absl::UnknownError("the instance answered without a command phase");
      return Answer::kNone;
  }
}

// The answer to a Cancel. Returns whether it is final, i.e. the outcome is now known.
// Before effective_at, "too late" (FAILED_PRECONDITION) means the instances confirmed the
// command with each other: it takes effect on both at effective_at, which a second
// cancel after it shows.
bool TakeCancelAnswer(const absl::StatusOr<v1::CommandResult>& answer, bool after_effective_at,
                      InstanceReport& instance) {
  if (answer.ok()) {
    TakeResult(*answer, instance);
    switch (answer->phase()) {
      case v1::COMMAND_PHASE_CANCELLED:
        instance.outcome = Outcome::kCancelled;
        return true;
      case v1::COMMAND_PHASE_NO_OP:
        instance.outcome = Outcome::kNoOp;
        return true;
      case v1::COMMAND_PHASE_APPLIED:
        instance.outcome = Outcome::kApplied;
        return true;
      case v1::COMMAND_PHASE_DROPPED:
        instance.outcome = Outcome::kNotApplied;
        instance.error = DroppedError();
        return true;
      default:
        instance.outcome = Outcome::kUnknown;
        instance.cancel_error = absl::UnknownError(absl::StrCat(
            "the cancel answered ", v1::CommandPhase_Name(answer->phase()), ", not CANCELLED"));
        return false;
    }
  }
  switch (answer.status().code()) {
    case absl::StatusCode::kNotFound:  // never arrived, or was refused
      instance.outcome = Outcome::kUnchanged;
      instance.cancel_error = absl::OkStatus();
      return true;
    case absl::StatusCode::kFailedPrecondition:  // took effect, or confirmed on both
      instance.outcome = after_effective_at ? Outcome::kApplied : Outcome::kUnknown;
      if (after_effective_at) instance.phase = v1::COMMAND_PHASE_APPLIED;
      instance.cancel_error = answer.status();
      return after_effective_at;
    default:
      instance.outcome = Outcome::kUnknown;
      instance.cancel_error = answer.status();
      return false;
  }
}

int ExitCodeOf(const std::vector<InstanceReport>& instances) {
  bool all_in_effect = true;
  bool any_changed = false;  // or maybe changed
  for (const InstanceReport& instance : instances) {
    const Outcome o = instance.outcome;
    all_in_effect = all_in_effect && (o == Outcome::kApplied || o == Outcome::kNoOp);
    any_changed = any_changed || o == Outcome::kApplied || o == Outcome::kUnknown;
  }
  if (all_in_effect) return kExitOk;
  return any_changed ? kExitPartial : kExitNothingChanged;
}

}  // namespace

bool RefusedOnlyForArrivingLate(const CommandReport& report) {
  if (report.exit_code != kExitNothingChanged || !report.effective_at) return false;
  bool late = false;
  for (const InstanceReport& instance : report.instances) {
    switch (instance.outcome) {
      case Outcome::kUnchanged:  // never took effect: refused, or no answer and not there
      case Outcome::kCancelled:  // accepted (maybe with its answer lost), then cancelled
      case Outcome::kNoOp:       // nothing to do there
        break;
      case Outcome::kNotApplied:
        // Dropped at effective_at: the instances had not confirmed it with each other by
        // then, their exchange too slow. Cancelled by someone else is not ours to redo.
        if (instance.phase != v1::COMMAND_PHASE_DROPPED) return false;
        late = true;
        continue;
      default:  // refused for another reason, unreachable, not sent, or maybe in effect
        return false;
    }
    if (instance.error.ok()) continue;
    // "arrived ... after its effective_at; never applied late", or no answer in time.
    if (instance.error.code() != absl::StatusCode::kDeadlineExceeded) return false;
    late = true;
  }
  return late;
}

absl::string_view ToString(Outcome outcome) {
  switch (outcome) {
    case Outcome::kApplied:
      return "applied";
    case Outcome::kNoOp:
      return "no-op";
    case Outcome::kRejected:
      return "rejected";
    case Outcome::kCancelled:
      return "cancelled";
    case Outcome::kUnchanged:
      return "unchanged";
    case Outcome::kNotApplied:
      return "not applied";
    case Outcome::kUnreachable:
      return "unreachable";
    case Outcome::kNotSent:
      return "not sent";
    case Outcome::kUnknown:
      return "unknown";
  }
  return "?";
}

Fanout::Fanout(std::vector<Instance> instances, Clock* clock, IdSource new_id,
               FanoutOptions options)
    : instances_(std::move(instances)),
      clock_(clock),
      new_id_(std::move(new_id)),
      options_(options) {}

CommandReport Fanout::Run(v1::CommandKind kind, int64_t pong_time_ms) {
  std::string command_id = new_id_();
  // One game id for every try: a try refused as late started no game anywhere.
  const std::string game_id = kind == v1::COMMAND_KIND_START ? new_id_() : "";
  const int tries = std::max(1, options_.tries);
  const absl::Duration max_lead = std::max(options_.lead, options_.max_retry_lead);
  std::vector<Retry> retries;
  absl::Duration lead = options_.lead;
  for (int attempt = 1;; ++attempt) {
    CommandReport report = RunOnce(kind, pong_time_ms, command_id, game_id, lead);
    if (attempt >= tries || !RefusedOnlyForArrivingLate(report)) {
      report.retries = std::move(retries);
      return report;
    }
    Retry retry{.next_try = attempt + 1,
                .tries = tries,
                .command_id = report.command_id,
                .lead = lead,
                .next_lead = std::min(lead * 2, max_lead),
                .late = {}};
    for (const InstanceReport& instance : report.instances) {
      if (!instance.error.ok()) retry.late.emplace_back(instance.label, instance.error);
    }
    if (options_.on_retry) options_.on_retry(retry);
    lead = retry.next_lead;
    retries.push_back(std::move(retry));
    command_id = new_id_();  // a new command: the refused one is remembered as refused
  }
}

CommandReport Fanout::RunOnce(v1::CommandKind kind, int64_t pong_time_ms, std::string command_id,
                              std::string game_id, absl::Duration lead) {
  const size_t n = instances_.size();
  CommandReport report;
  report.kind = kind;
  report.command_id = std::move(command_id);
  if (kind == v1::COMMAND_KIND_START) {
    report.pong_time_ms = pong_time_ms;
    report.game_id = std::move(game_id);
  }
  for (const Instance& instance : instances_) {
    InstanceReport& entry = report.instances.emplace_back();
    entry.label = instance.label;
    entry.address = instance.address;
  }
  // The lead counts from the command, not from the end of the check, so the time from
  // `pong-cli` to effective_at does not vary with how fast the instances answered; only
  // a check slower than half the lead moves it.
  absl::Time now = clock_->Now();
  if (!CheckReachable(report)) {
    Finish(report);
    return report;
  }
  if (clock_->Now() > now + lead / 2) now = clock_->Now();
  const absl::Time effective_at = now + lead;
  report.effective_at = effective_at;
  std::vector<CommandRequest> requests(n);
  for (size_t i = 0; i < n; ++i) {
    requests[i] = CommandRequest{.kind = kind,
                                 .command_id = report.command_id,
                                 .effective_at = effective_at,
                                 .pong_time_ms = report.pong_time_ms,
                                 .serve = kind == v1::COMMAND_KIND_START && i == 0,
                                 .game_id = report.game_id,
                                 .paired = true};
  }
  const absl::Time answer_deadline = now + lead / 2;
  std::vector<absl::StatusOr<v1::CommandResult>> answers(n, absl::UnknownError("not sent"));
  ForEachAtOnce(n, [&](size_t i) {
    answers[i] = instances_[i].client->Submit(requests[i], answer_deadline);
  });
  std::vector<Answer> said(n);
  for (size_t i = 0; i < n; ++i) said[i] = TakeAnswer(answers[i], report.instances[i]);
  if (std::all_of(said.begin(), said.end(), [](Answer a) { return a == Answer::kAccepted; })) {
    Confirm(requests, report);
  } else {
    Abort(said, report);
  }
  Finish(report);
  return report;
}

bool Fanout::CheckReachable(CommandReport& report) {
  // Asking first means a dead instance costs nothing: no command went anywhere, so there
  // is nothing to cancel. It also connects the channels before the lead time starts.
  const size_t n = instances_.size();
  const absl::Time deadline = clock_->Now() + options_.timeout;
  std::vector<absl::StatusOr<v1::GameStatus>> statuses(n, absl::UnknownError("not asked"));
  ForEachAtOnce(n, [&](size_t i) { statuses[i] = instances_[i].client->GetStatus(deadline); });
  bool all_answered = true;
  for (size_t i = 0; i < n; ++i) {
    InstanceReport& instance = report.instances[i];
    if (statuses[i].ok()) {
      instance.status = *statuses[i];
    } else {
      // An instance that answered "no" (e.g. UNAUTHENTICATED: no or a wrong token) refused;
      // only one that gave no answer is unreachable.
      instance.outcome =
          IsRefusal(statuses[i].status().code()) ? Outcome::kRejected : Outcome::kUnreachable;
      instance.error = statuses[i].status();
      all_answered = false;
    }
  }
  if (all_answered) return true;
  for (size_t i = 0; i < n; ++i) {
    if (statuses[i].ok()) report.instances[i].outcome = Outcome::kNotSent;
  }
  return false;
}

void Fanout::Confirm(const std::vector<CommandRequest>& requests, CommandReport& report) {
  const bool any_scheduled =
      std::any_of(report.instances.begin(), report.instances.end(),
                  [](const InstanceReport& r) { return r.phase == v1::COMMAND_PHASE_SCHEDULED; });
  if (!any_scheduled) return;  // no-ops (or already applied): nothing to wait for
  clock_->SleepUntil(*report.effective_at);
  const absl::Time end = *report.effective_at + options_.confirm_window;
  ForEachAtOnce(instances_.size(), [&](size_t i) {
    if (report.instances[i].phase != v1::COMMAND_PHASE_SCHEDULED) return;
    ConfirmOne(*instances_[i].client, requests[i], end, report.instances[i]);
  });
}

void Fanout::ConfirmOne(ControlClient& client, const CommandRequest& request, absl::Time end,
                        InstanceReport& instance) {
  while (true) {
    absl::StatusOr<v1::CommandResult> answer = client.Submit(request, end);
    if (answer.ok()) {
      TakeResult(*answer, instance);
      switch (answer->phase()) {
        case v1::COMMAND_PHASE_APPLIED:
          instance.outcome = Outcome::kApplied;
          instance.error = absl::OkStatus();
          return;
        case v1::COMMAND_PHASE_NO_OP:
          instance.outcome = Outcome::kNoOp;
          instance.error = absl::OkStatus();
          return;
        case v1::COMMAND_PHASE_CANCELLED:
          instance.outcome = Outcome::kNotApplied;
          instance.error = absl::AbortedError("cancelled before it took effect, not by us");
          return;
        case v1::COMMAND_PHASE_DROPPED:
          instance.outcome = Outcome::kNotApplied;
          instance.error = DroppedError();
          return;
        default:  // still scheduled: the instance's timer is a little late
          instance.error = absl::DeadlineExceededError(
              absl::StrCat("still scheduled ", absl::FormatDuration(options_.confirm_window),
                           " after effective_at"));
          break;
      }
    } else if (IsRefusal(answer.status().code())) {
      instance.outcome = Outcome::kNotApplied;
      instance.error = answer.status();
      return;
    } else {
      instance.error = answer.status();
    }
    const absl::Time now = clock_->Now();
    if (now >= end) {
      instance.outcome = Outcome::kUnknown;
      return;
    }
    clock_->SleepUntil(std::min(end, now + options_.confirm_interval));
  }
}

void Fanout::Abort(const std::vector<Answer>& said, CommandReport& report) {
  const size_t n = instances_.size();
  const absl::Time effective_at = *report.effective_at;
  // Instances whose cancel got no final answer, and must be asked again. One byte each,
  // not std::vector<bool>: its elements share words, and the threads below write at once.
  std::vector<char> ask_again(n, 0);
  ForEachAtOnce(n, [&](size_t i) {
    if (said[i] == Answer::kRefused) return;
    const bool final =
        TakeCancelAnswer(instances_[i].client->Cancel(report.command_id, effective_at),
                         /*after_effective_at=*/false, report.instances[i]);
    // NOT_FOUND from an instance that never answered the command is final only after
    // effective_at: the command may still be on its way and arrive after the cancel.
    ask_again[i] =
        !final || (said[i] == Answer::kNone && report.instances[i].outcome == Outcome::kUnchanged);
  });
  if (std::none_of(ask_again.begin(), ask_again.end(), [](char b) { return b != 0; })) return;
  // After effective_at the command has taken effect (FAILED_PRECONDITION), or is dropped
  // now, or was never there and will be refused if it comes (never applied late): a cancel
  // then gets a final answer, if it gets one.
  clock_->SleepUntil(effective_at + options_.settle);
  const absl::Time deadline = clock_->Now() + options_.timeout;
  ForEachAtOnce(n, [&](size_t i) {
    if (!ask_again[i]) return;
    TakeCancelAnswer(instances_[i].client->Cancel(report.command_id, deadline),
                     /*after_effective_at=*/true, report.instances[i]);
  });
}

void Fanout::Finish(CommandReport& report) {
  report.exit_code = ExitCodeOf(report.instances);
  if (report.exit_code != kExitPartial) return;
  // The account of a partial outcome gives each instance's state after effective_at.
  clock_->SleepUntil(*report.effective_at + options_.settle);
  const absl::Time deadline = clock_->Now() + options_.timeout;
  const size_t n = instances_.size();
  std::vector<absl::StatusOr<v1::GameStatus>> statuses(n, absl::UnknownError("not asked"));
  ForEachAtOnce(n, [&](size_t i) { statuses[i] = instances_[i].client->GetStatus(deadline); });
  for (size_t i = 0; i < n; ++i) {
    InstanceReport& instance = report.instances[i];
    if (statuses[i].ok()) {
      instance.status = *statuses[i];
    } else if (instance.outcome == Outcome::kUnknown) {
      instance.status.reset();
    }
  }
}

StatusReport Fanout::Status() {
  const size_t n = instances_.size();
  StatusReport report;
  for (const Instance& instance : instances_) {
    report.instances.push_back(
        InstanceStatus{instance.label, instance.address, absl::UnknownError("not asked")});
  }
  const absl::Time deadline = clock_->Now() + options_.timeout;
  ForEachAtOnce(
      n, [&](size_t i) { report.instances[i].status = instances_[i].client->GetStatus(deadline); });
  const bool all_answered = std::all_of(report.instances.begin(), report.instances.end(),
                                        [](const InstanceStatus& s) { return s.status.ok(); });
  report.exit_code = all_answered ? kExitOk : kExitNothingChanged;
  return report;
}

}  // namespace pong::cli
