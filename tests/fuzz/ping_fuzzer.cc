// libFuzzer target for everything that parses what the HTTP plane takes: game pings and
// paired commands' asks (/confirm).
//
// The first byte picks the path. Bit 6 set: the rest is a /confirm query string, read by
// ReadConfirmQuery and ParseConfirm. Else bit 3 clear: bits 0-2 say which of game, seq
// and ms are present, and the rest holds their values separated by '\0' (ParsePing
// directly). Bit 3 set: the rest is a raw query string, decoded by ParseQueryString as the
// server does and read by ReadPingQuery. Bit 7 set: the rest is the bytes of a request as
// a client sends them, through RequestHeadScanner and ParseRequestHead. Seeds start with
// '7' (all three present), '?' (a ping query string), 'p' (a confirm query string) or
// 0x80 (a request).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "server/core/confirm.h"
#include "server/core/game.h"
#include "server/core/ping.h"
#include "server/ping_query.h"
#include "server/request_head.h"
#include "tests/fuzz/fuzz_check.h"

namespace pong {
namespace {

// What must hold of ParsePing's answer to `query`, whatever the input.
void CheckParse(const PingQuery& query) {
  const absl::StatusOr<std::optional<GamePing>> parsed = ParsePing(query);
  const bool bare = !query.game && !query.seq && !query.ms;
  if (!parsed.ok()) {
    PONG_FUZZ_CHECK(!bare);
    PONG_FUZZ_CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument);
    // The reason goes into a one-line 400 body.
    PONG_FUZZ_CHECK(!parsed.status().message().empty());
    PONG_FUZZ_CHECK(parsed.status().message().find('\n') == absl::string_view::npos);
    return;
  }
  if (!parsed->has_value()) {
    PONG_FUZZ_CHECK(bare);
    return;
  }
  const GamePing& ping = **parsed;
  PONG_FUZZ_CHECK(query.game && query.seq && query.ms);
  PONG_FUZZ_CHECK(IsValidGameId(ping.game_id));
  PONG_FUZZ_CHECK(ping.seq >= 1);
  PONG_FUZZ_CHECK(ping.seq <= static_cast<uint64_t>(INT64_MAX));
  PONG_FUZZ_CHECK(ping.pong_time_ms >= 0 && ping.pong_time_ms <= kMaxPongTimeMs);
  PONG_FUZZ_CHECK(ValidatePongTimeMs(ping.pong_time_ms).ok());
  // Strict: each value is exactly the canonical text of what was parsed (no sign, no
  // leading zero, no whitespace, no trailing bytes).
  PONG_FUZZ_CHECK(ping.game_id == *query.game);
  PONG_FUZZ_CHECK(absl::StrCat(ping.seq) == *query.seq);
  PONG_FUZZ_CHECK(absl::StrCat(ping.pong_time_ms) == *query.ms);
}

void FuzzValues(uint8_t present, absl::string_view rest) {
  std::optional<absl::string_view> values[3];
  for (int i = 0; i < 3; ++i) {
    const size_t end = i < 2 ? rest.find('\0') : absl::string_view::npos;
    const absl::string_view value = rest.substr(0, end);
    rest.remove_prefix(end == absl::string_view::npos ? rest.size() : end + 1);
    if (present & (1u << i)) values[i] = value;
  }
  CheckParse(PingQuery{values[0], values[1], values[2], std::nullopt});
}

void FuzzQueryString(absl::string_view text) {
  const QueryParams params = ParseQueryString(text);
  const absl::StatusOr<PingQuery> query = ReadPingQuery(params);
  const auto count = [&](const char* name) {
    return std::count_if(params.begin(), params.end(),
                         [&](const auto& param) { return param.first == name; });
  };
  if (!query.ok()) {
    PONG_FUZZ_CHECK(query.status().code() == absl::StatusCode::kInvalidArgument);
    PONG_FUZZ_CHECK(count("game") > 1 || count("seq") > 1 || count("ms") > 1 || count("mac") > 1);
    return;
  }
  PONG_FUZZ_CHECK(query->game.has_value() == (count("game") == 1));
  PONG_FUZZ_CHECK(query->seq.has_value() == (count("seq") == 1));
  PONG_FUZZ_CHECK(query->ms.has_value() == (count("ms") == 1));
  PONG_FUZZ_CHECK(query->mac.has_value() == (count("mac") == 1));
  CheckParse(*query);
}

// A /confirm query: a parsed ask is exactly what its own target says, field by field.
void FuzzConfirmQueryString(absl::string_view text) {
  const QueryParams params = ParseQueryString(text);  // the query's views point into it
  const absl::StatusOr<ConfirmQuery> query = ReadConfirmQuery(params);
  if (!query.ok()) {
    PONG_FUZZ_CHECK(query.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  const absl::StatusOr<ConfirmAsk> ask = ParseConfirm(*query);
  if (!ask.ok()) {
    PONG_FUZZ_CHECK(ask.status().code() == absl::StatusCode::kInvalidArgument);
    PONG_FUZZ_CHECK(ask.status().message().find('\n') == absl::string_view::npos);
    return;
  }
  PONG_FUZZ_CHECK(IsValidCommandId(ask->command_id));
  PONG_FUZZ_CHECK(ask->command_id == *query->command);
  PONG_FUZZ_CHECK(ToString(ask->kind) == *query->kind);
  PONG_FUZZ_CHECK(absl::StrCat(absl::ToUnixNanos(ask->effective_at)) == *query->at);
  const std::string target = ConfirmTarget(*ask);
  PONG_FUZZ_CHECK(target == absl::StrCat("/confirm?command=", *query->command,
                                         "&kind=", *query->kind, "&at=", *query->at));
}

// The bytes of a request, as the HTTP plane reads them (limits 8 KiB and 1 KiB): a head
// the scanner passes parses into a request line within it and a body within the limit.
void FuzzRequest(absl::string_view bytes) {
  constexpr size_t kMaxHead = 8192;
  constexpr size_t kMaxBody = 1024;
  RequestHeadScanner scanner(kMaxHead, kMaxBody);
  // In two pieces, as two reads would bring them.
  const size_t split = bytes.empty() ? 0 : static_cast<uint8_t>(bytes[0]) % bytes.size();
  RequestHeadScanner::Verdict verdict = scanner.Feed(bytes.substr(0, split));
  if (verdict == RequestHeadScanner::Verdict::kReading) verdict = scanner.Feed(bytes.substr(split));
  if (verdict != RequestHeadScanner::Verdict::kComplete) return;
  PONG_FUZZ_CHECK(scanner.head_bytes() <= std::min(bytes.size(), kMaxHead));
  const absl::string_view head = bytes.substr(0, scanner.head_bytes());
  PONG_FUZZ_CHECK(!head.empty() && head.back() == '\n');
  const absl::StatusOr<RequestHead> parsed = ParseRequestHead(head);
  if (!parsed.ok()) {
    PONG_FUZZ_CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  PONG_FUZZ_CHECK(!parsed->method.empty() && !parsed->target.empty());
  PONG_FUZZ_CHECK(head.find(parsed->target) != absl::string_view::npos);
  PONG_FUZZ_CHECK(parsed->content_length <= kMaxBody);
  const size_t question = parsed->target.find('?');
  if (question != std::string::npos) {
    (void)ParseQueryString(absl::string_view(parsed->target).substr(question + 1));
  }
}

}  // namespace
}  // namespace pong

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const absl::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 0x80) {
    pong::FuzzRequest(rest);
  } else if (data[0] & 0x40) {
    pong::FuzzConfirmQueryString(rest);
  } else if (data[0] & 0x08) {
    pong::FuzzQueryString(rest);
  } else {
    pong::FuzzValues(data[0], rest);
  }
  return 0;
}
