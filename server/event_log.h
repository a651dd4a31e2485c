#ifndef PONG_SERVER_EVENT_LOG_H_
#define PONG_SERVER_EVENT_LOG_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/log_rate_limiter.h"
#include "server/mutex.h"

namespace pong {

// One line per event, "2026-11-29T13:45:01.123Z first ping sent seq=3", written by a
// thread of its own so that neither a slow disk nor the writer's work disturbs the ping
// path. Write is thread-safe and only appends to a bounded queue; it wakes no thread: the
// first line after a flush arms a timer (kFlushDelay), so the writer runs once per batch
// and away from the moment the ping is sent, or at once when kWakeLines are waiting.
// Over the bound (the writer fell behind), lines are dropped and counted, and one line
// "N log lines dropped ..." follows the next batch written.
class EventLog {
 public:
  static constexpr std::chrono::milliseconds kFlushDelay{15};
  static constexpr size_t kWakeLines = 256;
  static constexpr size_t kMaxPendingLines = 16384;

  // path empty: standard error. micros: timestamps with microseconds (for tools/bench)
  // instead of milliseconds. max_pending: the queue's bound (tests make it small).
  static absl::StatusOr<std::unique_ptr<EventLog>> Open(const std::string& path, std::string name,
                                                        bool micros = false,
                                                        size_t max_pending = kMaxPendingLines);
  ~EventLog();  // writes what is left, then closes

  void Write(absl::Time at, std::string text) ABSL_LOCKS_EXCLUDED(mu_);
  // For lines an outsider can cause: at most kLimitedLines per second per key are
  // written; the rest become one "suppressed N similar lines (key) ..." line per second.
  void WriteLimited(absl::string_view key, absl::Time at, std::string text)
      ABSL_LOCKS_EXCLUDED(mu_);

  static constexpr int kLimitedLines = 10;
  static constexpr std::chrono::seconds kLimitWindow{1};

 private:
  struct Line {
    absl::Time at;
    std::string text;
  };
  // What Enqueue asks of the caller once mu_ is released.
  enum class Kick { kNone, kArmTimer, kWakeNow };

  EventLog(std::FILE* file, bool owned, std::string name, bool micros, size_t max_pending,
           int timer_fd, int wake_fd);
  void Run();
  // Queues a line, or drops and counts it over the bound.
  Kick EnqueueLocked(Line line) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DoKick(Kick kick);
  // Queues the summaries of the limiter's windows that are over.
  void TakeSummariesLocked(LogRateLimiter::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::FILE* const file_;
  const bool owned_;
  const std::string name_;
  const char* const time_format_;
  const size_t max_pending_;
  const int timer_fd_;  // timerfd: the delayed flush
  const int wake_fd_;   // eventfd: flush now (kWakeLines waiting, or stopping)
  Mutex mu_;
  std::vector<Line> pending_ ABSL_GUARDED_BY(mu_);
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  bool timer_armed_ ABSL_GUARDED_BY(mu_) = false;  // a flush is coming for what is pending
  bool woken_ ABSL_GUARDED_BY(mu_) = false;        // wake_fd_ was signalled
  LogRateLimiter limiter_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread writer_;
};

}  // namespace pong

#endif  // PONG_SERVER_EVENT_LOG_H_
