// The event log's line format, in milliseconds by default and in microseconds with
// --log_micros (which tools/bench reads); lines reach the file while the log is open
// (tail -f); over its bound the queue drops lines and says how many.

#include "server/event_log.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "tests/support/wait.h"

namespace pong::testing {
namespace {

using ::testing::HasSubstr;

std::filesystem::path TempPath(const std::string& suffix) {
  return std::filesystem::temp_directory_path() /
         ("pong-event-log-test." + std::to_string(getpid()) + suffix);
}

std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string WriteOneLine(bool micros) {
  const std::filesystem::path path = TempPath(micros ? ".us" : ".ms");
  {
    absl::StatusOr<std::unique_ptr<EventLog>> log = EventLog::Open(path.string(), "first", micros);
    EXPECT_TRUE(log.ok()) << log.status();
    if (!log.ok()) return "";
    const absl::Time at = absl::FromUnixSeconds(1'795'900'000) + absl::Microseconds(123'456);
    (*log)->Write(at, "ping sent seq=3");
  }  // the destructor writes what is left
  const std::string text = ReadAll(path);
  std::filesystem::remove(path);
  return text;
}

TEST(EventLogTest, TimestampsHaveMillisecondsByDefault) {
  EXPECT_EQ(WriteOneLine(false), "2026-11-28T21:06:40.123Z first ping sent seq=3\n");
}

TEST(EventLogTest, TimestampsHaveMicrosecondsWhenAsked) {
  EXPECT_EQ(WriteOneLine(true), "2026-11-28T21:06:40.123456Z first ping sent seq=3\n");
}

// Write wakes no thread; the timer it arms flushes the line while the log is open.
TEST(EventLogTest, ALineReachesTheFileWhileTheLogIsOpen) {
  const std::filesystem::path path = TempPath(".open");
  absl::StatusOr<std::unique_ptr<EventLog>> log = EventLog::Open(path.string(), "first");
  ASSERT_TRUE(log.ok()) << log.status();
  (*log)->Write(absl::Now(), "ping sent seq=1");
  EXPECT_TRUE(
      WaitUntil([&] { return ReadAll(path).find("ping sent seq=1\n") != std::string::npos; },
                absl::Seconds(10)));
  (*log)->Write(absl::Now(), "ping sent seq=2");  // the timer is armed afresh after a flush
  EXPECT_TRUE(
      WaitUntil([&] { return ReadAll(path).find("ping sent seq=2\n") != std::string::npos; },
                absl::Seconds(10)));
  log->reset();
  std::filesystem::remove(path);
}

// The log goes to a pipe that nobody reads: the writer blocks on its first (large) line,
// the queue of 8 fills, and the rest is dropped, counted and reported once the writer can
// write again.
TEST(EventLogTest, OverItsBoundTheQueueDropsLinesAndSaysHowMany) {
  const std::filesystem::path path = TempPath(".fifo");
  std::filesystem::remove(path);
  ASSERT_EQ(mkfifo(path.c_str(), 0600), 0);
  const int reader = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(reader, 0);
  ASSERT_GT(fcntl(reader, F_SETPIPE_SZ, 4096), 0);
  absl::StatusOr<std::unique_ptr<EventLog>> log =
      EventLog::Open(path.string(), "first", /*micros=*/false, /*max_pending=*/8);
  ASSERT_TRUE(log.ok()) << log.status();

  (*log)->Write(absl::Now(), std::string(3 * 4096, 'x'));
  // Bytes in the pipe: the writer took that line and is blocked writing it.
  pollfd readable{reader, POLLIN, 0};
  ASSERT_TRUE(WaitUntil([&] { return poll(&readable, 1, 0) == 1; }, absl::Seconds(10)));
  for (int i = 0; i < 20; ++i) (*log)->Write(absl::Now(), absl::StrCat("line ", i));

  std::string text;
  char buffer[4096];
  const auto read_some = [&] {
    ssize_t n;
    while ((n = read(reader, buffer, sizeof(buffer))) > 0) text.append(buffer, n);
    return text.find("dropped") != std::string::npos && text.back() == '\n';
  };
  EXPECT_TRUE(WaitUntil(read_some, absl::Seconds(10)));
  log->reset();
  read_some();
  close(reader);
  std::filesystem::remove(path);

  EXPECT_THAT(text, HasSubstr(" first line 7\n"));
  EXPECT_EQ(text.find("line 8"), std::string::npos);
  EXPECT_THAT(text, HasSubstr(" first 12 log lines dropped: the log writer fell behind"));
}

}  // namespace
}  // namespace pong::testing
