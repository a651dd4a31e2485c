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

void EventLog::Run() {
  std::vector<Line> batch;
  std::string out;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
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
