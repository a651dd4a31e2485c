#ifndef PONG_TESTS_SUPPORT_FAKE_PEER_LINK_H_
#define PONG_TESTS_SUPPORT_FAKE_PEER_LINK_H_

#include <deque>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "server/core/clock.h"
#include "server/mutex.h"
#include "server/peer_link.h"

namespace pong::testing {

// A peer that records the game pings it is sent and answers from a script: queued
// results first, in order, then the default result (delivered, unless changed).
// Thread-safe: the engine's ball thread sends while the test inspects.
class FakePeerLink final : public PeerLink {
 public:
  // One ping as the fake received it, with both clocks read on arrival.
  struct Sent {
    GamePing ping;
    MonoTime at;
    absl::Time wall_at;
  };

  // `clock` must outlive the fake.
  explicit FakePeerLink(const Clock& clock);

  SendResult Send(const GamePing& ping) override ABSL_LOCKS_EXCLUDED(mu_);
  // Records the ask and answers confirm_reply (confirmed, unless changed): a peer that
  // has every paired command too.
  ConfirmReply Confirm(const ConfirmAsk& ask) override ABSL_LOCKS_EXCLUDED(mu_);
  void SetConfirmReply(ConfirmReply reply) ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<ConfirmAsk> asks() const ABSL_LOCKS_EXCLUDED(mu_);
  // Counts the calls, and each ping sent so far is marked as followed by one.
  void Close() override ABSL_LOCKS_EXCLUDED(mu_);

  // The answer to every send once the queue is empty.
  void SetDefaultResult(SendResult result) ABSL_LOCKS_EXCLUDED(mu_);
  // Answers for the next sends, in order.
  void QueueResults(std::vector<SendResult> results) ABSL_LOCKS_EXCLUDED(mu_);

  std::vector<Sent> sent() const ABSL_LOCKS_EXCLUDED(mu_);
  size_t sent_count() const ABSL_LOCKS_EXCLUDED(mu_);
  size_t close_count() const ABSL_LOCKS_EXCLUDED(mu_);
  // Pings sent when Close was last called (0 before any call).
  size_t sent_at_last_close() const ABSL_LOCKS_EXCLUDED(mu_);
  // True once at least `count` pings were sent, false if `timeout` passed first.
  bool WaitForSent(size_t count, absl::Duration timeout) const ABSL_LOCKS_EXCLUDED(mu_);

  static SendResult Delivered(absl::Duration rtt = absl::Microseconds(100));
  static SendResult Failed(std::string error = "connection refused");

 private:
  const Clock& clock_;
  mutable Mutex mu_;
  std::vector<Sent> sent_ ABSL_GUARDED_BY(mu_);
  std::deque<SendResult> queued_ ABSL_GUARDED_BY(mu_);
  SendResult default_result_ ABSL_GUARDED_BY(mu_);
  size_t close_count_ ABSL_GUARDED_BY(mu_) = 0;
  size_t sent_at_last_close_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<ConfirmAsk> asks_ ABSL_GUARDED_BY(mu_);
  ConfirmReply confirm_reply_ ABSL_GUARDED_BY(mu_){ConfirmReply::kConfirmed, ""};
};

}  // namespace pong::testing

#endif  // PONG_TESTS_SUPPORT_FAKE_PEER_LINK_H_
