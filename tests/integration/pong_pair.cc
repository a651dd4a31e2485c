#include "tests/integration/pong_pair.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace pong::testing {
namespace {

// The grpc port a server wrote to its --ports_file, or 0 while there is none.
int GrpcPortFrom(const std::string& ports_file) {
  std::istringstream in(ReadFile(ports_file));
  std::string line;
  while (std::getline(in, line)) {
    int port = 0;
    if (line.rfind("grpc=", 0) == 0 && absl::SimpleAtoi(line.substr(5), &port)) return port;
  }
  return 0;
}

}  // namespace

int TestLeadMs() {
  const char* env = std::getenv("PONG_TEST_LEAD_MS");
  int lead = 0;
  return env != nullptr && absl::SimpleAtoi(env, &lead) && lead > 0 ? lead : 250;
}

std::string Instance::grpc_address() const { return absl::StrCat(setup.host, ":", grpc_port); }

bool Instance::WaitForLog(absl::string_view text, std::chrono::milliseconds timeout) const {
  return WaitFor([&] { return absl::StrContains(Log(), text); }, timeout);
}

v1::GameStatus Instance::Status() const {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + Scaled(std::chrono::seconds(2)));
  if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
  v1::GetStatusResponse response;
  if (!stub || !stub->GetStatus(&context, v1::GetStatusRequest(), &response).ok()) return {};
  return response.status();
}

std::vector<LogLine> ReadLog(const std::string& path) {
  std::vector<LogLine> lines;
  std::istringstream in(ReadFile(path));
  std::string line;
  while (std::getline(in, line)) {
    // "2026-11-29T13:45:01.123Z first text...", or with microseconds (--log_micros)
    const size_t space = line.find(' ');
    const size_t name_end = space == std::string::npos ? space : line.find(' ', space + 1);
    if (name_end == std::string::npos) continue;
    LogLine parsed;
    std::string error;
    if (!absl::ParseTime("%Y-%m-%dT%H:%M:%E*SZ", line.substr(0, space), &parsed.at, &error)) {
      continue;
    }
    parsed.text = line.substr(name_end + 1);
    lines.push_back(std::move(parsed));
  }
  return lines;
}

std::vector<uint64_t> SeqsOf(const std::vector<LogLine>& lines, absl::string_view prefix,
                             absl::string_view suffix) {
  const bool open_ended = !suffix.empty() && (suffix.back() == ' ' || suffix.back() == '=');
  std::vector<uint64_t> seqs;
  for (const LogLine& line : lines) {
    absl::string_view text = line.text;
    if (!absl::ConsumePrefix(&text, prefix)) continue;
    const size_t digits = text.find_first_not_of("0123456789");
    uint64_t seq = 0;
    if (digits == 0 || !absl::SimpleAtoi(text.substr(0, digits), &seq)) continue;
    const absl::string_view rest = digits == absl::string_view::npos ? "" : text.substr(digits);
    if (open_ended ? absl::StartsWith(rest, suffix) : rest == suffix) seqs.push_back(seq);
  }
  return seqs;
}

std::vector<uint64_t> Sent(const std::vector<LogLine>& lines) {
  return SeqsOf(lines, "ping sent seq=");
}
std::vector<uint64_t> Sent(const Instance& instance) { return Sent(ReadLog(instance.log_path)); }
std::vector<uint64_t> Received(const Instance& instance) {
  return SeqsOf(ReadLog(instance.log_path), "ping received seq=", " game=");
}

std::string Describe(const RunResult& r) {
  return absl::StrCat("exit ", r.exit_code, "\nstdout:\n", r.out, "stderr:\n", r.err);
}

PongPair::PongPair(std::string control_token_file)
    : PongPair(std::move(control_token_file), InstanceSetup(), InstanceSetup()) {}

PongPair::PongPair(std::string control_token_file, InstanceSetup first_setup,
                   InstanceSetup second_setup)
    : PongPair([&] {
        PairOptions options;
        options.control_token_file = std::move(control_token_file);
        options.first_setup = std::move(first_setup);
        options.second_setup = std::move(second_setup);
        return options;
      }()) {}

