#ifndef PONG_SERVER_EVENT_LOG_H_
#define PONG_SERVER_EVENT_LOG_H_

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/log_rate_limiter.h"

namespace pong {

// One line per event, "2026-11-29T13:45:01.123Z first ping sent seq=3", written by a
// thread of its own so that a slow disk never delays the ping path. Write is thread-safe
// and only appends to a buffer; lines are flushed as soon as the writer wakes.
class EventLog {
 public:
  // path empty: standard error. micros: timestamps with microseconds (for tools/bench)
  // instead of milliseconds.
  static absl::StatusOr<std::unique_ptr<EventLog>> Open(const std::string& path, std::string name,
                                                        bool micros = false);
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
  EventLog(std::FILE* file, bool owned, std::string name, bool micros);
  void Run();
  // Queues the summaries of the limiter's windows that are over.
  void TakeSummariesLocked(LogRateLimiter::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::FILE* const file_;
  const bool owned_;
  const std::string name_;
  const char* const time_format_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Line> pending_ ABSL_GUARDED_BY(mu_);
  LogRateLimiter limiter_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread writer_;
};

}  // namespace pong

#endif  // PONG_SERVER_EVENT_LOG_H_
