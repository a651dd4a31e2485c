#include "tests/support/wait.h"

#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"

namespace pong::testing {

bool WaitUntil(const std::function<bool()>& condition, absl::Duration timeout,
               absl::Duration interval) {
  const absl::Time deadline = absl::Now() + Scaled(timeout);
  while (true) {
    if (condition()) return true;
    if (absl::Now() >= deadline) return condition();
    absl::SleepFor(interval);
  }
}

int SlowdownFactor() {
  const char* text = std::getenv("PONG_TEST_SLOWDOWN");
  int factor = 1;
  return text != nullptr && absl::SimpleAtoi(text, &factor) && factor >= 1 ? factor : 1;
}

}  // namespace pong::testing
