#include "cli/clock.h"

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace pong::cli {
namespace {

TEST(RealClockTest, SleepsUntilTheInstantAndNotForAPastOne) {
  RealClock clock;
  const absl::Time target = clock.Now() + absl::Milliseconds(5);
  clock.SleepUntil(target);
  EXPECT_GE(absl::Now(), target);

  const absl::Time before = absl::Now();
  clock.SleepUntil(before - absl::Seconds(10));
  EXPECT_LT(absl::Now() - before, absl::Seconds(1));
}

}  // namespace
}  // namespace pong::cli
