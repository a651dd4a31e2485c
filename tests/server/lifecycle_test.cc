// Starting and stopping a PongServer, without the readiness wait of TestInstance.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "server/core/clock.h"
#include "server/pong_server.h"
#include "tests/support/fake_peer_link.h"
#include "tests/support/wait.h"

namespace pong::testing {
namespace {

// Shuts down this process's socket listening on 127.0.0.1:`port`, so that an accept()
// that nothing else will end returns: the way out of a hung Shutdown, for the test's
// own sake.
void ShutDownListener(int port) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    const int fd = std::stoi(entry.path().filename().string());
    sockaddr_in address{};
    socklen_t length = sizeof(address);
    int listening = 0;
    socklen_t option_length = sizeof(listening);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0 &&
        address.sin_family == AF_INET && ntohs(address.sin_port) == port &&
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &option_length) == 0 &&
        listening != 0) {
      shutdown(fd, SHUT_RDWR);
    }
  }
}

// The names of this process's threads (/proc/self/task/*/comm).
std::vector<std::string> ThreadNames() {
  std::vector<std::string> names;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    if (std::getline(comm, name)) names.push_back(name);
  }
  return names;
}

// An in-process instance on free ports that logs nowhere.
ServerOptions InProcessOptions(std::string name) {
  ServerOptions options;
  options.name = std::move(name);
  options.http_port = 0;
  options.grpc_port = 0;
  options.log_file = "/dev/null";
  return options;
}

// top -H, ps -L and perf show which of pong's threads is which.
TEST(LifecycleTest, PongsOwnThreadsAreNamed) {
  RealClock clock;
  absl::StatusOr<std::unique_ptr<PongServer>> server =
      PongServer::Start(InProcessOptions("names"), clock, std::make_unique<FakePeerLink>(clock));
  ASSERT_TRUE(server.ok()) << server.status();
  // Each thread names itself as it starts, which may be a moment after Start returned.
  for (const char* name : {"pong-ball", "pong-commands", "pong-log", "pong-accept"}) {
    EXPECT_TRUE(WaitUntil(
        [&] {
          const std::vector<std::string> names = ThreadNames();
          return std::find(names.begin(), names.end(), name) != names.end();
        },
        absl::Seconds(5)))
        << name;
  }
  (*server)->Shutdown();
}

// A launcher or a test may stop an instance the moment it started: the HTTP plane's
// thread may not have entered listen() yet, and httplib's stop() does nothing then.
TEST(LifecycleTest, ShutdownRightAfterStartIsPrompt) {
  RealClock clock;
  const ServerOptions options = InProcessOptions("lifecycle");
  // Busy threads on every core make the new listen thread wait for one.
  std::atomic<bool> done{false};
  std::vector<std::thread> load;
  for (unsigned i = 0; i < std::max(2u, std::thread::hardware_concurrency()); ++i) {
    load.emplace_back([&] {
      while (!done.load(std::memory_order_relaxed)) {
      }
    });
  }
  for (int i = 0; i < 100 && !::testing::Test::HasFailure(); ++i) {
    // The stopper is already running when the server starts, so it stops it at once.
    std::atomic<bool> ready{false};
    PongServer* to_stop = nullptr;  // published by `ready`
    std::promise<void> stopped;
    std::thread stopper([&] {
      while (!ready.load()) {
      }
      if (to_stop != nullptr) to_stop->Shutdown();
      stopped.set_value();
    });
    absl::StatusOr<std::unique_ptr<PongServer>> server =
        PongServer::Start(options, clock, std::make_unique<FakePeerLink>(clock));
    to_stop = server.ok() ? server->get() : nullptr;
    ready = true;
    if (!server.ok()) {
      stopper.join();
      ADD_FAILURE() << server.status();
      break;
    }
    const bool prompt =
        stopped.get_future().wait_for(std::chrono::seconds(2)) == std::future_status::ready;
    if (!prompt) ShutDownListener((*server)->http_port());
    stopper.join();
    EXPECT_TRUE(prompt) << "start/stop cycle " << i
                        << ": Shutdown hung in HttpPlane::Stop, joining a listen thread that "
                           "entered accept() after httplib's stop()";
  }
  done = true;
  for (std::thread& each : load) each.join();
}

}  // namespace
}  // namespace pong::testing
