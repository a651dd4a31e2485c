#include "tests/support/wait.h"

#include "absl/time/clock.h"

namespace pong::testing {

bool WaitUntil(const std::function<bool()>& condition, absl::Duration timeout,
               absl::Duration interval) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (condition()) return true;
    if (absl::Now() >= deadline) return condition();
    absl::SleepFor(interval);
  }
}

}  // namespace pong::testing
