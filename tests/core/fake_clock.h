#ifndef PONG_TESTS_CORE_FAKE_CLOCK_H_
#define PONG_TESTS_CORE_FAKE_CLOCK_H_

#include <chrono>
#include <cstdlib>
#include <mutex>

#include "absl/time/time.h"
#include "server/core/clock.h"

namespace pong {

// A clock that moves only when told to. Monotonic and wall time advance together, and
// the wall clock can also be stepped alone, as NTP or an operator would step it. Starts
// far from both epochs so no test depends on a zero. Thread-safe, like every Clock.
class FakeClock final : public Clock {
 public:
  static constexpr MonoTime kStartMono = MonoTime(std::chrono::hours(1000));
  static absl::Time StartWall() { return absl::FromUnixSeconds(1'750'000'000); }

  MonoTime Now() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return mono_;
  }
  absl::Time WallNow() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return wall_;
  }

  // Moves both clocks forward by `d`; monotonic time never goes back, so `d` < 0 aborts.
  void Advance(absl::Duration d) {
    if (d < absl::ZeroDuration()) std::abort();
    std::lock_guard<std::mutex> lock(mu_);
    mono_ += ToChrono(d);
    wall_ += d;
  }
  void Advance(std::chrono::nanoseconds d) { Advance(ToAbsl(d)); }

  // Moves both clocks forward until the monotonic one reads `t` (no-op if it already has).
  void AdvanceTo(MonoTime t) {
    const MonoTime now = Now();
    if (t > now) Advance(ToAbsl(t - now));
  }

  // Steps the wall clock alone, either way; monotonic time does not move.
  void StepWall(absl::Duration d) {
    std::lock_guard<std::mutex> lock(mu_);
    wall_ += d;
  }
  void SetWall(absl::Time t) {
    std::lock_guard<std::mutex> lock(mu_);
    wall_ = t;
  }

 private:
  mutable std::mutex mu_;
  MonoTime mono_ = kStartMono;
  absl::Time wall_ = StartWall();
};

}  // namespace pong

#endif  // PONG_TESTS_CORE_FAKE_CLOCK_H_
