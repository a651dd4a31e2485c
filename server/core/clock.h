#ifndef PONG_SERVER_CORE_CLOCK_H_
#define PONG_SERVER_CORE_CLOCK_H_

#include <chrono>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace pong {

// Monotonic time drives every deadline; wall time only labels commands and logs, so a
// step of the system clock never disturbs a running game.
using MonoTime = std::chrono::steady_clock::time_point;

// One reading of both clocks, taken together.
struct Instant {
  MonoTime mono;
  absl::Time wall;
};

// The one clock seam. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual MonoTime Now() const = 0;
  virtual absl::Time WallNow() const = 0;
  Instant Read() const { return {Now(), WallNow()}; }
};

class RealClock final : public Clock {
 public:
  MonoTime Now() const override { return std::chrono::steady_clock::now(); }
  absl::Time WallNow() const override { return absl::Now(); }
};

inline absl::Duration ToAbsl(std::chrono::nanoseconds d) { return absl::Nanoseconds(d.count()); }
inline std::chrono::nanoseconds ToChrono(absl::Duration d) {
  return std::chrono::nanoseconds(absl::ToInt64Nanoseconds(d));
}

}  // namespace pong

#endif  // PONG_SERVER_CORE_CLOCK_H_
