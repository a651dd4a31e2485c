#ifndef PONG_TESTS_INTEGRATION_PONG_PAIR_H_
#define PONG_TESTS_INTEGRATION_PONG_PAIR_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "pong/v1/pong.grpc.pb.h"
#include "tests/integration/process.h"

namespace pong::testing {

// How an instance is run. The defaults: pong-server on 127.0.0.1, peer on 127.0.0.1.
struct InstanceSetup {
  std::string server_path = PONG_SERVER_PATH;
  std::vector<std::string> launcher;    // put before the server, e.g. {"ip", "netns", "exec", "x"}
  std::vector<std::string> env;         // "NAME=value" added to the server's environment
  std::string bind;                     // --bind; empty: the server's default (127.0.0.1)
  std::string host = "127.0.0.1";       // where the tests reach its gRPC plane
  std::string peer_host = "127.0.0.1";  // where it reaches its peer's HTTP plane (--peer)
};

// One real pong-server process on free ports, logging to a file of its own.
struct Instance {
  std::string name;
  InstanceSetup setup;
  int http_port = 0;
  int grpc_port = 0;
  std::string log_path;
  std::unique_ptr<Child> process;
  std::unique_ptr<v1::GameControl::Stub> stub;
  std::string token;  // sent by Status() when not empty

  std::string grpc_address() const;
  // GetStatus over gRPC; an empty status with state UNSPECIFIED when it does not answer.
  v1::GameStatus Status() const;
  std::string Log() const { return ReadFile(log_path); }
  // Whether the log has `text` within `timeout`: the server writes its log a few ms after
  // the event (server/event_log.h), so a line is waited for, not expected at once.
  bool WaitForLog(absl::string_view text,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
};

// A line of a log: when, and the event text after the instance name.
struct LogLine {
  absl::Time at;
  std::string text;
};
std::vector<LogLine> ReadLog(const std::string& path);
// The N of every line "<prefix>N<suffix>": the suffix ends the line, or, if it ends in a
// space or '=', begins the rest of it.
std::vector<uint64_t> SeqsOf(const std::vector<LogLine>& lines, absl::string_view prefix,
                             absl::string_view suffix = "");

// Log lines of a ping's first send ("ping sent seq=N"; a retry adds "(attempt k)"), and
// of its first receipt ("ping received seq=N game=..."; a retry's says "again").
std::vector<uint64_t> Sent(const std::vector<LogLine>& lines);
std::vector<uint64_t> Sent(const Instance& instance);
std::vector<uint64_t> Received(const Instance& instance);

// Exit code and both streams of a command, for a failure message.
std::string Describe(const RunResult& r);

// How a PongPair's servers are started, beyond ports and logs.
struct PairOptions {
  // Both servers get it as --control_token_file (so it must be mode 0600); Status() sends
  // its token.
  std::string control_token_file;
  // TLS on the control plane: both servers get --tls_cert and --tls_key; Status() and
  // Cli() trust tls_ca.
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
  // More flags for one server, e.g. --pair_secret_file.
  std::vector<std::string> first_flags;
  std::vector<std::string> second_flags;
  // How each server is run (binary, launcher, environment, addresses).
  InstanceSetup first_setup;
  InstanceSetup second_setup;
};

// Two pong-server processes that play against each other, in a fresh temporary folder.
// Stops both (SIGTERM) when it goes.
class PongPair {
 public:
  explicit PongPair(std::string control_token_file = "");
  PongPair(std::string control_token_file, InstanceSetup first_setup, InstanceSetup second_setup);
  explicit PongPair(PairOptions options);
  ~PongPair();

  // Starts (or restarts) one instance on its ports; false if it did not come up in time.
  bool StartInstance(Instance& instance, int peer_http_port);
  bool ok() const { return ok_; }

  // Runs the real pong-cli against both instances (with --token_file when the pair has a
  // control token); a flag in `args` replaces the default one (e.g. --lead_ms).
  RunResult Cli(const std::vector<std::string>& args) const;
  // The command line Cli runs.
  std::vector<std::string> CliArgv(const std::vector<std::string>& args) const;

  Instance first;
  Instance second;
  std::string dir;

 private:
  PairOptions options_;
  bool ok_ = false;
};

// --lead_ms for the CLI in tests: PONG_TEST_LEAD_MS, or 250 (room for a loaded machine).
int TestLeadMs();

}  // namespace pong::testing

#endif  // PONG_TESTS_INTEGRATION_PONG_PAIR_H_
