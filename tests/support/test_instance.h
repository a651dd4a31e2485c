#ifndef PONG_TESTS_SUPPORT_TEST_INSTANCE_H_
#define PONG_TESTS_SUPPORT_TEST_INSTANCE_H_

#include <httplib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/core/clock.h"
#include "server/pong_server.h"
#include "tests/support/fake_peer_link.h"
#include "tests/support/game_control_client.h"

namespace pong::testing {

struct TestInstanceOptions {
  std::string name = "first";
  // Only reported in status: the FakePeerLink stands in for the peer.
  HostPort peer{"127.0.0.1", 8082};
  // ServerOptions::control_token_file: empty, GameControl asks for no token.
  std::string control_token_file;
  // ServerOptions::pair_secret_file: empty, game pings need no mac.
  std::string pair_secret_file;
};

// One pong server in this process on 127.0.0.1 with free ports, a real clock, a
// FakePeerLink for its peer, its log in a temporary directory and a GameControl client.
// Start returns once the HTTP plane answers (gRPC serves from the start). Use from the
// test's thread; the server's own threads do the rest.
class TestInstance {
 public:
  static absl::StatusOr<std::unique_ptr<TestInstance>> Start(TestInstanceOptions options = {});
  ~TestInstance();  // shuts the server down and removes the temporary directory

  TestInstance(const TestInstance&) = delete;
  TestInstance& operator=(const TestInstance&) = delete;

  // peer() is valid until Shutdown, the rest until the instance is destroyed.
  FakePeerLink& peer() { return *peer_; }
  GameControlClient& control() { return *control_; }
  std::shared_ptr<grpc::Channel> channel() { return channel_; }
  const Clock& clock() const { return clock_; }

  int http_port() const { return server_->http_port(); }
  int grpc_port() const { return server_->grpc_port(); }
  std::string http_address() const;  // 127.0.0.1:PORT
  std::string grpc_address() const;

  // A client of the HTTP plane with explicit timeouts, one connection kept alive.
  std::unique_ptr<httplib::Client> NewHttpClient() const;

  // Stops serving; the log is then complete. Idempotent.
  void Shutdown();
  // The log file as written so far.
  std::string ReadLog() const;

 private:
  TestInstance() = default;

  RealClock clock_;  // outlives the server that reads it
  std::filesystem::path dir_;
  std::filesystem::path log_path_;
  FakePeerLink* peer_ = nullptr;  // owned by server_
  std::unique_ptr<PongServer> server_;
  int http_port_ = 0;
  int grpc_port_ = 0;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<GameControlClient> control_;
};

}  // namespace pong::testing

#endif  // PONG_TESTS_SUPPORT_TEST_INSTANCE_H_
