#ifndef PONG_TESTS_INTEGRATION_PROCESS_H_
#define PONG_TESTS_INTEGRATION_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "tests/support/free_port.h"
#include "tests/support/wait.h"

namespace pong::testing {

// What a finished command printed and how it ended.
struct RunResult {
  int exit_code = -1;  // -1: killed after the timeout
  std::string out;
  std::string err;
};

// Runs argv[0] with the arguments, waits at most `timeout` (times SlowdownFactor(), as every
// bound here), captures both streams.
RunResult RunCommand(const std::vector<std::string>& argv,
                     std::chrono::milliseconds timeout = std::chrono::seconds(10));

// A child process that is killed (SIGKILL) when this object goes, if still running.
class Child {
 public:
  // `env`: "NAME=value" entries added to (or replacing those of) this process's environment.
  explicit Child(const std::vector<std::string>& argv, const std::vector<std::string>& env = {});
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  bool Running();
  // SIGTERM, then waits up to `timeout` (scaled); returns the exit code (-1 if it had to be
  // killed).
  int Terminate(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  void Kill();

 private:
  pid_t pid_ = -1;
  int status_ = 0;
  bool reaped_ = false;
};

// Polls `condition` every few milliseconds until it holds or `timeout` passes, stretched by
// SlowdownFactor(): a wait's bound is how long a plain build may take, and a slower build
// (TSan) gets proportionally longer. A wait that watches for an absence watches longer.
bool WaitFor(const std::function<bool()>& condition,
             std::chrono::milliseconds timeout = std::chrono::seconds(5));

std::string ReadFile(const std::string& path);

}  // namespace pong::testing

#endif  // PONG_TESTS_INTEGRATION_PROCESS_H_
