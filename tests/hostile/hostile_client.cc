// pong-hostile: hostile HTTP clients for the tests and tools/hostile-bench, run as a
// process of their own so that they load the machine as an outsider would.
//
//   pong-hostile flood PORT SECONDS [CONNECTIONS]     bare GET /ping as fast as it can,
//                                                     over CONNECTIONS kept-alive ones (4)
//   pong-hostile slowloris PORT CONNECTIONS SECONDS   CONNECTIONS connections that send a
//                                                     request head one byte at a time, a
//                                                     byte every 500 ms, and reconnect
//                                                     when closed
//
// Prints one line "requests=N status_2xx=N status_4xx=N status_5xx=N failed=N" (for
// slowloris: connections opened, answers and their classes) and exits 0, or 2 on bad
// arguments. Stops by itself after SECONDS.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"

namespace {

using SteadyClock = std::chrono::steady_clock;

struct Counts {
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> by_class[6] = {};  // [status / 100]
  std::atomic<uint64_t> failed{0};

  void Count(int status) {
    ++requests;
    if (status >= 100 && status < 600) ++by_class[status / 100];
  }
  void Print(const char* what) const {
    std::printf("%s=%lu status_2xx=%lu status_4xx=%lu status_5xx=%lu failed=%lu\n", what,
                requests.load(), by_class[2].load(), by_class[4].load(), by_class[5].load(),
                failed.load());
  }
};

int Flood(int port, int seconds, int connections) {
  Counts counts;
  const auto end = SteadyClock::now() + std::chrono::seconds(seconds);
  std::vector<std::thread> threads;
  for (int i = 0; i < connections; ++i) {
    threads.emplace_back([&] {
      httplib::Client client("127.0.0.1", port);
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);
      client.set_connection_timeout(std::chrono::seconds(2));
      client.set_read_timeout(std::chrono::seconds(2));
      while (SteadyClock::now() < end) {
        const httplib::Result result = client.Get("/ping");
        if (result) {
          counts.Count(result->status);
        } else {
          ++counts.failed;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  counts.Print("requests");
  return 0;
}

int Connect(int port) {
  const int sock = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  connect(sock, reinterpret_cast<sockaddr*>(&address), sizeof(address));  // in progress
  return sock;
}

int Slowloris(int port, int connections, int seconds) {
  // A head that never ends: a header line that keeps growing.
  const std::string head = "GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
  struct Slow {
    int sock = -1;
    size_t sent = 0;
    std::string answer;
  };
  Counts counts;  // requests: connections opened
  std::vector<Slow> slow(static_cast<size_t>(connections));
  const auto end = SteadyClock::now() + std::chrono::seconds(seconds);
  const auto tick = std::chrono::milliseconds(500);
  auto next_byte = SteadyClock::now();
  while (SteadyClock::now() < end) {
    for (Slow& s : slow) {
      if (s.sock < 0) {
        s = Slow{Connect(port), 0, {}};
        ++counts.requests;
      }
    }
    const bool send_now = SteadyClock::now() >= next_byte;
    if (send_now) next_byte += tick;
    std::vector<pollfd> fds;
    for (Slow& s : slow) {
      if (send_now) {
        const char byte = s.sent < head.size() ? head[s.sent] : 'x';
        if (send(s.sock, &byte, 1, MSG_NOSIGNAL) == 1) ++s.sent;
      }
      fds.push_back(pollfd{s.sock, POLLIN, 0});
    }
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::min(next_byte, end) - SteadyClock::now());
    poll(fds.data(), fds.size(), static_cast<int>(std::max<int64_t>(wait.count(), 0)));
    for (size_t i = 0; i < fds.size(); ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      Slow& s = slow[i];
      char buffer[1024];
      const ssize_t n = recv(s.sock, buffer, sizeof(buffer), 0);
      if (n > 0) {
        s.answer.append(buffer, static_cast<size_t>(n));
        continue;
      }
      // Closed by the server: count its answer, if it gave one, and connect again.
      int status = 0;
      if (s.answer.rfind("HTTP/1.1 ", 0) == 0 &&
          !absl::SimpleAtoi(s.answer.substr(9, 3), &status)) {
        status = 0;  // no number where the status belongs: no answer
      }
      if (status != 0) {
        counts.by_class[status / 100 < 6 ? status / 100 : 0]++;
      } else {
        ++counts.failed;
      }
      close(s.sock);
      s.sock = -1;
    }
  }
  for (Slow& s : slow) {
    if (s.sock >= 0) close(s.sock);
  }
  counts.Print("connections");
  return 0;
}

int Usage() {
  std::fprintf(stderr,
               "usage: pong-hostile flood PORT SECONDS [CONNECTIONS]\n"
               "       pong-hostile slowloris PORT CONNECTIONS SECONDS\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> numbers;
  for (int i = 2; i < argc; ++i) {
    int n = 0;
    if (!absl::SimpleAtoi(argv[i], &n) || n <= 0) return Usage();
    numbers.push_back(n);
  }
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "flood" && (numbers.size() == 2 || numbers.size() == 3)) {
    return Flood(numbers[0], numbers[1], numbers.size() == 3 ? numbers[2] : 4);
  }
  if (mode == "slowloris" && numbers.size() == 3) {
    return Slowloris(numbers[0], numbers[1], numbers[2]);
  }
  return Usage();
}
