#include "server/event_log.h"

#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace pong {

absl::StatusOr<std::unique_ptr<EventLog>> EventLog::Open(const std::string& path, std::string name,
                                                         bool micros) {
  if (path.empty()) {
    return std::unique_ptr<EventLog>(new EventLog(stderr, false, std::move(name), micros));
  }
  std::FILE* file = std::fopen(path.c_str(), "a");
  if (file == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot open log file ", path, ": ", std::strerror(errno)));
  }
  return std::unique_ptr<EventLog>(new EventLog(file, true, std::move(name), micros));
}

EventLog::EventLog(std::FILE* file, bool owned, std::string name, bool micros)
    : file_(file),
      owned_(owned),
      name_(std::move(name)),
      time_format_(micros ? "%Y-%m-%dT%H:%M:%E6SZ" : "%Y-%m-%dT%H:%M:%E3SZ"),
      limiter_(kLimitedLines, kLimitWindow),
      writer_([this] { Run(); }) {}

EventLog::~EventLog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  writer_.join();
  if (owned_) std::fclose(file_);
}

void EventLog::Write(absl::Time at, std::string text) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.push_back(Line{at, std::move(text)});
  }
  cv_.notify_one();
}

void EventLog::WriteLimited(absl::string_view key, absl::Time at, std::string text) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    const LogRateLimiter::Time now = std::chrono::steady_clock::now();
    TakeSummariesLocked(now);
    if (!limiter_.Admit(key, now)) return;  // the writer reports it when its window closes
    pending_.push_back(Line{at, std::move(text)});
  }
  cv_.notify_one();
}

void EventLog::TakeSummariesLocked(LogRateLimiter::Time now) {
  for (const LogRateLimiter::Summary& summary : limiter_.TakeEnded(now)) {
    pending_.push_back(Line{absl::Now(), summary.Text()});
  }
}

void EventLog::Run() {
  std::vector<Line> batch;
  std::string out;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    // Without suppressed lines there is no deadline: the writer sleeps until a line comes.
    const std::optional<LogRateLimiter::Time> summary_due = limiter_.NextEnd();
    const auto ready = [this] { return stopping_ || !pending_.empty(); };
    if (summary_due) {
      cv_.wait_until(lock, *summary_due, ready);
    } else {
      cv_.wait(lock, ready);
    }
    // At the end, what is still counted is reported too.
    TakeSummariesLocked(stopping_ ? LogRateLimiter::Time::max() : std::chrono::steady_clock::now());
    if (pending_.empty() && stopping_) return;
    batch.swap(pending_);
    lock.unlock();
    out.clear();
    for (const Line& line : batch) {
      absl::StrAppend(&out, absl::FormatTime(time_format_, line.at, absl::UTCTimeZone()), " ",
                      name_, " ", line.text, "\n");
    }
    std::fwrite(out.data(), 1, out.size(), file_);
    std::fflush(file_);
    batch.clear();
    lock.lock();
  }
}

}  // namespace pong
