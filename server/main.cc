// pong-server: one instance of the game. Parses flags, starts the planes, waits for
// SIGINT/SIGTERM, shuts down cleanly.
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/control_exposure.h"
#include "server/core/clock.h"
#include "server/pong_server.h"
#ifdef PONG_FAULT_HOOKS  // pong-server-faults, a test build (tests/CMakeLists.txt) only
#include "tests/faults/lose_pongs_peer_link.h"
#endif

ABSL_FLAG(std::string, name, "pong", "Name of this instance, in its logs and status.");
ABSL_FLAG(int, http_port, 8081, "Port of the HTTP plane (GET /ping); 0 picks a free port.");
ABSL_FLAG(int, grpc_port, 50051, "Port of the gRPC control plane; 0 picks a free port.");
ABSL_FLAG(std::string, peer, "127.0.0.1:8082", "HOST:PORT of the other instance's HTTP plane.");
ABSL_FLAG(std::string, log_file, "", "File to append event lines to; standard error if empty.");
ABSL_FLAG(bool, log_micros, false,
          "Log timestamps with microseconds instead of milliseconds (tools/bench reads them).");
ABSL_FLAG(std::string, bind, "127.0.0.1", "Address both planes listen on.");
ABSL_FLAG(std::string, control_token_file, "",
          "File holding the token every GameControl call must bear (\"authorization: Bearer "
          "<token>\"), trimmed; it must be mode 0600. Empty: no token is asked for. Health "
          "and reflection stay open.");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate (chain) of the gRPC control plane; with --tls_key it serves TLS "
          "only (pong-cli then needs --tls_ca). Empty: plain gRPC.");
ABSL_FLAG(std::string, tls_key, "",
          "PEM private key of --tls_cert, unencrypted; not readable by others (chmod 600 "
          "or 640).");
ABSL_FLAG(bool, insecure_control, false,
          "Serve the control plane on a --bind address that is not loopback with neither "
          "--control_token_file nor TLS; without this flag that refuses to start.");
ABSL_FLAG(std::string, pair_secret_file, "",
          "File holding a secret shared by both instances (trimmed, at least 16 characters, "
          "mode 0600). Every game ping sent then carries &mac=HMAC-SHA256 of it, and a game "
          "ping received without a valid mac gets 403 and changes nothing. Empty: pings carry "
          "no mac and any mac received is ignored.");
ABSL_FLAG(std::string, ports_file, "",
          "After binding, write \"http=PORT\\ngrpc=PORT\\n\" to this file (atomically).");

namespace {

constexpr char kUsage[] =
    "One instance of the pong game: serves GET /ping over HTTP and pong.v1.GameControl\n"
    "over gRPC (with reflection and grpc.health.v1.Health).\n\n"
    "  pong-server --name=first --http_port=8081 --grpc_port=50051 \\\n"
    "      --peer=127.0.0.1:8082 --log_file=first.log\n\n"
    "Stops cleanly on SIGINT or SIGTERM. Exit codes: 0 after a clean stop; 1 when it\n"
    "cannot start (port in use, log file not writable; --control_token_file or\n"
    "--pair_secret_file unreadable, empty or readable by group or others, a pair secret\n"
    "under 16 characters; --tls_cert or --tls_key unreadable, not PEM or not a pair) or a\n"
    "flag is unknown or not of its type; 2 for a flag value out of range (a port, --peer),\n"
    "--tls_cert without --tls_key or the reverse, a --bind that is not loopback with\n"
    "neither a token nor TLS (unless --insecure_control), or a stray argument.";

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "pong-server: %s\n", message.c_str());
  return code;
}

bool WritePortsFile(const std::string& path, int http_port, int grpc_port) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << "http=" << http_port << "\ngrpc=" << grpc_port << "\n";
    if (!out.flush()) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

bool ValidPort(int port) { return port >= 0 && port <= 65535; }

// --help: the usage and this binary's own flags, on stdout, exit 0 (abseil's own --help
// lists no flags for a binary not named after its main file, and exits 1).
int PrintHelp() {
  std::string text = absl::StrCat("pong-server: ", kUsage, "\n\nFlags:\n");
  std::map<std::string, const absl::CommandLineFlag*> ours;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (absl::EndsWith(flag->Filename(), "server/main.cc")) ours[std::string(name)] = flag;
  }
  for (const auto& [name, flag] : ours) {
    absl::StrAppend(&text, "  --", name, "  (default \"", flag->DefaultValue(), "\")\n      ",
                    flag->Help(), "\n");
  }
  std::fputs(text.c_str(), stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--help" || arg == "-help" || arg == "-h") return PrintHelp();
  }
  const std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() > 1) {
    return Fail(2, absl::StrCat("unexpected argument \"", positional[1],
                                "\"; flags take the form --name=value (see --help)"));
  }
  pong::ServerOptions options;
  options.name = absl::GetFlag(FLAGS_name);
  options.bind = absl::GetFlag(FLAGS_bind);
  options.http_port = absl::GetFlag(FLAGS_http_port);
  options.grpc_port = absl::GetFlag(FLAGS_grpc_port);
  options.log_file = absl::GetFlag(FLAGS_log_file);
  options.log_micros = absl::GetFlag(FLAGS_log_micros);
  options.control_token_file = absl::GetFlag(FLAGS_control_token_file);
  options.pair_secret_file = absl::GetFlag(FLAGS_pair_secret_file);
  options.tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
  options.tls_key_file = absl::GetFlag(FLAGS_tls_key);
  if (!ValidPort(options.http_port) || !ValidPort(options.grpc_port)) {
    return Fail(2, "--http_port and --grpc_port must be from 0 to 65535");
  }
  if (options.name.empty()) return Fail(2, "--name must not be empty");
  absl::StatusOr<pong::HostPort> peer = pong::ParseHostPort(absl::GetFlag(FLAGS_peer));
  if (!peer.ok()) return Fail(2, absl::StrCat("--peer: ", peer.status().message()));
  options.peer = *peer;
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return Fail(2, "--tls_cert and --tls_key go together: give both (TLS) or neither");
  }
  if (absl::Status exposure =
          pong::CheckControlExposure({.bind = options.bind,
                                      .has_token = !options.control_token_file.empty(),
                                      .has_tls = !options.tls_cert_file.empty(),
                                      .insecure_control = absl::GetFlag(FLAGS_insecure_control)});
      !exposure.ok()) {
    return Fail(2, std::string(exposure.message()));
  }

  // Signals are taken by sigwait below, never by a thread of the libraries.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  pong::RealClock clock;
  std::unique_ptr<pong::PeerLink> peer_link;  // null: the real HTTP link
#ifdef PONG_FAULT_HOOKS
  peer_link = pong::testing::MakeLosePongsPeerLink(options.peer);
#endif
  absl::StatusOr<std::unique_ptr<pong::PongServer>> server =
      pong::PongServer::Start(options, clock, std::move(peer_link));
  if (!server.ok()) return Fail(1, std::string(server.status().message()));
  const std::string ports_file = absl::GetFlag(FLAGS_ports_file);
  if (!ports_file.empty() &&
      !WritePortsFile(ports_file, (*server)->http_port(), (*server)->grpc_port())) {
    return Fail(1, absl::StrCat("cannot write --ports_file ", ports_file));
  }

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  (*server)->log().Write(absl::Now(),
                         absl::StrCat("received ", strsignal(signal_number), ", shutting down"));
  (*server)->Shutdown();
  return 0;
}
