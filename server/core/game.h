#ifndef PONG_SERVER_CORE_GAME_H_
#define PONG_SERVER_CORE_GAME_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/core/clock.h"
#include "server/core/ping.h"

namespace pong {

enum class GameState { kIdle, kRunning, kPaused };
enum class CommandKind { kStart, kPause, kResume, kStop };
enum class CommandPhase { kScheduled, kApplied, kCancelled, kNoOp, kDropped };

// Where the ball is, as this instance sees it.
enum class Ball {
  kNone,      // no game
  kHeld,      // we send the next ping when it is due (or retry one the peer did not answer)
  kInFlight,  // we are sending a ping and wait for the pong
  kAtPeer,    // the peer holds it
  kLost,      // the peer held it and its ping is overdue by more than kBallLostGrace; we
              // probe the peer with our last ping again until it answers
};

absl::string_view ToString(GameState state);
absl::string_view ToString(CommandKind kind);
absl::string_view ToString(CommandPhase phase);
absl::string_view ToString(Ball ball);
// "start", "pause", "resume" or "stop" (ToString's words); nullopt for anything else.
std::optional<CommandKind> ParseCommandKind(absl::string_view text);
// 1 to kMaxCommandIdLength characters of [A-Za-z0-9._:-].
bool IsValidCommandId(absl::string_view id);

inline constexpr size_t kMaxCommandIdLength = 128;
// How far ahead a command may be scheduled.
inline constexpr absl::Duration kMaxScheduleAhead = absl::Seconds(60);
// Retries of an unanswered ping back off exponentially from kRetryBase up to kRetryCap,
// each step jittered by +/- kRetryJitter (and still capped) so two instances never retry
// in lock step.
inline constexpr std::chrono::milliseconds kRetryBase{20};
inline constexpr std::chrono::milliseconds kRetryCap{1000};
inline constexpr double kRetryJitter = 0.2;
// Two instances apply a Start at the same effective_at, each on its own timer: the
// serving one's first ping may arrive a wake-up before the other's timer fires. A
// non-serving instance takes that ping as its start if it comes at most this early.
inline constexpr std::chrono::milliseconds kEarlyStart{50};
// How many command outcomes are remembered for idempotent retries.
inline constexpr size_t kRememberedCommands = 1024;
// How many stopped games' ids are remembered: their pings are refused, never rejoined.
inline constexpr size_t kRememberedStoppedGames = 16;
// A paired command's asks to the peer (see Command::paired): a "not yet" or a failed ask is
// asked again after kConfirmRetryBase, doubling up to kConfirmRetryCap, until effective_at.
// An ask waits for its answer until effective_at, and at least kConfirmMinWait.
inline constexpr std::chrono::milliseconds kConfirmRetryBase{5};
inline constexpr std::chrono::milliseconds kConfirmRetryCap{40};
inline constexpr std::chrono::milliseconds kConfirmMinWait{20};
inline constexpr std::chrono::milliseconds kConfirmMaxWait{500};
// The ball counts as lost once the peer's ping is this much later than pong_time_ms after
// our pong: twice the retry cap, so a peer that is only retrying is not declared lost.
inline constexpr std::chrono::milliseconds kBallLostGrace{2000};

struct Command {
  std::string command_id;
  CommandKind kind = CommandKind::kStop;
  // Wall clock; nullopt takes effect on arrival.
  std::optional<absl::Time> effective_at;
  // Start only.
  int64_t pong_time_ms = 0;
  bool serve = false;
  std::string game_id;  // empty: see Game::Submit
  // Sent to both instances (pong-cli does), with one command_id and one effective_at: it
  // takes effect here only if the peer has it too. The two confirm it with each other
  // before effective_at (TakeConfirmToSend / OnConfirmAsk); one not confirmed by then is
  // dropped, so a command never takes effect on one instance alone because the sender
  // died between the two. Needs effective_at.
  bool paired = false;
};

struct CommandOutcome {
  std::string command_id;
  CommandKind kind = CommandKind::kStop;
  CommandPhase phase = CommandPhase::kScheduled;
  absl::Time effective_at;
  std::string message;
};

// The reason a ping of a game this instance stopped is refused with (409): the peer
// reads it as "the game is over" (SendResult::kGameOver).
inline constexpr absl::string_view kGameStopped = "game stopped";

// A paired command's question to the peer: "do you have this command too?" Asked over the
// HTTP plane (GET /confirm); the peer answers with OnConfirmAsk.
struct ConfirmAsk {
  std::string command_id;
  CommandKind kind = CommandKind::kStop;
  absl::Time effective_at;
  // How long to wait for the answer: until effective_at, at least kConfirmMinWait.
  std::chrono::nanoseconds wait{0};

