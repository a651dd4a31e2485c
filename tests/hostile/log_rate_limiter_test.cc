#include "server/log_rate_limiter.h"

#include <gtest/gtest.h>

namespace pong {
namespace {

using std::chrono::milliseconds;
using Time = LogRateLimiter::Time;

constexpr Time kT0{};

TEST(LogRateLimiterTest, WritesUpToTheLimitPerWindowThenCounts) {
  LogRateLimiter limiter(3, milliseconds(1000));
  int written = 0;
  for (int i = 0; i < 100; ++i) written += limiter.Admit("refused", kT0 + milliseconds(i));
  EXPECT_EQ(written, 3);
  EXPECT_TRUE(limiter.TakeEnded(kT0 + milliseconds(999)).empty()) << "the window is still open";
  ASSERT_EQ(limiter.NextEnd(), kT0 + milliseconds(1000));

  const std::vector<LogRateLimiter::Summary> ended = limiter.TakeEnded(kT0 + milliseconds(1000));
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].key, "refused");
  EXPECT_EQ(ended[0].suppressed, 97u);
  EXPECT_EQ(ended[0].Text(), "suppressed 97 similar lines (refused) in the last 1s");
  EXPECT_FALSE(limiter.NextEnd().has_value());
  EXPECT_TRUE(limiter.TakeEnded(kT0 + milliseconds(5000)).empty()) << "reported once";
}

TEST(LogRateLimiterTest, ANewWindowOpensWithTheFirstLineAfterTheLastClosed) {
  LogRateLimiter limiter(2, milliseconds(1000));
  EXPECT_TRUE(limiter.Admit("k", kT0));
  EXPECT_TRUE(limiter.Admit("k", kT0 + milliseconds(10)));
  EXPECT_FALSE(limiter.Admit("k", kT0 + milliseconds(20)));
  EXPECT_EQ(limiter.TakeEnded(kT0 + milliseconds(1500)).size(), 1u);
  // The next window runs from 1500 ms to 2500 ms.
  EXPECT_TRUE(limiter.Admit("k", kT0 + milliseconds(1500)));
  EXPECT_TRUE(limiter.Admit("k", kT0 + milliseconds(2400)));
  EXPECT_FALSE(limiter.Admit("k", kT0 + milliseconds(2499)));
  EXPECT_TRUE(limiter.TakeEnded(kT0 + milliseconds(2499)).empty());
  EXPECT_EQ(limiter.TakeEnded(kT0 + milliseconds(2500)).size(), 1u);
  EXPECT_TRUE(limiter.Admit("k", kT0 + milliseconds(2500)));
}

TEST(LogRateLimiterTest, AWindowWithinTheLimitHasNoSummary) {
  LogRateLimiter limiter(5, milliseconds(1000));
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter.Admit("k", kT0 + milliseconds(i)));
  EXPECT_FALSE(limiter.NextEnd().has_value()) << "nothing to report, so no wake-up";
  EXPECT_TRUE(limiter.TakeEnded(kT0 + milliseconds(2000)).empty());
}

TEST(LogRateLimiterTest, KeysAreCountedApartAndReportedInTheOrderTheyClosed) {
  LogRateLimiter limiter(1, milliseconds(1000));
  EXPECT_TRUE(limiter.Admit("b", kT0));
  EXPECT_FALSE(limiter.Admit("b", kT0 + milliseconds(1)));
  EXPECT_TRUE(limiter.Admit("a", kT0 + milliseconds(100)));
  EXPECT_FALSE(limiter.Admit("a", kT0 + milliseconds(101)));
  EXPECT_FALSE(limiter.Admit("a", kT0 + milliseconds(102)));
  EXPECT_EQ(limiter.NextEnd(), kT0 + milliseconds(1000));
  const std::vector<LogRateLimiter::Summary> ended = limiter.TakeEnded(kT0 + milliseconds(1100));
  ASSERT_EQ(ended.size(), 2u);
  EXPECT_EQ(ended[0].key, "b");
  EXPECT_EQ(ended[0].suppressed, 1u);
  EXPECT_EQ(ended[1].key, "a");
  EXPECT_EQ(ended[1].suppressed, 2u);
}

}  // namespace
}  // namespace pong
