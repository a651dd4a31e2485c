#ifndef PONG_CLI_CLOCK_H_
#define PONG_CLI_CLOCK_H_

#include "absl/time/time.h"

namespace pong::cli {

// The CLI's one time seam: the fan-out reads the time and waits through it, so tests drive
// it with a fake and never sleep.
//
// Wall clock on purpose: effective_at is a wall-clock instant shared by two hosts, and the
// CLI lives for about a second, too short for a clock step to be worth a second time base.
// Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() = 0;
  // Returns at or after `t`; at once when `t` has passed.
  virtual void SleepUntil(absl::Time t) = 0;
};

class RealClock final : public Clock {
 public:
  absl::Time Now() override;
  void SleepUntil(absl::Time t) override;
};

}  // namespace pong::cli

#endif  // PONG_CLI_CLOCK_H_
