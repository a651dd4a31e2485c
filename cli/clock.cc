#include "cli/clock.h"

#include "absl/time/clock.h"

namespace pong::cli {

absl::Time RealClock::Now() { return absl::Now(); }

void RealClock::SleepUntil(absl::Time t) {
  // SleepFor may return early on a signal; loop until the instant has really passed.
  for (absl::Time now = absl::Now(); now < t; now = absl::Now()) absl::SleepFor(t - now);
}

}  // namespace pong::cli
