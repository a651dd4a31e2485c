#include "cli/args.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

ABSL_FLAG(std::string, first, "127.0.0.1:50051",
          "HOST:PORT of the first instance's gRPC plane; it serves the first ball. "
          "Without the flag, $PONG_FIRST if set.");
ABSL_FLAG(std::string, second, "127.0.0.1:50052",
          "HOST:PORT of the second instance's gRPC plane. Without the flag, $PONG_SECOND "
          "if set.");
ABSL_FLAG(int64_t, lead_ms, 100,
          "How far ahead a state change is scheduled: both instances get the same "
          "effective_at = now + lead_ms, and the command must reach both (and be cancelled "
          "on one if the other refuses) within that time. 100 is safe on one host; raise it "
          "for remote or loaded hosts, e.g. 500. 10 to 30000.");
ABSL_FLAG(int64_t, timeout_ms, 1000,
          "Deadline of each status call, and of the reachability check made before a "
          "command. 1 to 60000.");
ABSL_FLAG(bool, json, false,
          "Print one JSON object on stdout instead of text, for scripts (every command).");
ABSL_FLAG(std::string, token_file, "",
          "File holding the control token of the instances (started with "
          "--control_token_file); every call carries it. Without the flag, $PONG_TOKEN_FILE "
          "if set.");

ABSL_FLAG(std::string, tls_ca, "",
          "PEM file of the CA that signed the instances' certificates (started with "
          "--tls_cert): talk TLS to them, checking their certificate against it and the "
          "host in --first and --second. Without it, plain gRPC. Without the flag, "
          "$PONG_TLS_CA if set.");

namespace pong::cli {
namespace {

constexpr int64_t kMinLeadMs = 10;
constexpr int64_t kMaxLeadMs = 30'000;
constexpr int64_t kMinTimeoutMs = 1;
constexpr int64_t kMaxTimeoutMs = 60'000;
// The order --help lists them in; every other name is an unknown flag.
constexpr const char* kFlagNames[] = {"first", "second",     "lead_ms", "timeout_ms",
                                      "json",  "token_file", "tls_ca"};
constexpr absl::string_view kCommands = "start, pause, resume, stop or status";

// What --help shows as the value of a flag.
absl::string_view ValueName(absl::string_view flag) {
  if (flag == "first" || flag == "second") return "=HOST:PORT";
  if (flag == "json") return "";
  if (flag == "token_file" || flag == "tls_ca") return "=PATH";
  return "=MS";
}

// A user's text, quoted for a one-line message: escaped, and cut when very long.
std::string Quote(absl::string_view text) {
  constexpr size_t kMaxShown = 40;
  return absl::StrCat("\"", absl::CHexEscape(text.substr(0, kMaxShown)),
                      text.size() > kMaxShown ? "...\"" : "\"");
}

absl::CommandLineFlag* FindOurFlag(absl::string_view name) {
  for (const char* ours : kFlagNames) {
    if (name == ours) return absl::FindCommandLineFlag(name);
  }
  return nullptr;
}

bool IsHelp(absl::string_view arg) {
  return arg == "--help" || arg == "-help" || arg == "-h" || arg == "--helpfull" ||
         arg == "-helpfull";
}

// "-5" and "-.5" are (bad) numbers, not flags; "-" alone is an argument too.
bool LooksLikeFlag(absl::string_view arg) {
  return arg.size() >= 2 && arg[0] == '-' && !absl::ascii_isdigit(arg[1]) && arg[1] != '.';
}

absl::Status RangeError(absl::string_view name, int64_t min, int64_t max, absl::string_view text) {
  return absl::InvalidArgumentError(absl::StrCat("--", name, " must be a whole number of ms from ",
                                                 min, " to ", max, ", got ", Quote(text)));
}

absl::Status BadFlagValue(absl::string_view name, absl::string_view text) {
  if (name == "lead_ms") return RangeError(name, kMinLeadMs, kMaxLeadMs, text);
  if (name == "timeout_ms") return RangeError(name, kMinTimeoutMs, kMaxTimeoutMs, text);
  return absl::InvalidArgumentError(
      absl::StrCat("--", name, " takes no value, or true or false, got ", Quote(text)));
}

absl::StatusOr<Verb> ParseVerb(absl::string_view word) {
  static const auto* const kVerbs = new std::map<absl::string_view, Verb>{
      {"start", Verb::kStart}, {"pause", Verb::kPause},   {"resume", Verb::kResume},
      {"stop", Verb::kStop},   {"status", Verb::kStatus}, {"help", Verb::kHelp},
  };
  if (auto it = kVerbs->find(word); it != kVerbs->end()) return it->second;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown command ", Quote(word), "; expected ", kCommands));
}

// Word-wraps `text` to `width` columns, each line indented by `indent` spaces.
std::string Wrap(absl::string_view text, size_t indent, size_t width) {
  std::string out;
  size_t column = 0;
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (column > 0 && column + 1 + word.size() > width) {
      out += "\n";
      column = 0;
    }
    if (column == 0) {
      out.append(indent, ' ');
      column = indent;
    } else {
      out += " ";
      ++column;
    }
    absl::StrAppend(&out, word);
    column += word.size();
  }
  return out + "\n";
}

}  // namespace

