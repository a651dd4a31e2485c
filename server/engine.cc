#include "server/engine.h"

#include <sys/prctl.h>

#include <chrono>

#include "server/core/send_lead.h"
#include "server/random_id.h"
#include "server/thread_name.h"

namespace pong {
namespace {

// The kernel's default 50 us timer slack would be added to every deadline.
void TightenTimerSlack() { prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0); }

// The ball thread closes its connection to the peer when it will idle long: after each
// ping of a game this slow (each instance sends every 2 x pong_time_ms) and once the game
// is paused or over. The peer's server then ends that connection's thread at once instead
// of holding it until its 1 s keep-alive timeout (its httplib predecessor also polled such
// a connection 100 times a second). The connection for the next ping is opened again a
// moment before it is due (PeerLink::Prepare), off its time; faster games keep it.
constexpr int64_t kCloseLinkFromPongTimeMs = 250;

// A ping's arrival stamp older than this when it is handled is not trusted.
constexpr absl::Duration kMaxArrivalAge = absl::Seconds(1);

// A thread that slept long wakes ~0.12-0.15 ms after its deadline on this kind of machine
// (a KVM guest: the idle vCPU has to be woken too), one that slept a millisecond or less
// ~0.08 ms after it (tools/bench's "received -> sent" split; docs/PERFORMANCE.md). So a
// far deadline is slept for in two steps: until this long before it, then the rest. Both
// are futex waits: nothing spins.
constexpr std::chrono::microseconds kWakeEarly{1000};

// How long a connection opened ahead of a ping may take before the ping's own Send is
// left to open it: a loopback handshake takes ~0.1 ms, and the ping is due within
// kWakeEarly.
constexpr std::chrono::milliseconds kPrepareTimeout{1};

// Waits for `cv` until `deadline`, or without end when there is none. A deadline more than
// kWakeEarly after `now` is waited for only until kWakeEarly before it: the caller, which
// looks at its deadline again after every wake, then waits for the rest.
void WaitFor(std::condition_variable& cv, MutexLock& lock, const std::optional<MonoTime>& deadline,
             MonoTime now) {
  if (!deadline) {
    lock.Wait(cv);
  } else if (*deadline - now > kWakeEarly) {
    lock.WaitUntil(cv, *deadline - kWakeEarly);
  } else {
    lock.WaitUntil(cv, *deadline);
  }
}

}  // namespace

GameEngine::GameEngine(const Clock& clock, PeerLink& peer, EventLog& log)
    : clock_(clock),
      peer_(peer),
      log_(log),
      // The Game calls its sink only from its own methods, all called under mu_.
      game_(NewRandomId,
            [this](const GameEvent& event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { OnEvent(event); }),
      jitter_(std::random_device{}()),
      command_thread_([this] { CommandLoop(); }),
      ball_thread_([this] { BallLoop(); }) {}

GameEngine::~GameEngine() { Stop(); }

void GameEngine::Stop() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
    WakeTimers();
    asked_cv_.notify_all();  // a Cancel waiting for an ask's answer
  }
  peer_.Interrupt();  // a send in progress returns at once
  if (command_thread_.joinable()) command_thread_.join();
  if (ball_thread_.joinable()) ball_thread_.join();
  // Closing our kept-alive connection lets the peer's HTTP plane stop without waiting.
  peer_.Interrupt();
}

absl::StatusOr<CommandOutcome> GameEngine::Submit(const Command& command) {
  absl::StatusOr<CommandOutcome> outcome;
  {
    MutexLock lock(mu_);
    outcome = game_.Submit(command, clock_.Read());
    WakeTimers();
  }
  return outcome;
}

absl::StatusOr<CommandOutcome> GameEngine::Cancel(absl::string_view command_id) {
  absl::StatusOr<CommandOutcome> outcome;
  {
    MutexLock lock(mu_);
    outcome = game_.Cancel(command_id, clock_.Read());
    // UNAVAILABLE: the command is paired and its ask is on its way; the answer decides
    // whether it can still be cancelled, and comes within the ask's wait.
    const MonoTime give_up = clock_.Now() + kConfirmMaxWait + std::chrono::milliseconds(100);
    while (outcome.status().code() == absl::StatusCode::kUnavailable && !stopping_ &&
           clock_.Now() < give_up) {
      lock.WaitUntil(asked_cv_, give_up);
      outcome = game_.Cancel(command_id, clock_.Read());
    }
    WakeTimers();  // a cancelled command leaves its timer without a deadline
  }
  return outcome;
}

PingVerdict GameEngine::OnPing(const GamePing& ping, std::optional<absl::Duration> age) {
  const Instant received = clock_.Read();
  // An age below zero or over kMaxArrivalAge (the wall clock was stepped between the
  // kernel's stamp and its reading) is not trusted.
  std::optional<MonoTime> arrived;
  std::optional<absl::Time> arrived_wall;
  if (age && *age >= absl::ZeroDuration() && *age <= kMaxArrivalAge) {
    arrived = received.mono - absl::ToChronoNanoseconds(*age);
    arrived_wall = received.wall - *age;
  }
  PingVerdict verdict;
  bool state_changed = false;
  {
    MutexLock lock(mu_);
    const GameState before = game_.state();
    ping_arrived_at_ = arrived_wall;  // the "ping received" line's time
    verdict = game_.OnPing(ping, received, arrived);
    ping_arrived_at_.reset();
    state_changed = game_.state() != before;
  }
  if (verdict.kind == PingVerdict::kAccepted || state_changed) ball_cv_.notify_one();
  return verdict;
}

