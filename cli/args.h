#ifndef PONG_CLI_ARGS_H_
#define PONG_CLI_ARGS_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace pong::cli {

enum class Verb { kHelp, kStart, kPause, kResume, kStop, kStatus };

inline constexpr int64_t kMaxPongTimeMs = 3'600'000;

// A command line that made sense.
struct ParsedArgs {
  Verb verb = Verb::kHelp;
  int64_t pong_time_ms = 0;  // kStart only
  std::string first;         // HOST:PORT of the first instance's gRPC plane
  std::string second;
  absl::Duration lead;     // effective_at = now + lead
  absl::Duration timeout;  // deadline of status calls
  bool json = false;
  std::string token_file;  // empty: calls carry no token
  std::string tls_ca;      // empty: plain gRPC; else TLS, trusting this PEM file's CA
};

// Reads an environment variable; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const char* name)>;

// Parses the arguments after the program name. Flags (--name=value, --name value, -name,
// --noname for booleans) may come before or after the command; "--" ends them, and a
// token such as "-5" is an argument, not a flag. Any mistake is INVALID_ARGUMENT with one
// line that says what was wrong and what was expected. --help wins over everything else.
//
// The flags are ABSL_FLAGs, set from their defaults on every call, so this may be called
// again (tests do). Not thread-safe (it sets global flags): call from main's thread.
absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& args, const EnvLookup& env);

// Reads the process environment.
std::optional<std::string> GetEnv(const char* name);

// The token in the --token_file at `path`, surrounding whitespace trimmed;
// INVALID_ARGUMENT with one line when it cannot be read or is empty.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

// The PEM content of the --tls_ca file at `path`; INVALID_ARGUMENT with one line when it
// cannot be read or holds no PEM certificate.
absl::StatusOr<std::string> ReadTlsCaFile(const std::string& path);

// The text of --help.
std::string UsageText();

// A whole number from 0 to kMaxPongTimeMs in plain decimal digits (leading zeros allowed);
// INVALID_ARGUMENT otherwise. No sign, space, point, exponent or hex.
absl::StatusOr<int64_t> ParsePongTimeMs(absl::string_view text);

// HOST:PORT with a non-empty host (an IPv6 literal in brackets) and a port from 1 to
// 65535; INVALID_ARGUMENT naming `source` (e.g. "--first") otherwise.
absl::Status ValidateAddress(absl::string_view source, absl::string_view address);

}  // namespace pong::cli

#endif  // PONG_CLI_ARGS_H_