  friend bool operator==(const ConfirmAsk& a, const ConfirmAsk& b) {
    return a.command_id == b.command_id && a.kind == b.kind && a.effective_at == b.effective_at;
  }
};

// The answer to a ConfirmAsk.
struct ConfirmReply {
  enum Kind {
    kConfirmed,  // the peer has it scheduled (now confirmed there too) or in effect
    kUnknown,    // the peer does not have it (yet)
    kRefused,    // the peer has it rejected, cancelled, dropped, or as another command
    kFailed,     // no answer (asker side only)
  } kind;
  std::string reason;  // one line, unless kConfirmed
};

// What the HTTP plane answers to a game ping.
struct PingVerdict {
  enum Kind { kAccepted, kDuplicate, kRefused } kind;
  std::string reason;  // kRefused only: one line for the 409 body
};

// A ping the adapter must send to the peer now.
struct OutboundPing {
  GamePing ping;
  uint64_t epoch = 0;  // identifies the game: results of an older one are ignored
  int attempt = 0;     // 0 for the first send of this seq
};

// How a send ended, as the adapter saw it.
struct SendResult {
  // kGameOver: the peer refused it because it stopped this game.
  enum Kind { kDelivered, kRefused, kGameOver, kFailed } kind;
  std::chrono::nanoseconds rtt{0};  // kDelivered
  std::string error;                // otherwise: one line
};

// One thing that happened, for the log.
struct GameEvent {
  enum Kind {
    kCommandScheduled,
    kCommandApplied,
    kCommandRejected,
    kCommandCancelled,
    kCommandNoOp,
    kCommandConfirmed,
    kCommandDropped,
    kPingSent,
    kPongReceived,
    kPingReceived,
    kPingDuplicate,
    kPingRefused,
    kGameJoined,
    kGameRejoined,
    kGameOverAtPeer,
    kBallLost,
    kPeerError,
  } kind;
  std::string text;
};

struct PendingCommand {
  std::string command_id;
  CommandKind kind = CommandKind::kStop;
  absl::Time effective_at;
  bool paired = false;
  bool confirmed = false;  // paired: the peer confirmed it has it too
};

struct PeerSnapshot {
  bool reachable = true;
  uint64_t consecutive_failures = 0;
  std::string last_error;
  std::optional<absl::Duration> last_rtt;
};

struct GameSnapshot {
  GameState state = GameState::kIdle;
  std::string game_id;
  int64_t pong_time_ms = 0;
  bool serve = false;
  Ball ball = Ball::kNone;
  std::optional<absl::Time> ball_due_at;    // running, ball held
  std::optional<absl::Duration> time_left;  // paused, ball held
  uint64_t last_seq = 0;
  uint64_t pings_sent = 0;
  uint64_t pings_received = 0;
  uint64_t duplicate_pings = 0;
  uint64_t rejected_pings = 0;
  std::optional<absl::Time> last_ping_sent_at;
  std::optional<absl::Time> last_ping_received_at;
  PeerSnapshot peer;
  std::optional<PendingCommand> pending;
  std::optional<CommandOutcome> last_command;
};

// The rules of the game for one instance: the control state machine, the scheduled
// commands and the ball. Pure: no I/O, no threads, no clock of its own; every call takes
// the time it happens at. Not thread-safe: the owner serializes calls.
class Game {
 public:
  // Makes the id of a game started without one on the serving instance.
  using IdGenerator = std::function<std::string()>;
  // Receives every event as it happens, in order.
  using EventSink = std::function<void(const GameEvent&)>;