PongPair::PongPair(PairOptions options) : options_(std::move(options)) {
  first.setup = options_.first_setup;
  second.setup = options_.second_setup;
  std::string pattern =
      (std::filesystem::temp_directory_path() / "pong-integration-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) return;
  dir = pattern;
  first.name = "first";
  second.name = "second";
  if (!options_.control_token_file.empty()) {
    const std::string token(absl::StripAsciiWhitespace(ReadFile(options_.control_token_file)));
    first.token = token;
    second.token = token;
  }
  // A port that another test's server took between FreePort() and this server's bind makes
  // the server exit at once ("cannot listen"): then both start again, on fresh ports.
  constexpr int kAttempts = 5;
  for (int attempt = 0; attempt < kAttempts && !ok_; ++attempt) {
    for (Instance* instance : {&first, &second}) {
      if (instance->process) instance->process->Terminate();
      instance->http_port = FreePort();
      instance->grpc_port = FreePort();
    }
    ok_ = StartInstance(first, second.http_port) && StartInstance(second, first.http_port);
  }
}

PongPair::~PongPair() {
  for (Instance* instance : {&first, &second}) {
    if (instance->process) instance->process->Terminate();
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

bool PongPair::StartInstance(Instance& instance, int peer_http_port) {
  const std::string ports_file = absl::StrCat(dir, "/", instance.name, ".ports");
  std::filesystem::remove(ports_file);
  instance.log_path = absl::StrCat(dir, "/", instance.name, ".log");
  const InstanceSetup& setup = instance.setup;
  std::vector<std::string> argv = setup.launcher;
  for (std::string arg : {setup.server_path, "--name=" + instance.name,
                          absl::StrCat("--http_port=", instance.http_port),
                          absl::StrCat("--grpc_port=", instance.grpc_port),
                          absl::StrCat("--peer=", setup.peer_host, ":", peer_http_port),
                          "--log_file=" + instance.log_path, "--ports_file=" + ports_file}) {
    argv.push_back(std::move(arg));
  }
  if (!setup.bind.empty()) argv.push_back("--bind=" + setup.bind);
  if (!options_.control_token_file.empty()) {
    argv.push_back("--control_token_file=" + options_.control_token_file);
  }
  if (!options_.tls_cert.empty()) {
    argv.push_back("--tls_cert=" + options_.tls_cert);
    argv.push_back("--tls_key=" + options_.tls_key);
  }
  const std::vector<std::string>& flags =
      &instance == &first ? options_.first_flags : options_.second_flags;
  argv.insert(argv.end(), flags.begin(), flags.end());
  instance.process = std::make_unique<Child>(argv, setup.env);
  const bool up =
      WaitFor([&] { return GrpcPortFrom(ports_file) != 0 || !instance.process->Running(); },
              std::chrono::seconds(10));
  if (!up || GrpcPortFrom(ports_file) == 0) return false;
  instance.grpc_port = GrpcPortFrom(ports_file);
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (!options_.tls_ca.empty()) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ReadFile(options_.tls_ca);
    credentials = grpc::SslCredentials(ssl);
  }
  instance.stub =
      v1::GameControl::NewStub(grpc::CreateChannel(instance.grpc_address(), credentials));
  return true;
}

std::vector<std::string> PongPair::CliArgv(const std::vector<std::string>& args) const {
  // pong-cli refuses a flag given twice: a default here yields to the same flag in args.
  auto given = [&](absl::string_view flag) {
    return std::any_of(args.begin(), args.end(), [&](const std::string& arg) {
      return absl::StartsWith(arg, absl::StrCat("--", flag, "=")) ||
             arg == absl::StrCat("--", flag);
    });
  };
  std::vector<std::string> argv = {PONG_CLI_PATH};
  auto add_default = [&](absl::string_view flag, const std::string& value) {
    if (!value.empty() && !given(flag)) argv.push_back(absl::StrCat("--", flag, "=", value));
  };
  add_default("first", first.grpc_address());
  add_default("second", second.grpc_address());
  add_default("lead_ms", std::to_string(TestLeadMs()));
  add_default("token_file", options_.control_token_file);
  add_default("tls_ca", options_.tls_ca);
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

RunResult PongPair::Cli(const std::vector<std::string>& args) const {
  return RunCommand(CliArgv(args));
}

}  // namespace pong::testing
