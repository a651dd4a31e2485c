#ifndef PONG_SERVER_LOG_RATE_LIMITER_H_
#define PONG_SERVER_LOG_RATE_LIMITER_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace pong {

// Keeps lines that outsiders can cause (refused pings, say) from flooding a log: per key,
// at most `lines` in each `window` are written; the rest are counted, and once their
// window is over they are reported as one summary. A window opens with the first line of
// its key after the last one closed. Pure: time is an input. Not thread-safe.
class LogRateLimiter {
 public:
  using Time = std::chrono::steady_clock::time_point;

  struct Summary {
    std::string key;
    uint64_t suppressed = 0;
    std::chrono::nanoseconds window{0};

    std::string Text() const;  // "suppressed 1234 similar lines (<key>) in the last 1 s"
  };

  LogRateLimiter(int lines, std::chrono::nanoseconds window);

  // The summaries of windows that are over at `now` and suppressed something, in the
  // order they closed; call it before Admit so that a summary precedes the next line.
  std::vector<Summary> TakeEnded(Time now);
  // True: write this line of `key`. False: it is counted for the window's summary.
  bool Admit(absl::string_view key, Time now);
  // When the next window that suppressed something closes: when to call TakeEnded.
  std::optional<Time> NextEnd() const;

 private:
  struct Window {
    Time end;
    int written = 0;
    uint64_t suppressed = 0;
  };

  const int lines_;
  const std::chrono::nanoseconds window_;
  std::map<std::string, Window, std::less<>> windows_;  // a handful of keys
};

}  // namespace pong

#endif  // PONG_SERVER_LOG_RATE_LIMITER_H_
