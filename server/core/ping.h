#ifndef PONG_SERVER_CORE_PING_H_
#define PONG_SERVER_CORE_PING_H_

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

// The query parameters of a /ping request, as received (absent = nullopt).
struct PingQuery {
  std::optional<absl::string_view> game;
  std::optional<absl::string_view> seq;
  std::optional<absl::string_view> ms;
};

// nullopt for a bare /ping (no game parameter at all), a GamePing for a well-formed game
// ping, INVALID_ARGUMENT with a one-line reason for anything else.
absl::StatusOr<std::optional<GamePing>> ParsePing(const PingQuery& query);

bool IsValidGameId(absl::string_view id);
absl::Status ValidatePongTimeMs(int64_t pong_time_ms);

}  // namespace pong

#endif  // PONG_SERVER_CORE_PING_H_