  Game(IdGenerator new_game_id, EventSink sink);

  // Validates a command on arrival. Accepted: the outcome, SCHEDULED for effective_at or,
  // without one, already APPLIED; a state that already is what it asks for is a NO_OP.
  // Rejected: INVALID_ARGUMENT, FAILED_PRECONDITION, DEADLINE_EXCEEDED or ABORTED. The
  // same command_id again returns its first outcome, updated to its current phase.
  absl::StatusOr<CommandOutcome> Submit(const Command& command, Instant now);

  // Drops a scheduled command. NOT_FOUND when the id is unknown or was rejected,
  // FAILED_PRECONDITION when it already took effect or, paired, was confirmed with the
  // peer (it takes effect on both); UNAVAILABLE while its ask to the peer is on its way
  // (the answer decides: call again after OnConfirmResult). A cancelled, dropped or
  // no-op command is returned as it is, since it changes nothing.
  absl::StatusOr<CommandOutcome> Cancel(absl::string_view command_id, Instant now);

  // Applies every command and ball deadline up to now, in the order they were due.
  void Advance(Instant now);
  // How long before its due time a held ball is handed out (TakePingToSend), so that the
  // ping leaves at that time rather than the caller's wake-up delay after it (the caller
  // measures that delay: SendLeadEstimator). A command due before the ball still goes
  // first: the lead never moves a ping ahead of it. Zero unless set.
  void SetSendLead(std::chrono::nanoseconds lead) { send_lead_ = lead; }
  // The earliest pending command (or its next ask to the peer), and the earliest ball
  // deadline (send, less the send lead, or retry). No command deadline while an ask is
  // on its way.
  std::optional<MonoTime> NextCommandDeadline() const;
  std::optional<MonoTime> NextPingDeadline() const;

  // A game ping from the peer, handled at now. Applies what is due first. An idle
  // instance with nothing pending and no record of the ping's game rejoins it (it was
  // restarted mid-game): it takes the game id, seq and pong_time_ms from the ping.
  // `arrived`: when its bytes reached this host (the kernel's receive time), if known;
  // the ball is then due pong_time_ms after that rather than after now (never later than
  // now + pong_time_ms), so the handler's wake-up and parsing do not stretch the interval.
  PingVerdict OnPing(const GamePing& ping, Instant now,
                     std::optional<MonoTime> arrived = std::nullopt);
  // The ping that is due, if any; the caller sends it and reports with OnSendResult.
  std::optional<OutboundPing> TakePingToSend(Instant now);
  void OnSendResult(const OutboundPing& sent, const SendResult& result, Instant now,
                    double jitter01);

  // A paired command's ask that is due, if any; the caller sends it to the peer and
  // reports with OnConfirmResult. A paired command due while its ask is on its way waits
  // for the answer: confirmed, it takes effect then; otherwise it is dropped.
  std::optional<ConfirmAsk> TakeConfirmToSend(Instant now);
  void OnConfirmResult(const ConfirmAsk& ask, const ConfirmReply& reply, Instant now);
  // The peer asks whether this instance has `ask` too. Answering kConfirmed confirms it
  // here: from then on it takes effect and can no longer be cancelled.
  ConfirmReply OnConfirmAsk(const ConfirmAsk& ask, Instant now);

  GameSnapshot Snapshot(Instant now) const;
  GameState state() const { return state_; }
  Ball ball() const { return ball_; }

 private:
  struct Pending {
    Command command;
    MonoTime effective;
    absl::Time effective_wall;
    // Paired commands only.
    enum class Confirmation {
      kUnconfirmed,
      kAsking,
      kConfirmed
    } confirmation = Confirmation::kUnconfirmed;
    MonoTime ask_due{};  // kUnconfirmed: the next ask; MonoTime::max() for none
    int asks = 0;        // asks answered "not yet" or failed so far
  };
  struct Record {
    absl::Status status;     // not ok: the command was rejected
    CommandOutcome outcome;  // ok
  };

