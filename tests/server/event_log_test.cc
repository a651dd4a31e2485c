// The event log's line format, in milliseconds by default and in microseconds with
// --log_micros (which tools/bench reads).

#include "server/event_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/time/time.h"

namespace pong::testing {
namespace {

std::string WriteOneLine(bool micros) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() /
      ("pong-event-log-test." + std::to_string(getpid()) + (micros ? ".us" : ".ms"));
  {
    absl::StatusOr<std::unique_ptr<EventLog>> log = EventLog::Open(path.string(), "first", micros);
    EXPECT_TRUE(log.ok()) << log.status();
    if (!log.ok()) return "";
    const absl::Time at = absl::FromUnixSeconds(1'795'900'000) + absl::Microseconds(123'456);
    (*log)->Write(at, "ping sent seq=3");
  }  // the destructor writes what is left
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::filesystem::remove(path);
  return text.str();
}

TEST(EventLogTest, TimestampsHaveMillisecondsByDefault) {
  EXPECT_EQ(WriteOneLine(false), "2026-11-28T21:06:40.123Z first ping sent seq=3\n");
}

TEST(EventLogTest, TimestampsHaveMicrosecondsWhenAsked) {
  EXPECT_EQ(WriteOneLine(true), "2026-11-28T21:06:40.123456Z first ping sent seq=3\n");
}

}  // namespace
}  // namespace pong::testing
