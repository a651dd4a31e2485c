#ifndef PONG_SERVER_CORE_SEND_LEAD_H_
#define PONG_SERVER_CORE_SEND_LEAD_H_

#include <array>
#include <chrono>
#include <cstddef>

namespace pong {

// How long before a ball's due time the ball thread should hand the ping out, so that the
// ping leaves at that time rather than a wake-up later. A thread asked to wake at t runs
// again some tens of microseconds after t (the kernel's timer and scheduler, the vCPU's
// own wake-up), and that delay is steady on one machine: every ping would otherwise be
// that much late, and a 10 ms game would run at ~98.6 pings/s instead of 100.
//
// Fed with each measured delay between the time the thread aimed for and the moment it
// went on to send; the lead is the median of the last kWindow of them (robust against the
// odd wake-up that a busy machine makes late by milliseconds), at most kMaxLead.
class SendLeadEstimator {
 public:
  static constexpr size_t kWindow = 15;
  static constexpr std::chrono::microseconds kMaxLead{500};

  // A delay below zero (a spurious early wake-up) counts as zero.
  void Observe(std::chrono::nanoseconds late);
  // Zero until the first observation.
  std::chrono::nanoseconds Lead() const;

 private:
  std::array<std::chrono::nanoseconds, kWindow> recent_{};
  size_t count_ = 0;  // observations so far, up to kWindow
  size_t next_ = 0;   // where the next one goes
};

}  // namespace pong

#endif  // PONG_SERVER_CORE_SEND_LEAD_H_
