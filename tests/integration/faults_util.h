#ifndef PONG_TESTS_INTEGRATION_FAULTS_UTIL_H_
#define PONG_TESTS_INTEGRATION_FAULTS_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "tests/integration/pong_pair.h"

namespace pong::testing {

// A fresh temporary folder, removed with everything in it when this goes.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // Writes `content` to path()/name with mode 0600 and returns the file's path.
  std::string WriteFile(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

// The first send of a game ping ("ping sent seq=N", not a retry), from either log.
struct FirstSend {
  uint64_t seq = 0;
  int from = 0;  // 0 first, 1 second
  absl::Time at;
};
// Ordered by seq.
std::vector<FirstSend> FirstSends(const PongPair& pair);

// Empty when both logs show one ball: every seq from 1 up sent (first time) once, odd
// ones by the first and even ones by the second, so no ping goes the same way twice in a
// row; and each instance took (logged "ping received seq=N game=") the seqs the other
// sent, each once, in order, at most the last one missing. Otherwise what is wrong.
std::string OneBallProblems(const PongPair& pair);

// Runs pong-cli once, with a lead of a second (scaled by SlowdownFactor()), for a command
// that sets a test up or ends it: the long lead leaves room for a loaded machine, so a
// refusal is a failure to report, never a reason to try again (a retry would hide the
// fault some of these tests exist to catch, e.g. a stop refused after a partition).
RunResult SetUpCli(const PongPair& pair, const std::vector<std::string>& args);

// The highest seq either instance has seen, from their status.
uint64_t MaxSeq(const PongPair& pair);

// The value of "key":"..." in a pong-cli --json output, or "".
std::string JsonField(const std::string& json, const std::string& key);

// The logs of both, for failure messages.
std::string BothLogs(const PongPair& pair);

}  // namespace pong::testing

#endif  // PONG_TESTS_INTEGRATION_FAULTS_UTIL_H_
