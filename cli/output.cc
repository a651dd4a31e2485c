#include "cli/output.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "server/proto_time.h"

namespace pong::cli {
namespace {

constexpr size_t kShortIdLength = 8;

// Server and transport messages on one line, whatever they contain.
std::string OneLine(absl::string_view text) {
  std::string line(text);
  for (char& c : line) {
    if (absl::ascii_iscntrl(c)) c = ' ';
  }
  return line;
}

std::string ErrorText(const absl::Status& status) {
  return absl::StrCat(absl::StatusCodeToString(status.code()), ": ", OneLine(status.message()));
}

// 13:45:01.123Z: the instant of a command, to the millisecond, in UTC like the logs.
std::string ClockText(absl::Time t) {
  return absl::FormatTime("%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

std::string MillisText(absl::Duration d) {
  return absl::StrCat(absl::ToInt64Milliseconds(d), " ms");
}

std::string ShortId(absl::string_view id) { return std::string(id.substr(0, kShortIdLength)); }

std::string VerbOf(v1::CommandKind kind) {
  return absl::AsciiStrToLower(absl::StripPrefix(v1::CommandKind_Name(kind), "COMMAND_KIND_"));
}

std::string StateName(v1::GameState state) {
  return std::string(absl::StripPrefix(v1::GameState_Name(state), "GAME_STATE_"));
}

std::string PhaseName(v1::CommandPhase phase) {
  return std::string(absl::StripPrefix(v1::CommandPhase_Name(phase), "COMMAND_PHASE_"));
}

// "first", or "first(alpha)" when the instance calls itself otherwise.
std::string LabelOf(absl::string_view label, const v1::GameStatus* status) {
  if (status == nullptr || status->name().empty() || status->name() == label) {
    return std::string(label);
  }
  return absl::StrCat(label, "(", status->name(), ")");
}

std::string StateOf(const std::optional<v1::GameStatus>& status) {
  return status ? StateName(status->state()) : "?";
}

// Left-aligned columns, two spaces apart; the last one is not padded.
std::string Table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      if (c > 0) line += "  ";
      line += row[c];
      if (c + 1 < row.size()) line.append(widths[c] - row[c].size(), ' ');
    }
    absl::StrAppend(&out, absl::StripTrailingAsciiWhitespace(line), "\n");
  }
  return out;
}

std::string JsonString(absl::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppendFormat(&out, "\\u%04x", static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

// A JSON object whose members keep the order they were added in.
class JsonObject {
 public:
  JsonObject& Raw(absl::string_view key, std::string json) {
    members_.push_back(absl::StrCat(JsonString(key), ":", json));
    return *this;
  }
  JsonObject& String(absl::string_view key, absl::string_view value) {
    return Raw(key, JsonString(value));
  }
  JsonObject& Int(absl::string_view key, int64_t value) { return Raw(key, absl::StrCat(value)); }
  std::string Render() const { return absl::StrCat("{", absl::StrJoin(members_, ","), "}"); }

 private:
  std::vector<std::string> members_;
};

std::string JsonError(const absl::Status& status) {
  if (status.ok()) return "null";
  return JsonObject()
      .String("code", absl::StatusCodeToString(status.code()))
      .String("message", status.message())
      .Render();
}

// proto3 JSON, with the .proto field names and every field, so scripts find each key.
std::string JsonStatus(const v1::GameStatus* status) {
  if (status == nullptr) return "null";
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(*status, &json, options).ok()) return "null";
  return json;
}

// What happened on one instance, in words, after its outcome and state.
std::string Detail(const CommandReport& report, const InstanceReport& instance, bool serves) {
  const std::string at = report.effective_at ? ClockText(*report.effective_at) : "?";
  std::vector<std::string> parts;
  switch (instance.outcome) {
    case Outcome::kApplied:
      parts.push_back(absl::StrCat("at ", at));
      if (report.kind == v1::COMMAND_KIND_START) {
        parts.push_back(absl::StrCat("game ", ShortId(report.game_id), " ", report.pong_time_ms,
                                     " ms", serves ? ", serves" : ""));
      }
      if (!instance.cancel_error.ok()) {
        parts.push_back(absl::StrCat("could not cancel: ", ErrorText(instance.cancel_error)));
      }
      break;
    case Outcome::kNoOp:
      parts.push_back(instance.message.empty() ? "nothing to do" : OneLine(instance.message));
      break;
    case Outcome::kRejected:
    case Outcome::kUnreachable:
      parts.push_back(ErrorText(instance.error));
      break;
    case Outcome::kCancelled:
      parts.push_back(absl::StrCat("cancelled before ", at));
      if (!instance.error.ok())
        parts.push_back(absl::StrCat("answer was ", ErrorText(instance.error)));
      break;
    case Outcome::kUnchanged:
      parts.push_back("never took effect");
      if (!instance.error.ok())
        parts.push_back(absl::StrCat("answer was ", ErrorText(instance.error)));
      break;
    case Outcome::kNotApplied:
      parts.push_back(absl::StrCat("did not take effect at ", at));
      if (!instance.error.ok()) parts.push_back(ErrorText(instance.error));
      break;
    case Outcome::kNotSent:
      parts.push_back("nothing sent");
      break;
    case Outcome::kUnknown:
      parts.push_back(absl::StrCat("may have taken effect at ", at));
      if (!instance.error.ok()) parts.push_back(ErrorText(instance.error));
      if (!instance.cancel_error.ok()) {
        parts.push_back(absl::StrCat("could not cancel: ", ErrorText(instance.cancel_error)));
      }
      break;
  }
  return absl::StrJoin(parts, "; ");
}

std::string JoinLabels(const std::vector<std::string>& labels) {
  return absl::StrJoin(labels, " and ");
}

// How to bring the instances back together after a partial outcome.
std::string Recovery(const CommandReport& report) {
  switch (report.kind) {
    case v1::COMMAND_KIND_START:
      return absl::StrCat("'pong-cli stop' brings both to IDLE, then 'pong-cli start ",
                          report.pong_time_ms, "' starts again");
    case v1::COMMAND_KIND_PAUSE:
      return "'pong-cli pause' again pauses the other (a paused one reports a no-op), or "
             "'pong-cli stop' brings both to IDLE";
    case v1::COMMAND_KIND_RESUME:
      return "'pong-cli resume' again resumes the other (a running one reports a no-op), or "
             "'pong-cli stop' brings both to IDLE";
    default:
      return "'pong-cli stop' again stops the other (an idle one reports a no-op)";
  }
}

// Nothing, when the command is in effect everywhere; otherwise what happened, and for a
// partial outcome the state of each instance and how to recover. One sentence per line.
std::vector<std::string> Summary(const CommandReport& report) {
  const std::string verb = VerbOf(report.kind);
  std::vector<std::string> in_effect, not_in_effect, unknown, unreachable, reasons;
  for (const InstanceReport& instance : report.instances) {
    switch (instance.outcome) {
      case Outcome::kApplied:
      case Outcome::kNoOp:
        in_effect.push_back(instance.label);
        break;
      case Outcome::kUnknown:
        unknown.push_back(instance.label);
        break;
      case Outcome::kUnreachable:
        unreachable.push_back(absl::StrCat(instance.label, " (", instance.address,
                                           ") did not answer: ", ErrorText(instance.error)));
        not_in_effect.push_back(instance.label);
        break;
      case Outcome::kRejected:
        reasons.push_back(
            absl::StrCat(instance.label, " rejected it: ", ErrorText(instance.error)));
        not_in_effect.push_back(instance.label);
        break;
      case Outcome::kNotApplied:
        reasons.push_back(absl::StrCat(instance.label, " did not apply it: ",
                                       instance.error.ok() ? "?" : ErrorText(instance.error)));
        not_in_effect.push_back(instance.label);
        break;
      default:
        if (!instance.error.ok()) {
          reasons.push_back(
              absl::StrCat(instance.label, " did not accept it: ", ErrorText(instance.error)));
        }
        not_in_effect.push_back(instance.label);
        break;
    }
  }
  switch (report.exit_code) {
    case kExitOk:
      return {};
    case kExitNothingChanged:
      if (!unreachable.empty()) {
        return {absl::StrCat(absl::StrJoin(unreachable, "; "), "; nothing sent, nothing changed")};
      }
      return {absl::StrCat(verb, " not done: ", absl::StrJoin(reasons, "; "), "; nothing changed")};
    default:
      break;
  }
  std::vector<std::string> what;
  if (!in_effect.empty()) what.push_back(absl::StrCat("in effect on ", JoinLabels(in_effect)));
  if (!not_in_effect.empty()) {
    what.push_back(absl::StrCat(in_effect.empty() ? "not in effect on " : "not on ",
                                JoinLabels(not_in_effect)));
  }
  if (!unknown.empty()) {
    what.push_back(absl::StrCat("unknown on ", JoinLabels(unknown),
                                " (could be neither confirmed nor cancelled)"));
  }
  std::vector<std::string> states;
  for (const InstanceReport& instance : report.instances) {
    states.push_back(instance.status
                         ? absl::StrCat(instance.label, " is ", StateOf(instance.status))
                         : absl::StrCat(instance.label, "'s state is unknown"));
  }
  std::vector<std::string> lines = {
      absl::StrCat(verb, " is ", absl::StrJoin(what, ", "), ": ", absl::StrJoin(states, ", "))};
  if (!reasons.empty()) lines.push_back(absl::StrJoin(reasons, "; "));
  lines.push_back(absl::StrCat(
      "to recover: ", unknown.empty() ? "" : "'pong-cli status' shows both; ", Recovery(report)));
  return lines;
}

std::string Prefixed(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) absl::StrAppend(&out, "pong-cli: ", line, "\n");
  return out;
}

// The human view of one status: state, game, ball, counters, peer, pending command.
std::vector<std::string> StatusParts(const v1::GameStatus& s) {
  std::vector<std::string> parts = {StateName(s.state())};
  const bool in_game = s.state() == v1::GAME_STATE_RUNNING || s.state() == v1::GAME_STATE_PAUSED;
  if (in_game) {
    parts.push_back(
        absl::StrCat("game ", s.game_id().empty() ? "(id from first ping)" : ShortId(s.game_id()),
                     " ", s.pong_time_ms(), " ms"));
    switch (s.ball()) {
      case v1::BALL_HELD:
        if (s.state() == v1::GAME_STATE_PAUSED && s.has_time_left()) {
          parts.push_back(
              absl::StrCat("ball held, ", MillisText(FromProto(s.time_left())), " left"));
        } else if (s.has_ball_due_at()) {
          parts.push_back(absl::StrCat("ball held, due ", ClockText(FromProto(s.ball_due_at()))));
        } else {
          parts.push_back("ball held");
        }
        break;
      case v1::BALL_IN_FLIGHT:
        parts.push_back("ball in flight");
        break;
      case v1::BALL_AT_PEER:
        parts.push_back("ball at peer");
        break;
      case v1::BALL_LOST:
        parts.push_back("BALL LOST (the peer's ping is overdue)");
        break;
      default:
        parts.push_back("no ball yet");
        break;
    }
    parts.push_back(absl::StrCat("seq ", s.last_seq()));
  }
  if (in_game || s.pings_sent() > 0 || s.pings_received() > 0) {
    parts.push_back(
        absl::StrCat("pings ", s.pings_sent(), " sent, ", s.pings_received(), " received"));
  }
  if (s.has_peer() && (in_game || !s.peer().reachable())) {
    const v1::PeerStatus& peer = s.peer();
    parts.push_back(peer.reachable()
                        ? absl::StrCat("peer ", peer.address(), " reachable")
                        : absl::StrCat("peer ", peer.address(), " unreachable (",
                                       peer.consecutive_failures(),
                                       " failures: ", OneLine(peer.last_error()), ")"));
  }
  if (s.has_pending_command()) {
    const v1::PendingCommand& pending = s.pending_command();
    parts.push_back(absl::StrCat("pending ", VerbOf(pending.kind()), " at ",
                                 ClockText(FromProto(pending.effective_at())),
                                 !pending.paired()     ? ""
                                 : pending.confirmed() ? " (confirmed by the peer)"
                                                       : " (not yet confirmed by the peer)"));
  }
  return parts;
}

std::string LateText(const Retry& retry) {
  std::vector<std::string> parts;
  for (const auto& [label, error] : retry.late) {
    parts.push_back(absl::StrCat(label, " ", ErrorText(error)));
  }
  return absl::StrJoin(parts, "; ");
}

// [{"command_id":"...","lead_ms":100,"late":"second DEADLINE_EXCEEDED: ..."}, ...]
std::string JsonRetries(const std::vector<Retry>& retries) {
  std::vector<std::string> items;
  for (const Retry& retry : retries) {
    items.push_back(JsonObject()
                        .String("command_id", retry.command_id)
                        .Int("lead_ms", absl::ToInt64Milliseconds(retry.lead))
                        .String("late", LateText(retry))
                        .Render());
  }
  return absl::StrCat("[", absl::StrJoin(items, ","), "]");
}

}  // namespace

