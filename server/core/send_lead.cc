#include "server/core/send_lead.h"

#include <algorithm>

namespace pong {

void SendLeadEstimator::Observe(std::chrono::nanoseconds late) {
  recent_[next_] = std::max(late, std::chrono::nanoseconds::zero());
  next_ = (next_ + 1) % kWindow;
  count_ = std::min(count_ + 1, kWindow);
}

std::chrono::nanoseconds SendLeadEstimator::Lead() const {
  if (count_ == 0) return std::chrono::nanoseconds::zero();
  std::array<std::chrono::nanoseconds, kWindow> sorted = recent_;
  auto* const middle = sorted.begin() + count_ / 2;
  std::nth_element(sorted.begin(), middle, sorted.begin() + count_);
  return std::min<std::chrono::nanoseconds>(*middle, kMaxLead);
}

}  // namespace pong
