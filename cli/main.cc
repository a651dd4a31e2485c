// pong-cli: drives the two instances of a pong game over gRPC. See UsageText() in args.cc.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/clock.h"
#include "cli/fanout.h"
#include "cli/grpc_control_client.h"
#include "cli/output.h"
#include "server/random_id.h"

namespace pong::cli {
namespace {

v1::CommandKind KindOf(Verb verb) {
  switch (verb) {
    case Verb::kStart:
      return v1::COMMAND_KIND_START;
    case Verb::kPause:
      return v1::COMMAND_KIND_PAUSE;
    case Verb::kResume:
      return v1::COMMAND_KIND_RESUME;
    case Verb::kStop:
      return v1::COMMAND_KIND_STOP;
    default:
      return v1::COMMAND_KIND_UNSPECIFIED;
  }
}

// Prints the answer and ends the process at once: tearing gRPC down (joining its threads)
// would only add milliseconds to the command's wall time.
[[noreturn]] void PrintAndExit(const Rendered& rendered, int exit_code) {
  std::fputs(rendered.out.c_str(), stdout);
  std::fflush(stdout);
  std::fputs(rendered.err.c_str(), stderr);
  std::fflush(stderr);
  std::_Exit(exit_code);
}

int Main(const std::vector<std::string>& args) {
  absl::StatusOr<ParsedArgs> parsed = ParseArgs(args, GetEnv);
  if (!parsed.ok()) {
    std::fputs(RenderUsageError(parsed.status()).c_str(), stderr);
    return kExitUsage;
  }
  if (parsed->verb == Verb::kHelp) {
    std::fputs(UsageText().c_str(), stdout);
    return kExitOk;
  }
  std::string token;
  if (!parsed->token_file.empty()) {
    absl::StatusOr<std::string> read = ReadTokenFile(parsed->token_file);
    if (!read.ok()) {
      std::fputs(RenderUsageError(read.status()).c_str(), stderr);
      return kExitUsage;
    }
    token = *std::move(read);
  }
  std::string tls_ca;
  if (!parsed->tls_ca.empty()) {
    absl::StatusOr<std::string> read = ReadTlsCaFile(parsed->tls_ca);
    if (!read.ok()) {
      std::fputs(RenderUsageError(read.status()).c_str(), stderr);
      return kExitUsage;
    }
    tls_ca = *std::move(read);
  }
  GrpcControlClient first(parsed->first, token, tls_ca);
  GrpcControlClient second(parsed->second, token, tls_ca);
  RealClock clock;
  FanoutOptions options;
  options.lead = parsed->lead;
  options.timeout = parsed->timeout;
  // Said as it happens, in text and JSON alike: a retry makes the command take longer.
  options.on_retry = [kind = KindOf(parsed->verb)](const Retry& retry) {
    std::fputs(RenderRetry(kind, retry).c_str(), stderr);
    std::fflush(stderr);
  };
  Fanout fanout({{"first", parsed->first, &first}, {"second", parsed->second, &second}}, &clock,
                pong::NewRandomId, options);
  if (parsed->verb == Verb::kStatus) {
    const StatusReport report = fanout.Status();
    PrintAndExit(RenderStatus(report, parsed->json), report.exit_code);
  }
  const CommandReport report = fanout.Run(KindOf(parsed->verb), parsed->pong_time_ms);
  PrintAndExit(RenderCommand(report, parsed->json), report.exit_code);
}

}  // namespace
}  // namespace pong::cli

int main(int argc, char** argv) {
  return pong::cli::Main(std::vector<std::string>(argv + 1, argv + argc));
}