std::string RenderRetry(v1::CommandKind kind, const Retry& retry) {
  return absl::StrCat("pong-cli: ", VerbOf(kind), " came too late (", LateText(retry),
                      "); nothing changed; trying again with a new command and a ",
                      MillisText(retry.next_lead), " lead (try ", retry.next_try, " of ",
                      retry.tries, ")\n");
}

Rendered RenderCommand(const CommandReport& report, bool json) {
  const std::vector<std::string> summary = Summary(report);
  if (json) {
    JsonObject object;
    object.String("command", VerbOf(report.kind)).String("command_id", report.command_id);
    object.Raw("effective_at",
               report.effective_at ? JsonString(Rfc3339(*report.effective_at)) : "null");
    if (report.kind == v1::COMMAND_KIND_START) {
      object.Int("pong_time_ms", report.pong_time_ms).String("game_id", report.game_id);
    }
    object.Int("exit_code", report.exit_code).String("summary", absl::StrJoin(summary, "\n"));
    object.Int("tries", static_cast<int64_t>(report.retries.size()) + 1)
        .Raw("retries", JsonRetries(report.retries));
    for (const InstanceReport& instance : report.instances) {
      const v1::GameStatus* status = instance.status ? &*instance.status : nullptr;
      object.Raw(instance.label,
                 JsonObject()
                     .String("address", instance.address)
                     .String("outcome", ToString(instance.outcome))
                     .Raw("phase", instance.phase == v1::COMMAND_PHASE_UNSPECIFIED
                                       ? "null"
                                       : JsonString(PhaseName(instance.phase)))
                     .Raw("state", status ? JsonString(StateName(status->state())) : "null")
                     .String("message", instance.message)
                     .Raw("error", JsonError(instance.error))
                     .Raw("cancel_error", JsonError(instance.cancel_error))
                     .Raw("status", JsonStatus(status))
                     .Render());
    }
    return {object.Render() + "\n", ""};
  }
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < report.instances.size(); ++i) {
    const InstanceReport& instance = report.instances[i];
    const v1::GameStatus* status = instance.status ? &*instance.status : nullptr;
    rows.push_back({LabelOf(instance.label, status), instance.address,
                    std::string(ToString(instance.outcome)), StateOf(instance.status),
                    Detail(report, instance, report.kind == v1::COMMAND_KIND_START && i == 0)});
  }
  return {Table(rows), Prefixed(summary)};
}