  absl::StatusOr<CommandOutcome> Validate(const Command& command, Instant now);
  absl::StatusOr<CommandOutcome> Remember(const Command& command,
                                          absl::StatusOr<CommandOutcome> result);
  void Apply(const Pending& pending);
  // A paired pending command the peer confirmed (or whose effect the peer shows).
  void Confirm(absl::string_view how);
  // Ends a paired pending command whose time came unconfirmed, without effect.
  void DropUnconfirmed();
  // Applies `pending` now, `why` (e.g. "on the peer's first ping") before its time.
  void ApplyEarly(absl::string_view why, Instant now);
  // Resets the game state for a new game (Start, or a rejoin).
  void BeginGame(std::string game_id, int64_t pong_time_ms, bool serve);
  void EndGame();
  bool WasStopped(absl::string_view game_id) const;
  // True when `ping` is the first ping of the Start this instance has pending (kEarlyStart).
  bool StartsWith(const GamePing& ping, Instant now) const;
  // The ball is ours; the next ping goes out after `wait` (kept as time left while paused).
  void HoldBall(MonoTime from, std::chrono::nanoseconds wait);
  // What a send's result says of the peer; on a failure, the wait before the next try.
  std::chrono::nanoseconds NotePeer(const SendResult& result, double jitter01);
  // The ball is lost and the next probe (our last ping again) waits for probe_due_.
  bool ProbeDue() const;
  // When a held ball is handed out: its due time less the send lead.
  MonoTime HandOutAt() const;
  void OnProbeResult(const OutboundPing& sent, const SendResult& result, Instant now,
                     double jitter01);
  void SetPhase(absl::string_view command_id, CommandPhase phase);
  void Emit(GameEvent::Kind kind, std::string text);
  absl::Time WallOf(MonoTime t, Instant now) const;

  IdGenerator new_game_id_;
  EventSink sink_;

  GameState state_ = GameState::kIdle;
  uint64_t epoch_ = 0;
  std::string game_id_;
  std::deque<std::string> stopped_game_ids_;  // newest last
  std::chrono::nanoseconds pong_time_{0};
  int64_t pong_time_ms_ = 0;
  bool serve_ = false;

  Ball ball_ = Ball::kNone;
  MonoTime due_{};                         // kHeld and running
  std::chrono::nanoseconds send_lead_{0};  // SetSendLead
  MonoTime peer_due_{};                    // kAtPeer and running: the peer's ping is due
  MonoTime probe_due_{};                   // kLost: when to probe the peer again
  bool probing_ = false;                   // kLost: a probe is ready or on its way
  std::chrono::nanoseconds time_left_{0};  // kHeld and paused
  uint64_t out_seq_ = 0;                   // the seq we hold, send or sent last
  int attempt_ = 0;                        // sends of out_seq_ so far
  uint64_t last_seq_ = 0;                  // highest seq sent or received
  bool ping_ready_ = false;                // due: TakePingToSend hands it out

  uint64_t pings_sent_ = 0;
  uint64_t pings_received_ = 0;
  uint64_t duplicate_pings_ = 0;
  uint64_t rejected_pings_ = 0;
  std::optional<absl::Time> last_ping_sent_at_;
  std::optional<absl::Time> last_ping_received_at_;
  PeerSnapshot peer_;

  std::optional<Pending> pending_;
  std::optional<CommandOutcome> last_command_;
  // std::, not absl::flat_hash_map: abseil 20240722 keeps part of its hash table in
  // libabsl_raw_hash_set.so, built without ASan, while the header part compiled into a
  // sanitizer build poisons the slots; the two then disagree (use-after-poison in the
  // fuzz build on Debian 13). A few hundred records off the ping path need no swisstable.
  std::unordered_map<std::string, Record> records_;
  std::deque<std::string> record_order_;
};

}  // namespace pong

#endif  // PONG_SERVER_CORE_GAME_H_
