#include "tests/support/fake_peer_link.h"

#include <utility>

#include "tests/support/wait.h"

namespace pong::testing {

FakePeerLink::FakePeerLink(const Clock& clock) : clock_(clock), default_result_(Delivered()) {}

SendResult FakePeerLink::Send(const GamePing& ping) {
  const Instant now = clock_.Read();
  MutexLock lock(mu_);
  sent_.push_back(Sent{ping, now.mono, now.wall});
  if (queued_.empty()) return default_result_;
  SendResult result = std::move(queued_.front());
  queued_.pop_front();
  return result;
}

ConfirmReply FakePeerLink::Confirm(const ConfirmAsk& ask) {
  MutexLock lock(mu_);
  asks_.push_back(ask);
  return confirm_reply_;
}

void FakePeerLink::SetConfirmReply(ConfirmReply reply) {
  MutexLock lock(mu_);
  confirm_reply_ = std::move(reply);
}

std::vector<ConfirmAsk> FakePeerLink::asks() const {
  MutexLock lock(mu_);
  return asks_;
}

void FakePeerLink::Close() {
  MutexLock lock(mu_);
  ++close_count_;
  sent_at_last_close_ = sent_.size();
}

size_t FakePeerLink::close_count() const {
  MutexLock lock(mu_);
  return close_count_;
}

size_t FakePeerLink::sent_at_last_close() const {
  MutexLock lock(mu_);
  return sent_at_last_close_;
}

void FakePeerLink::SetDefaultResult(SendResult result) {
  MutexLock lock(mu_);
  default_result_ = std::move(result);
}

void FakePeerLink::QueueResults(std::vector<SendResult> results) {
  MutexLock lock(mu_);
  for (SendResult& result : results) queued_.push_back(std::move(result));
}

std::vector<FakePeerLink::Sent> FakePeerLink::sent() const {
  MutexLock lock(mu_);
  return sent_;
}

size_t FakePeerLink::sent_count() const {
  MutexLock lock(mu_);
  return sent_.size();
}

bool FakePeerLink::WaitForSent(size_t count, absl::Duration timeout) const {
  return WaitUntil([&] { return sent_count() >= count; }, timeout);
}

SendResult FakePeerLink::Delivered(absl::Duration rtt) {
  return SendResult{SendResult::kDelivered, ToChrono(rtt), ""};
}

SendResult FakePeerLink::Failed(std::string error) {
  return SendResult{SendResult::kFailed, std::chrono::nanoseconds(0), std::move(error)};
}

}  // namespace pong::testing
