// An LD_PRELOAD library for the clock fault test: it shifts CLOCK_REALTIME (and
// CLOCK_REALTIME_COARSE, gettimeofday, time) of the one process it is loaded into by
// the number of seconds written in the file $PONG_CLOCK_OFFSET_FILE, re-read every few
// milliseconds, so a test can step that process's wall clock while it runs, as NTP or an
// operator would step the system's. Monotonic clocks are left alone. Built for tests only.
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>

namespace {

constexpr int64_t kRereadNs = 5'000'000;

std::atomic<int64_t> offset_ns{0};
std::atomic<int64_t> next_read_ns{0};

// The kernel's clocks, bypassing every interposition (including this one).
int RealClockGettime(clockid_t clock, timespec* ts) {
  return static_cast<int>(syscall(SYS_clock_gettime, clock, ts));
}

int64_t ToNs(const timespec& ts) { return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec; }

// Reads the offset file (a signed whole number of seconds) without allocating.
void RereadOffset() {
  timespec mono{};
  RealClockGettime(CLOCK_MONOTONIC, &mono);
  const int64_t now = ToNs(mono);
  int64_t due = next_read_ns.load(std::memory_order_relaxed);
  if (now < due || !next_read_ns.compare_exchange_strong(due, now + kRereadNs)) return;
  const char* path = std::getenv("PONG_CLOCK_OFFSET_FILE");
  if (path == nullptr) return;
  const int fd = static_cast<int>(syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC));
  if (fd < 0) return;
  char buf[32];
  const ssize_t n = syscall(SYS_read, fd, buf, sizeof(buf) - 1);
  syscall(SYS_close, fd);
  if (n <= 0) return;
  int64_t seconds = 0;
  bool negative = false;
  for (ssize_t i = 0; i < n; ++i) {
    if (i == 0 && buf[i] == '-') {
      negative = true;
    } else if (buf[i] >= '0' && buf[i] <= '9') {
      seconds = seconds * 10 + (buf[i] - '0');
    } else {
      break;
    }
  }
  offset_ns.store((negative ? -seconds : seconds) * 1'000'000'000, std::memory_order_relaxed);
}

bool IsRealtime(clockid_t clock) {
  return clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE;
}

}  // namespace

extern "C" {

int clock_gettime(clockid_t clock, timespec* ts) {
  const int rc = RealClockGettime(clock, ts);
  if (rc != 0 || !IsRealtime(clock)) return rc;
  RereadOffset();
  const int64_t shifted = ToNs(*ts) + offset_ns.load(std::memory_order_relaxed);
  ts->tv_sec = shifted / 1'000'000'000;
  ts->tv_nsec = shifted % 1'000'000'000;
  return 0;
}

// glibc declares tv non-null.
int gettimeofday(timeval* tv, void* /*tz*/) {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tv->tv_sec = ts.tv_sec;
  tv->tv_usec = ts.tv_nsec / 1000;
  return 0;
}

time_t time(time_t* out) {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  if (out != nullptr) *out = ts.tv_sec;
  return ts.tv_sec;
}

}  // extern "C"