absl::StatusOr<int64_t> ParsePongTimeMs(absl::string_view text) {
  const auto error = [&] {
    return absl::InvalidArgumentError(absl::StrCat("pong_time_ms must be a whole number from 0 to ",
                                                   kMaxPongTimeMs, ", got ", Quote(text)));
  };
  if (text.empty()) return error();
  int64_t value = 0;
  for (char c : text) {
    if (!absl::ascii_isdigit(c)) return error();
    value = value * 10 + (c - '0');
    if (value > kMaxPongTimeMs) return error();
  }
  return value;
}

absl::Status ValidateAddress(absl::string_view source, absl::string_view address) {
  const auto error = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        source, " must be HOST:PORT with a port from 1 to 65535, got ", Quote(address)));
  };
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) return error();
  absl::string_view host = address.substr(0, colon);
  const absl::string_view port = address.substr(colon + 1);
  if (absl::ConsumePrefix(&host, "[") && !absl::ConsumeSuffix(&host, "]")) return error();
  // 253 characters: the longest DNS name (an address literal is shorter).
  if (host.empty() || host.size() > 253 ||
      (host.find(':') != absl::string_view::npos && address[0] != '[')) {
    return error();
  }
  for (char c : host) {
    if (!absl::ascii_isgraph(c) || c == '/' || c == '[' || c == ']') return error();
  }
  int port_number = 0;
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), absl::ascii_isdigit) ||
      !absl::SimpleAtoi(port, &port_number) || port_number < 1 || port_number > 65535) {
    return error();
  }
  return absl::OkStatus();
}

