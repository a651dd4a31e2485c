#include "server/event_log.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/thread_name.h"

namespace pong {
namespace {

// Reads (and so clears) a timerfd's or an eventfd's counter, if it is set.
void Drain(int fd) {
  uint64_t count;
  while (read(fd, &count, sizeof(count)) < 0 && errno == EINTR) {
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<EventLog>> EventLog::Open(const std::string& path, std::string name,
                                                         bool micros, size_t max_pending) {
  const int timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  const int wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (timer_fd < 0 || wake_fd < 0) {
    const std::string error = std::strerror(errno);
    if (timer_fd >= 0) close(timer_fd);
    if (wake_fd >= 0) close(wake_fd);
    return absl::InternalError(absl::StrCat("cannot create the log writer's timer: ", error));
  }
  std::FILE* file = stderr;
  if (!path.empty()) {
    file = std::fopen(path.c_str(), "a");
    if (file == nullptr) {
      const std::string error = std::strerror(errno);
      close(timer_fd);
      close(wake_fd);
      return absl::InvalidArgumentError(absl::StrCat("cannot open log file ", path, ": ", error));
    }
  }
  return std::unique_ptr<EventLog>(new EventLog(file, !path.empty(), std::move(name), micros,
                                                std::max<size_t>(max_pending, 1), timer_fd,
                                                wake_fd));
}

EventLog::EventLog(std::FILE* file, bool owned, std::string name, bool micros, size_t max_pending,
                   int timer_fd, int wake_fd)
    : file_(file),
      owned_(owned),
      name_(std::move(name)),
      time_format_(micros ? "%Y-%m-%dT%H:%M:%E6SZ" : "%Y-%m-%dT%H:%M:%E3SZ"),
      max_pending_(max_pending),
      timer_fd_(timer_fd),
      wake_fd_(wake_fd),
      limiter_(kLimitedLines, kLimitWindow),
      writer_([this] { Run(); }) {}

EventLog::~EventLog() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  DoKick(Kick::kWakeNow);
  writer_.join();
  close(timer_fd_);
  close(wake_fd_);
  if (owned_) std::fclose(file_);
}

void EventLog::Write(absl::Time at, std::string text) {
  Kick kick;
  {
    MutexLock lock(mu_);
    kick = EnqueueLocked(Line{at, std::move(text)});
  }
  DoKick(kick);
}

void EventLog::WriteLimited(absl::string_view key, absl::Time at, std::string text) {
  Kick kick;
  {
    MutexLock lock(mu_);
    const LogRateLimiter::Time now = std::chrono::steady_clock::now();
    TakeSummariesLocked(now);
    if (!limiter_.Admit(key, now)) return;  // the writer reports it when its window closes
    kick = EnqueueLocked(Line{at, std::move(text)});
  }
  DoKick(kick);
}

EventLog::Kick EventLog::EnqueueLocked(Line line) {
  if (pending_.size() >= max_pending_ && !stopping_) {
    ++dropped_;
    return Kick::kNone;  // the writer is busy with what is queued
  }
  pending_.push_back(std::move(line));
  if (pending_.size() >= kWakeLines && !woken_) {
    woken_ = true;
    return Kick::kWakeNow;
  }
  if (!timer_armed_) {
    timer_armed_ = true;
    return Kick::kArmTimer;
  }
  return Kick::kNone;
}

void EventLog::DoKick(Kick kick) {
  if (kick == Kick::kArmTimer) {
    constexpr auto kDelayNs = std::chrono::nanoseconds(kFlushDelay).count();
    itimerspec spec{};
    spec.it_value.tv_sec = kDelayNs / 1'000'000'000;
    spec.it_value.tv_nsec = kDelayNs % 1'000'000'000;
    timerfd_settime(timer_fd_, 0, &spec, nullptr);
  } else if (kick == Kick::kWakeNow) {
    const uint64_t one = 1;
    while (write(wake_fd_, &one, sizeof(one)) < 0 && errno == EINTR) {
    }
  }
}

void EventLog::TakeSummariesLocked(LogRateLimiter::Time now) {
  for (const LogRateLimiter::Summary& summary : limiter_.TakeEnded(now)) {
    // Summaries are few (one per key and window); they take no timer of their own: the
    // writer is the one to queue them, or the next Write's batch carries them.
    if (pending_.size() < max_pending_) {
      pending_.push_back(Line{absl::Now(), summary.Text()});
    } else {
      ++dropped_;
    }
  }
}

void EventLog::Run() {
  NameThisThread("pong-log");
  std::vector<Line> batch;
  std::string out;
  MutexLock lock(mu_);
  while (true) {
    // The writer sleeps until a Write's timer or wake-up, or the end of a window of
    // suppressed lines; nothing else wakes it (no polling).
    while (!stopping_ && !woken_ && (pending_.empty() || timer_armed_)) {
      const std::optional<LogRateLimiter::Time> summary_due = limiter_.NextEnd();
      int timeout_ms = -1;
      if (summary_due) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(
            *summary_due - std::chrono::steady_clock::now());
        timeout_ms = static_cast<int>(std::max<int64_t>(left.count(), 0));
      }
      lock.Unlock();
      pollfd fds[2] = {{timer_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
      const int ready = poll(fds, 2, timeout_ms);
      const bool timer_fired = ready > 0 && (fds[0].revents & POLLIN) != 0;
      if (timer_fired) Drain(timer_fd_);
      if (ready > 0 && (fds[1].revents & POLLIN) != 0) Drain(wake_fd_);
      lock.Lock();
      if (timer_fired) timer_armed_ = false;
      TakeSummariesLocked(std::chrono::steady_clock::now());
    }
    // At the end, what is still counted is reported too.
    if (stopping_) TakeSummariesLocked(LogRateLimiter::Time::max());
    if (pending_.empty() && dropped_ == 0 && stopping_) return;
    batch.swap(pending_);
    const uint64_t dropped = std::exchange(dropped_, 0);
    woken_ = false;
    lock.Unlock();
    out.clear();
    for (const Line& line : batch) {
      absl::StrAppend(&out, absl::FormatTime(time_format_, line.at, absl::UTCTimeZone()), " ",
                      name_, " ", line.text, "\n");
    }
    if (dropped > 0) {
      absl::StrAppend(&out, absl::FormatTime(time_format_, absl::Now(), absl::UTCTimeZone()), " ",
                      name_, " ", dropped,
                      " log lines dropped: the log writer fell behind (queue of ", max_pending_,
                      " lines full)\n");
    }
    std::fwrite(out.data(), 1, out.size(), file_);
    std::fflush(file_);
    batch.clear();
    lock.Lock();
  }
}

}  // namespace pong
