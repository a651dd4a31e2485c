#include "tests/integration/mission_util.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "tests/support/wait.h"

namespace pong::testing {
namespace {

// "2026-12-06T04:10:42.123456Z" or with any other number of digits.
std::optional<absl::Time> ParseStamp(const std::string& text) {
  absl::Time t;
  std::string error;
  if (!absl::ParseTime("%Y-%m-%dT%H:%M:%E*SZ", text, &t, &error)) return std::nullopt;
  return t;
}

const google::protobuf::Value* Member(const google::protobuf::Struct& object,
                                      const std::string& key) {
  auto it = object.fields().find(key);
  return it == object.fields().end() ? nullptr : &it->second;
}

// root[label].status.last_command.effective_at, if last_command is `command_id`.
std::optional<absl::Time> LastCommandAt(const google::protobuf::Struct& root,
                                        const std::string& label, const std::string& command_id) {
  const google::protobuf::Value* instance = Member(root, label);
  if (instance == nullptr || !instance->has_struct_value()) return std::nullopt;
  const google::protobuf::Value* status = Member(instance->struct_value(), "status");
  if (status == nullptr || !status->has_struct_value()) return std::nullopt;
  const google::protobuf::Value* last = Member(status->struct_value(), "last_command");
  if (last == nullptr || !last->has_struct_value()) return std::nullopt;
  const google::protobuf::Value* id = Member(last->struct_value(), "command_id");
  const google::protobuf::Value* at = Member(last->struct_value(), "effective_at");
  if (id == nullptr || id->string_value() != command_id || at == nullptr) return std::nullopt;
  return ParseStamp(at->string_value());
}

}  // namespace

absl::Duration Scaled(absl::Duration d) { return d * SlowdownFactor(); }

std::chrono::milliseconds ScaledMs(absl::Duration d) {
  return std::chrono::milliseconds(absl::ToInt64Milliseconds(Scaled(d)));
}

PairOptions MicrosLogs() {
  PairOptions options;
  options.first_flags = {"--log_micros"};
  options.second_flags = {"--log_micros"};
  return options;
}

std::optional<absl::Time> StampOf(const std::vector<LogLine>& lines, const std::string& text) {
  for (const LogLine& line : lines) {
    if (absl::StrContains(line.text, text)) return line.at;
  }
  return std::nullopt;
}

CliCommand RunJson(const PongPair& pair, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"--json"};
  argv.insert(argv.end(), args.begin(), args.end());
  const RunResult r = pair.Cli(argv);
  CliCommand command;
  command.exit_code = r.exit_code;
  command.output = Describe(r);
  google::protobuf::Struct root;
  if (!google::protobuf::util::JsonStringToMessage(r.out, &root).ok()) return command;
  if (const google::protobuf::Value* id = Member(root, "command_id")) {
    command.command_id = id->string_value();
  }
  command.effective_at = LastCommandAt(root, "first", command.command_id);
  const std::optional<absl::Time> second = LastCommandAt(root, "second", command.command_id);
  if (command.effective_at != second) command.effective_at.reset();  // they must agree
  return command;
}

std::string StatesOf(v1::GameState first, v1::GameState second) {
  return absl::StrCat(absl::StripPrefix(v1::GameState_Name(first), "GAME_STATE_"), "/",
                      absl::StripPrefix(v1::GameState_Name(second), "GAME_STATE_"));
}

std::string States(const PongPair& pair) {
  std::string states;
  // An instance that did not answer in time says UNSPECIFIED: ask again.
  WaitFor(
      [&] {
        states = StatesOf(pair.first.Status().state(), pair.second.Status().state());
        return !absl::StrContains(states, "UNSPECIFIED");
      },
      ScaledMs(absl::Seconds(10)));
  return states;
}

}  // namespace pong::testing