std::optional<std::string> GetEnv(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& args, const EnvLookup& env) {
  for (const std::string& arg : args) {
    if (arg == "--") break;
    if (IsHelp(arg)) return ParsedArgs{};
  }

  // Each parse starts from the defaults, so a second call (as in tests) sees none of the
  // first. Not absl::FlagSaver: its restore logs a line per flag to stderr.
  for (const char* name : kFlagNames) {
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    std::string error;
    flag->ParseFrom(flag->DefaultValue(), &error);
  }
  std::vector<std::string> positional;
  std::map<std::string, std::string, std::less<>> given;  // flag name -> its text
  bool flags_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (flags_done || !LooksLikeFlag(arg)) {
      positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_done = true;
      continue;
    }
    absl::string_view name = arg;
    absl::ConsumePrefix(&name, "-");
    absl::ConsumePrefix(&name, "-");
    std::optional<std::string> value;
    if (const size_t eq = name.find('='); eq != absl::string_view::npos) {
      value = std::string(name.substr(eq + 1));
      name = name.substr(0, eq);
    }
    absl::CommandLineFlag* flag = FindOurFlag(name);
    if (flag == nullptr && absl::StartsWith(name, "no")) {
      absl::CommandLineFlag* negated = FindOurFlag(name.substr(2));
      if (negated != nullptr && negated->IsOfType<bool>()) {
        if (value) return absl::InvalidArgumentError(absl::StrCat("--", name, " takes no value"));
        flag = negated;
        name.remove_prefix(2);
        value = "false";
      }
    }
    if (flag == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag ", Quote(arg.substr(0, arg.find('='))), "; flags are --",
                       absl::StrJoin(kFlagNames, ", --"), " and --help"));
    }
    if (!value) {
      if (flag->IsOfType<bool>()) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
      }
    }
    // Which of two addresses (or lead times) was meant cannot be guessed; a switch may be
    // flipped back (--json ... --nojson).
    if (!flag->IsOfType<bool>() && given.count(name) != 0) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, " is given more than once"));
    }
    std::string error;
    if (!flag->ParseFrom(*value, &error)) return BadFlagValue(name, *value);
    given[std::string(name)] = *value;
  }

  ParsedArgs parsed;
  parsed.json = absl::GetFlag(FLAGS_json);
  const int64_t lead_ms = absl::GetFlag(FLAGS_lead_ms);
  if (lead_ms < kMinLeadMs || lead_ms > kMaxLeadMs) {
    return RangeError("lead_ms", kMinLeadMs, kMaxLeadMs, given["lead_ms"]);
  }
  parsed.lead = absl::Milliseconds(lead_ms);
  const int64_t timeout_ms = absl::GetFlag(FLAGS_timeout_ms);
  if (timeout_ms < kMinTimeoutMs || timeout_ms > kMaxTimeoutMs) {
    return RangeError("timeout_ms", kMinTimeoutMs, kMaxTimeoutMs, given["timeout_ms"]);
  }
  parsed.timeout = absl::Milliseconds(timeout_ms);

  // The flag beats the environment, which beats the default. An empty variable is unset.
  const auto address = [&](const char* name, const char* env_name,
                           std::string flag_value) -> absl::StatusOr<std::string> {
    if (given.contains(name)) {
      if (absl::Status s = ValidateAddress(absl::StrCat("--", name), flag_value); !s.ok()) {
        return s;
      }
      return flag_value;
    }
    if (std::optional<std::string> from_env = env(env_name); from_env && !from_env->empty()) {
      if (absl::Status s = ValidateAddress(env_name, *from_env); !s.ok()) return s;
      return *from_env;
    }
    return flag_value;
  };
  absl::StatusOr<std::string> first = address("first", "PONG_FIRST", absl::GetFlag(FLAGS_first));
  if (!first.ok()) return first.status();
  absl::StatusOr<std::string> second =
      address("second", "PONG_SECOND", absl::GetFlag(FLAGS_second));
  if (!second.ok()) return second.status();
  if (*first == *second) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the first and second instance have the same address ", Quote(*first),
        "; set --first and --second (or PONG_FIRST and PONG_SECOND) to two instances"));
  }
  // A file flag beats its environment variable; given, it must name a file.
  const auto path = [&](const char* name, const char* env_name,
                        std::string flag_value) -> absl::StatusOr<std::string> {
    if (given.contains(name)) {
      if (flag_value.empty()) {
        return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a path"));
      }
      return flag_value;
    }
    return env(env_name).value_or(flag_value);
  };
  absl::StatusOr<std::string> token_file =
      path("token_file", "PONG_TOKEN_FILE", absl::GetFlag(FLAGS_token_file));
  if (!token_file.ok()) return token_file.status();
  parsed.token_file = *std::move(token_file);
  absl::StatusOr<std::string> tls_ca = path("tls_ca", "PONG_TLS_CA", absl::GetFlag(FLAGS_tls_ca));
  if (!tls_ca.ok()) return tls_ca.status();
  parsed.tls_ca = *std::move(tls_ca);
  parsed.first = *std::move(first);
  parsed.second = *std::move(second);

  if (positional.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("missing command; expected ", kCommands));
  }
  absl::StatusOr<Verb> verb = ParseVerb(positional[0]);
  if (!verb.ok()) return verb.status();
  parsed.verb = *verb;
  if (parsed.verb == Verb::kHelp) return parsed;
  size_t expected = 1;
  if (parsed.verb == Verb::kStart) {
    if (positional.size() < 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("start needs pong_time_ms, a whole number from 0 to ", kMaxPongTimeMs,
                       " (e.g. 'pong-cli start 1000')"));
    }
    absl::StatusOr<int64_t> pong_time_ms = ParsePongTimeMs(positional[1]);
    if (!pong_time_ms.ok()) return pong_time_ms.status();
    parsed.pong_time_ms = *pong_time_ms;
    expected = 2;
  }
  if (positional.size() > expected) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unexpected argument ", Quote(positional[expected]), ": ", positional[0],
        parsed.verb == Verb::kStart ? " takes one argument, pong_time_ms" : " takes no arguments"));
  }
  return parsed;
}