Rendered RenderStatus(const StatusReport& report, bool json) {
  if (json) {
    JsonObject object;
    object.Int("exit_code", report.exit_code);
    for (const InstanceStatus& instance : report.instances) {
      const v1::GameStatus* status = instance.status.ok() ? &*instance.status : nullptr;
      object.Raw(instance.label, JsonObject()
                                     .String("address", instance.address)
                                     .Raw("status", JsonStatus(status))
                                     .Raw("error", JsonError(instance.status.status()))
                                     .Render());
    }
    return {object.Render() + "\n", ""};
  }
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> failures;
  for (const InstanceStatus& instance : report.instances) {
    std::vector<std::string> row;
    if (instance.status.ok()) {
      row = {LabelOf(instance.label, &*instance.status), instance.address};
      const std::vector<std::string> parts = StatusParts(*instance.status);
      row.push_back(parts[0]);
      row.push_back(absl::StrJoin(parts.begin() + 1, parts.end(), "  "));
    } else {
      row = {instance.label, instance.address, "?", ErrorText(instance.status.status())};
      failures.push_back(absl::StrCat(instance.label, " (", instance.address,
                                      ") did not answer: ", ErrorText(instance.status.status())));
    }
    rows.push_back(std::move(row));
    if (instance.status.ok() && instance.status->ball() == v1::BALL_LOST) {
      failures.push_back(
          absl::StrCat(instance.label,
                       " lost the ball: its peer's ping is overdue. If the peer is down, "
                       "restart it; then recover with: pong-cli stop && pong-cli start ",
                       instance.status->pong_time_ms()));
    }
  }
  return {Table(rows), Prefixed(failures)};
}

std::string RenderUsageError(const absl::Status& error) {
  return absl::StrCat("pong-cli: ", OneLine(error.message()), " (run 'pong-cli --help')\n");
}

}  // namespace pong::cli
