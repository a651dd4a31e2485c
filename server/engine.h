#ifndef PONG_SERVER_ENGINE_H_
#define PONG_SERVER_ENGINE_H_

#include <condition_variable>
#include <random>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "server/core/clock.h"
#include "server/core/game.h"
#include "server/event_log.h"
#include "server/mutex.h"
#include "server/peer_link.h"

namespace pong {

// Runs a Game in real time. Two threads keep its deadlines on the monotonic clock
// without polling: one applies scheduled commands (and asks the peer to confirm paired
// ones), the other sends the ball when it is due and waits for the pong, so a slow or
// absent peer never delays a command. Every public method is thread-safe and returns at
// once (no waiting for a scheduled time), but for Cancel, which may wait for the answer
// of an ask on its way (at most its wait).
class GameEngine {
 public:
  GameEngine(const Clock& clock, PeerLink& peer, EventLog& log);
  ~GameEngine();  // Stop()

  // Stops the timers and closes the link to the peer; a send in progress is interrupted.
  // Calls made afterwards still answer, but nothing is sent or applied on time any more.
  // Idempotent; call from the owning thread.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  GameEngine(const GameEngine&) = delete;
  GameEngine& operator=(const GameEngine&) = delete;

  absl::StatusOr<CommandOutcome> Submit(const Command& command) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<CommandOutcome> Cancel(absl::string_view command_id) ABSL_LOCKS_EXCLUDED(mu_);
  // `age`: how long ago the ping's bytes reached this host (by the kernel's receive
  // timestamp), if known; the ball is then due pong_time_ms after that.
  PingVerdict OnPing(const GamePing& ping, std::optional<absl::Duration> age = std::nullopt)
      ABSL_LOCKS_EXCLUDED(mu_);
  ConfirmReply OnConfirmAsk(const ConfirmAsk& ask) ABSL_LOCKS_EXCLUDED(mu_);
  GameSnapshot Snapshot() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void CommandLoop() ABSL_LOCKS_EXCLUDED(mu_);
  void BallLoop() ABSL_LOCKS_EXCLUDED(mu_);
  // The Game's event sink, so called under mu_; it only enqueues.
  void OnEvent(const GameEvent& event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After a call that may have moved a deadline: both timer threads look again.
  // Under mu_: a control call's last touch of the engine then comes before the next lock
  // of mu_, so before the Stop() and destruction that follow the last call, in a way
  // ThreadSanitizer sees too (what orders them in the server is gRPC's Shutdown waiting
  // for its handlers, which it cannot see). OnPing may notify after unlocking: the HTTP
  // plane's threads are joined before the engine goes.
  void WakeTimers() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Clock& clock_;
  PeerLink& peer_;
  EventLog& log_;

  // pong::Mutex (std::mutex underneath) rather than absl::Mutex/CondVar: abseil 20220623
  // waits on the realtime clock, and a step of the system time must not move a deadline.
  // clang checks the annotations (-Wthread-safety); GCC does not.
  Mutex mu_;
  std::condition_variable command_cv_;  // the next command deadline may have changed
  std::condition_variable ball_cv_;     // the next ball deadline may have changed
  std::condition_variable asked_cv_;    // an ask to the peer was answered
  Game game_ ABSL_GUARDED_BY(mu_);
  std::mt19937_64 jitter_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // While OnPing runs: when that ping arrived (wall clock), if known.
  std::optional<absl::Time> ping_arrived_at_ ABSL_GUARDED_BY(mu_);

  std::thread command_thread_;
  std::thread ball_thread_;
};

}  // namespace pong

#endif  // PONG_SERVER_ENGINE_H_
