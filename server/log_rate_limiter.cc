#include "server/log_rate_limiter.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace pong {

std::string LogRateLimiter::Summary::Text() const {
  return absl::StrCat("suppressed ", suppressed, " similar lines (", key, ") in the last ",
                      absl::FormatDuration(absl::FromChrono(window)));
}

LogRateLimiter::LogRateLimiter(int lines, std::chrono::nanoseconds window)
    : lines_(lines), window_(window) {}

std::vector<LogRateLimiter::Summary> LogRateLimiter::TakeEnded(Time now) {
  std::vector<std::pair<Time, Summary>> ended;
  for (auto it = windows_.begin(); it != windows_.end();) {
    if (it->second.end > now) {
      ++it;
      continue;
    }
    if (it->second.suppressed > 0) {
      ended.push_back({it->second.end, Summary{it->first, it->second.suppressed, window_}});
    }
    it = windows_.erase(it);
  }
  std::stable_sort(ended.begin(), ended.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Summary> summaries;
  for (auto& [end, summary] : ended) summaries.push_back(std::move(summary));
  return summaries;
}

bool LogRateLimiter::Admit(absl::string_view key, Time now) {
  auto it = windows_.find(key);
  if (it == windows_.end() || it->second.end <= now) {
    // A window that closed unreported (TakeEnded not called) starts afresh all the same.
    if (it != windows_.end()) windows_.erase(it);
    it = windows_.emplace(std::string(key), Window{now + window_}).first;
  }
  Window& window = it->second;
  if (window.written < lines_) {
    ++window.written;
    return true;
  }
  ++window.suppressed;
  return false;
}

std::optional<LogRateLimiter::Time> LogRateLimiter::NextEnd() const {
  std::optional<Time> next;
  for (const auto& [key, window] : windows_) {
    if (window.suppressed > 0 && (!next || window.end < *next)) next = window.end;
  }
  return next;
}

}  // namespace pong
