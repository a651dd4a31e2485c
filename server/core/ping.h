#ifndef PONG_SERVER_CORE_PING_H_
#define PONG_SERVER_CORE_PING_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pong {

inline constexpr int64_t kMaxPongTimeMs = 3'600'000;
// 128 bits as lowercase hex.
inline constexpr size_t kGameIdLength = 32;

// A game ping: GET /ping?game=<id>&seq=<n>&ms=<pong_time_ms>.
struct GamePing {
  std::string game_id;
  uint64_t seq = 0;
  int64_t pong_time_ms = 0;

  friend bool operator==(const GamePing&, const GamePing&) = default;
};

// The query parameters of a /ping request, as received (absent = nullopt). `mac` is not
// part of the ping itself: only an instance with a pair secret looks at it.
struct PingQuery {
  std::optional<absl::string_view> game;
  std::optional<absl::string_view> seq;
  std::optional<absl::string_view> ms;
  std::optional<absl::string_view> mac;
};

// The text a game ping's mac covers (with --pair_secret_file): the ping's three fields in
// their canonical form, "pong-ping-v1\n<game>\n<seq>\n<ms>", seq and ms in decimal.
// Written into `buffer`, so a ping is signed without allocating; the view points into it.
// A game id longer than kGameIdLength (never valid) is cut to it.
inline constexpr size_t kPingMacMessageCapacity = 13 + kGameIdLength + 1 + 20 + 1 + 20;
using PingMacBuffer = std::array<char, kPingMacMessageCapacity>;
absl::string_view PingMacMessage(const GamePing& ping, PingMacBuffer& buffer);

// nullopt for a bare /ping (no game parameter at all), a GamePing for a well-formed game
// ping, INVALID_ARGUMENT with a one-line reason for anything else.
absl::StatusOr<std::optional<GamePing>> ParsePing(const PingQuery& query);

bool IsValidGameId(absl::string_view id);
// Strict decimal: digits only, no sign, no leading zero, at most `max`.
std::optional<uint64_t> ParseDecimal(absl::string_view text, uint64_t max);
absl::Status ValidatePongTimeMs(int64_t pong_time_ms);

}  // namespace pong

#endif  // PONG_SERVER_CORE_PING_H_
