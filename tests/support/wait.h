#ifndef PONG_TESTS_SUPPORT_WAIT_H_
#define PONG_TESTS_SUPPORT_WAIT_H_

#include <functional>

#include "absl/time/time.h"

namespace pong::testing {

// Polls `condition` every `interval` until it holds or `timeout` (times SlowdownFactor())
// has passed, and returns its last value: tests wait for a state instead of sleeping a
// fixed time. Any thread.
bool WaitUntil(const std::function<bool()>& condition, absl::Duration timeout,
               absl::Duration interval = absl::Milliseconds(2));

// How much slower than a plain build this one runs: $PONG_TEST_SLOWDOWN (tools/test --tsan
// sets it), 1 by default. Scales a test's bounds on how long something may take and the
// lead of the commands it schedules.
int SlowdownFactor();

// `bound` times SlowdownFactor(): a limit on how long something may take, or the lead of
// a command a test schedules (an absl::Duration, a std::chrono duration or a count of ms).
template <typename Bound>
Bound Scaled(Bound bound) {
  return bound * SlowdownFactor();
}

}  // namespace pong::testing

#endif  // PONG_TESTS_SUPPORT_WAIT_H_
