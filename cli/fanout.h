#ifndef PONG_CLI_FANOUT_H_
#define PONG_CLI_FANOUT_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cli/clock.h"
#include "cli/control_client.h"
#include "pong/v1/pong.pb.h"

namespace pong::cli {

enum ExitCode : int {
  kExitOk = 0,              // done on every instance
  kExitNothingChanged = 1,  // refused or unreachable; no instance changed
  kExitUsage = 2,
  kExitPartial = 3,  // in effect on some instances only, or unknown on one
};

// One instance the CLI drives.
struct Instance {
  std::string label;      // "first" or "second"
  std::string address;    // HOST:PORT of its gRPC plane
  ControlClient* client;  // not owned
};

// How a command ended on one instance.
enum class Outcome {
  kApplied,      // took effect at effective_at
  kNoOp,         // the state already was what the command asks for
  kRejected,     // the instance refused it; error says why
  kCancelled,    // accepted, then cancelled before it took effect
  kUnchanged,    // no answer in time, and the cancel found nothing: it never took effect
  kNotApplied,   // accepted, but it did not take effect (cancelled by someone else)
  kUnreachable,  // did not answer the check before sending; nothing was sent
  kNotSent,      // answered the check, but another instance did not; nothing was sent
  kUnknown,      // neither confirmed nor cancelled: it may have taken effect
};

absl::string_view ToString(Outcome outcome);

struct InstanceReport {
  std::string label;
  std::string address;
  Outcome outcome = Outcome::kUnknown;
  // The instance's last word on the command; UNSPECIFIED when it gave none.
  v1::CommandPhase phase = v1::COMMAND_PHASE_UNSPECIFIED;
  // The instance's note on the command, e.g. "already paused".
  std::string message;
  // The refusal of the command, or the transport error of sending or confirming it.
  absl::Status error;
  // Why a Cancel did not drop the command, when one was tried and failed.
  absl::Status cancel_error;
  // The latest status seen; nullopt when the instance's state is not known.
  std::optional<v1::GameStatus> status;
};

// A try that failed only for being late (RefusedOnlyForArrivingLate), with nothing changed
// anywhere, and is followed by another with a new command_id and a longer lead.
struct Retry {
  int next_try = 2;        // the try that follows: 2, 3, ...
  int tries = 1;           // at most this many in all
  std::string command_id;  // of the refused try
  absl::Duration lead;     // of the refused try
  absl::Duration next_lead;
  // Each instance that refused it as late, did not answer in time or dropped it
  // unconfirmed, and what it said.
  std::vector<std::pair<std::string, absl::Status>> late;
};

struct CommandReport {
  v1::CommandKind kind = v1::COMMAND_KIND_UNSPECIFIED;
  std::string command_id;
  // nullopt when nothing was sent.
  std::optional<absl::Time> effective_at;
  // Start only.
  int64_t pong_time_ms = 0;
  std::string game_id;
  std::vector<InstanceReport> instances;
  int exit_code = kExitOk;
  // The tries before this one, refused for arriving late; empty when it is the first.
  std::vector<Retry> retries;
};

// Whether a try failed only for being late and nothing changed anywhere (exit 1; every
// other instance cancelled it or had nothing to do). Late: DEADLINE_EXCEEDED (the
// instance's "arrived after its effective_at", or no answer before the call's deadline),
// or dropped at effective_at because the instances had not yet confirmed it with each
// other. Such a try is worth sending again with a longer lead; any other refusal, a cancel
// by someone else, an unreachable instance or a partial outcome is not.
bool RefusedOnlyForArrivingLate(const CommandReport& report);

struct InstanceStatus {
  std::string label;
  std::string address;
  absl::StatusOr<v1::GameStatus> status;
};

struct StatusReport {
  std::vector<InstanceStatus> instances;
  int exit_code = kExitOk;
};

struct FanoutOptions {
  // effective_at = now + lead. Half of it is for the answers, the other half to cancel.
  absl::Duration lead = absl::Milliseconds(100);
  // Deadline of status calls: the check before a command, status, the final account.
  absl::Duration timeout = absl::Seconds(1);
  // After effective_at, how long a scheduled command may take to show as applied (the
  // instance's timer may fire a little late), and how often to ask meanwhile.
  absl::Duration confirm_window = absl::Seconds(1);
  absl::Duration confirm_interval = absl::Milliseconds(2);
  // How long after effective_at to ask an instance whose cancel failed what happened.
  absl::Duration settle = absl::Milliseconds(5);
  // A try refused only for arriving late (RefusedOnlyForArrivingLate) is sent again with a
  // new command_id and twice the lead, at most max_retry_lead (or lead, if longer), up to
  // `tries` in all: a loaded machine answers late, and a stop must still stop. 1: no retry.
  int tries = 4;
  absl::Duration max_retry_lead = absl::Seconds(2);
  // Told of each retry before it is sent, e.g. to say so on stderr. May be empty.
  std::function<void(const Retry&)> on_retry;
};

// Drives the instances together with scheduled deadlines, all or nothing:
// 1. GetStatus on every instance; if one does not answer, nothing is sent (exit 1).
// 2. The command, with one command_id and one effective_at = now + lead (now taken before
//    step 1 unless that took more than lead / 2), goes to every instance at once, each
//    call with a deadline of now + lead / 2.
// 3. All accepted: wait until effective_at, then confirm each scheduled one by sending the
//    same command again (the server answers a known command_id with its current phase).
// 4. One refused or did not answer: Cancel on every other instance before effective_at.
//    A cancel without a final answer is repeated just after effective_at, when it has one.
// 5. Refused only for arriving late, nothing changed: all again with a new command_id and
//    a longer lead, a bounded number of times (FanoutOptions::tries).
// The report says what happened on each instance in the last try, and the exit code.
//
// Not thread-safe: call from one thread. It runs one thread per instance for each round
// of calls and joins them before it returns.
class Fanout {
 public:
  // What an instance said to a command when it first got it.
  enum class Answer {
    kAccepted,  // SCHEDULED, APPLIED or NO_OP
    kRefused,   // an error the instance decided on: it never takes effect there
    kNone,      // no answer in time, or one that says nothing for sure
  };

  // Makes command and game ids: 32 lowercase hex digits.
  using IdSource = std::function<std::string()>;

  Fanout(std::vector<Instance> instances, Clock* clock, IdSource new_id, FanoutOptions options);

  // A state-changing command; the first instance serves a start. Returns once the command
  // is in effect on every instance, or as soon as the account is complete.
  CommandReport Run(v1::CommandKind kind, int64_t pong_time_ms = 0);

  // GetStatus on every instance at once; exit 1 if one did not answer.
  StatusReport Status();

 private:
  // Steps 1 to 4, once.
  CommandReport RunOnce(v1::CommandKind kind, int64_t pong_time_ms, std::string command_id,
                        std::string game_id, absl::Duration lead);
  // Step 1: false (and the report finished) when an instance does not answer.
  bool CheckReachable(CommandReport& report);
  void Confirm(const std::vector<CommandRequest>& requests, CommandReport& report);
  void ConfirmOne(ControlClient& client, const CommandRequest& request, absl::Time end,
                  InstanceReport& instance);
  void Abort(const std::vector<Answer>& said, CommandReport& report);
  // Sets the exit code, and refreshes the states for an account of a partial outcome.
  void Finish(CommandReport& report);

  std::vector<Instance> instances_;
  Clock* clock_;
  IdSource new_id_;
  FanoutOptions options_;
};

}  // namespace pong::cli

#endif  // PONG_CLI_FANOUT_H_