absl::StatusOr<std::string> ReadTlsCaFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read the --tls_ca file ", Quote(path), ": ", std::strerror(errno)));
  }
  std::ostringstream content;
  content << in.rdbuf();
  if (content.str().find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("the --tls_ca file ", Quote(path), " holds no PEM certificate"));
  }
  return content.str();
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read the token file ", Quote(path), ": ", std::strerror(errno)));
  }
  std::ostringstream content;
  content << in.rdbuf();
  std::string token(absl::StripAsciiWhitespace(content.str()));
  if (token.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("the token file ", Quote(path), " is empty"));
  }
  return token;
}

std::string UsageText() {
  std::string text =
      "pong-cli: control the two instances of a pong game over gRPC.\n"
      "\n"
      "Usage:\n"
      "  pong-cli start <pong_time_ms>  start a game; the first instance serves\n"
      "  pong-cli pause                 freeze the ball on both instances\n"
      "  pong-cli resume                go on with the time that was left\n"
      "  pong-cli stop                  end the game; both instances become IDLE\n"
      "  pong-cli status                show both instances: state, ball, pings, peer\n"
      "\n"
      "A state change goes to both instances at once, scheduled for the same instant\n"
      "(now + --lead_ms). If either refuses it or cannot be reached in time, it is\n"
      "cancelled on the other, so both stay as they were. Otherwise pong-cli waits for\n"
      "that instant and confirms it took effect on both before it returns, so\n"
      "'pong-cli pause && pong-cli resume' works. A change that is already in effect on\n"
      "an instance (pause when paused, resume when running, stop when idle) is a no-op\n"
      "there and counts as success.\n"
      "\n"
      "A command that failed only for being late (it reached an instance after its\n"
      "instant, got no answer in time, or the two could not confirm it with each other\n"
      "by then: a loaded machine), with nothing changed anywhere, is sent again with a\n"
      "new id and twice the lead (at most 2000 ms, or --lead_ms if more), up to 4 tries\n"
      "in all; each retry says so in one line on stderr, and --json gives the number of\n"
      "tries. Any other refusal, or a change on one instance only, is never retried.\n"
      "\n"
      "pong_time_ms is the time from one ping to the next: a whole number from 0 to\n"
      "3600000 in decimal digits (leading zeros allowed, no sign, point or exponent).\n"
      "0 plays as fast as the two instances can.\n"
      "\n"
      "Flags (before or after the command; --name=value or --name value):\n";
  for (const char* name : kFlagNames) {
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    const bool is_bool = flag->IsOfType<bool>();
    absl::StrAppend(&text, "  --", name, ValueName(name),
                    is_bool ? "" : absl::StrCat("  (default ", flag->DefaultValue(), ")"), "\n",
                    Wrap(flag->Help(), 6, 80));
  }
  absl::StrAppend(
      &text,
      "  --help\n"
      "      Print this text and exit 0.\n"
      "\n"
      "Environment:\n"
      "  PONG_FIRST, PONG_SECOND  default for --first and --second; the flags override\n"
      "                           them, and an empty variable counts as unset\n"
      "  PONG_TOKEN_FILE          default for --token_file; the flag overrides it\n"
      "  PONG_TLS_CA              default for --tls_ca; the flag overrides it\n"
      "\n"
      "Exit codes:\n"
      "  0  done on both instances (status: both answered)\n"
      "  1  refused by an instance, or one could not be reached (also: plain gRPC to\n"
      "     an instance that serves TLS, or TLS to one that does not): nothing changed\n"
      "     (status: an instance did not answer)\n"
      "  2  usage error: unknown command or flag, bad or missing argument\n"
      "  3  in effect on one instance only, or unknown on one (it could be neither\n"
      "     confirmed nor cancelled); the output says which instance is in which state\n"
      "     and how to bring them together\n"
      "\n"
      "Examples:\n"
      "  pong-cli start 1000\n"
      "  pong-cli pause && pong-cli resume\n"
      "  pong-cli status --json\n"
      "  pong-cli --first=10.0.0.5:50051 --second=10.0.0.6:50051 --lead_ms=500 stop\n"
      "  PONG_FIRST=127.0.0.1:6001 PONG_SECOND=127.0.0.1:6002 pong-cli status\n");
  return text;
}

}  // namespace pong::cli
