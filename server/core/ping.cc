#include "server/core/ping.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace pong {
std::optional<uint64_t> ParseDecimal(absl::string_view text, uint64_t max) {
  if (text.empty() || text.size() > 20 || (text.size() > 1 && text[0] == '0')) {
    return std::nullopt;
  }
  uint64_t value = 0;
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (max - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

bool IsValidGameId(absl::string_view id) {
  if (id.size() != kGameIdLength) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

absl::Status ValidatePongTimeMs(int64_t pong_time_ms) {
  if (pong_time_ms < 0 || pong_time_ms > kMaxPongTimeMs) {
    return absl::InvalidArgumentError(
        absl::StrCat("pong_time_ms must be from 0 to ", kMaxPongTimeMs, ", got ", pong_time_ms));
  }
  return absl::OkStatus();
}

absl::string_view PingMacMessage(const GamePing& ping, PingMacBuffer& buffer) {
  constexpr absl::string_view kVersion = "pong-ping-v1\n";
  char* out = buffer.data();
  char* const end = buffer.data() + buffer.size();
  std::memcpy(out, kVersion.data(), kVersion.size());
  out += kVersion.size();
  const size_t id_length = std::min(ping.game_id.size(), kGameIdLength);
  std::memcpy(out, ping.game_id.data(), id_length);
  out += id_length;
  *out++ = '\n';
  out = std::to_chars(out, end, ping.seq).ptr;
  *out++ = '\n';
  out = std::to_chars(out, end, ping.pong_time_ms).ptr;
  return absl::string_view(buffer.data(), static_cast<size_t>(out - buffer.data()));
}

absl::StatusOr<std::optional<GamePing>> ParsePing(const PingQuery& query) {
  if (!query.game && !query.seq && !query.ms) return std::optional<GamePing>();
  if (!query.game || !query.seq || !query.ms) {
    return absl::InvalidArgumentError("a game ping needs game, seq and ms");
  }
  if (!IsValidGameId(*query.game)) {
    return absl::InvalidArgumentError("game must be 32 lowercase hex digits");
  }
  const std::optional<uint64_t> seq = ParseDecimal(*query.seq, std::numeric_limits<int64_t>::max());
  if (!seq || *seq == 0) {
    return absl::InvalidArgumentError("seq must be a whole number from 1 to 2^63-1");
  }
  const std::optional<uint64_t> ms = ParseDecimal(*query.ms, kMaxPongTimeMs);
  if (!ms) {
    return absl::InvalidArgumentError(
        absl::StrCat("ms must be a whole number from 0 to ", kMaxPongTimeMs));
  }
  return std::optional<GamePing>(
      GamePing{std::string(*query.game), *seq, static_cast<int64_t>(*ms)});
}

}  // namespace pong