ConfirmReply GameEngine::OnConfirmAsk(const ConfirmAsk& ask) {
  ConfirmReply reply;
  {
    MutexLock lock(mu_);
    reply = game_.OnConfirmAsk(ask, clock_.Read());
    // Confirmed, the command's next deadline is effective_at, not its next ask.
    WakeTimers();
  }
  return reply;
}

GameSnapshot GameEngine::Snapshot() {
  GameSnapshot snapshot;
  {
    MutexLock lock(mu_);
    const Instant now = clock_.Read();
    game_.Advance(now);  // a command whose time has come shows as applied, timer or not
    snapshot = game_.Snapshot(now);
    // If that applied a resume, the ball thread (asleep without a deadline while paused)
    // must learn of its new one.
    WakeTimers();
  }
  return snapshot;
}

void GameEngine::WakeTimers() {
  command_cv_.notify_one();
  ball_cv_.notify_one();
}

void GameEngine::CommandLoop() {
  NameThisThread("pong-commands");
  TightenTimerSlack();
  MutexLock lock(mu_);
  while (!stopping_) {
    if (std::optional<ConfirmAsk> ask = game_.TakeConfirmToSend(clock_.Read())) {
      lock.Unlock();
      const ConfirmReply reply = peer_.Confirm(*ask);
      lock.Lock();
      game_.OnConfirmResult(*ask, reply, clock_.Read());
      asked_cv_.notify_all();  // a Cancel waiting for this answer
      continue;
    }
    const std::optional<MonoTime> deadline = game_.NextCommandDeadline();
    const MonoTime now = clock_.Now();
    if (deadline && now >= *deadline) {
      game_.Advance(clock_.Read());
      ball_cv_.notify_one();  // a start or resume may have made the ball due
      continue;
    }
    WaitFor(command_cv_, lock, deadline, now);
  }
}

void GameEngine::BallLoop() {
  NameThisThread("pong-ball");
  TightenTimerSlack();
  bool link_open = false;  // whether the peer link may hold a connection
  // How late this thread gets from a deadline it slept toward to sending, learnt as it
  // goes; the game hands the ball out that much early, so that pings leave on time.
  SendLeadEstimator send_lead;
  MonoTime slept_toward = MonoTime::max();  // the deadline of the last wait; max: none
  MutexLock lock(mu_);
  while (!stopping_) {
    const std::optional<MonoTime> deadline = game_.NextPingDeadline();
    const MonoTime now = clock_.Now();
    if (!deadline || now < *deadline) {
      if (link_open && game_.state() != GameState::kRunning) {
        link_open = false;
        lock.Unlock();
        peer_.Close();
        lock.Lock();
        continue;
      }
      if (!link_open && deadline && *deadline - now <= kWakeEarly &&
          game_.state() == GameState::kRunning && game_.ball() == Ball::kHeld) {
        // A ping that would open a connection opens it now, in the last short sleep
        // before it is due, so that the handshake is not on its time. (A handshake that
        // outlasts the sleep says nothing about wake-ups: no longer slept toward it.)
        link_open = true;
        slept_toward = MonoTime::max();
        lock.Unlock();
        peer_.Prepare(kPrepareTimeout);
        lock.Lock();
        continue;
      }
      slept_toward = deadline.value_or(MonoTime::max());
      WaitFor(ball_cv_, lock, deadline, now);
      continue;
    }
    // Only a wake-up for the deadline it slept toward says how late wake-ups are (not a
    // ball that was due at once, as at pong_time_ms 0).
    const bool woke_for_it = *deadline == slept_toward;
    slept_toward = MonoTime::max();
    game_.Advance(clock_.Read());
    std::optional<OutboundPing> ping = game_.TakePingToSend(clock_.Read());
    if (!ping) continue;
    lock.Unlock();
    if (woke_for_it) send_lead.Observe(clock_.Now() - *deadline);
    const SendResult result = peer_.Send(ping->ping);
    link_open = ping->ping.pong_time_ms < kCloseLinkFromPongTimeMs;
    if (!link_open) peer_.Close();
    lock.Lock();
    const double jitter01 = std::uniform_real_distribution<double>(0.0, 1.0)(jitter_);
    game_.OnSendResult(*ping, result, clock_.Read(), jitter01);
    game_.SetSendLead(send_lead.Lead());
  }
}

void GameEngine::OnEvent(const GameEvent& event) {
  // Anyone who can reach the HTTP port can cause these as fast as it can send; the game's
  // own lines (pings sent and received, commands, peer errors) are always written.
  switch (event.kind) {
    case GameEvent::kPingRefused:
      return log_.WriteLimited("ping refused", clock_.WallNow(), event.text);
    case GameEvent::kPingDuplicate:
      return log_.WriteLimited("ping duplicate", clock_.WallNow(), event.text);
    case GameEvent::kPingReceived:
      // Stamped when it arrived, the time its ball counts from.
      return log_.Write(ping_arrived_at_.value_or(clock_.WallNow()), event.text);
    default:
      return log_.Write(clock_.WallNow(), event.text);
  }
}

}  // namespace pong
