#ifndef PONG_SERVER_PING_AUTH_H_
#define PONG_SERVER_PING_AUTH_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/core/game.h"
#include "server/core/ping.h"
#include "server/event_log.h"
#include "server/mutex.h"

// OpenSSL's types, kept out of every includer.
struct evp_mac_st;
struct evp_mac_ctx_st;

namespace pong {

// The shortest pair secret pong-server takes: a mac over a ping seen on the network must
// not let anyone guess the secret offline.
inline constexpr size_t kMinPairSecretLength = 16;
// A game ping's mac: HMAC-SHA256 as 64 lowercase hex digits.
inline constexpr size_t kPingMacHexLength = 64;
using PingMacHex = std::array<char, kPingMacHexLength>;
using Sha256Digest = std::array<unsigned char, 32>;

// HMAC-SHA256 under one key (the pair secret), with one OpenSSL context that is keyed
// once and re-initialised per message: no context or key set-up per ping. Not
// thread-safe: one thread at a time.
class PingMac {
 public:
  // INTERNAL if OpenSSL has no HMAC-SHA256.
  static absl::StatusOr<std::unique_ptr<PingMac>> Create(absl::string_view key);
  ~PingMac();
  PingMac(const PingMac&) = delete;
  PingMac& operator=(const PingMac&) = delete;

  // HMAC-SHA256(key, message).
  Sha256Digest Compute(absl::string_view message);
  // HMAC-SHA256(key, message) as lowercase hex.
  PingMacHex Sign(absl::string_view message);
  // The mac a ping carries: over PingMacMessage(ping).
  PingMacHex Sign(const GamePing& ping);
  // Whether `mac` is Sign(message), compared in constant time (its length aside).
  bool Verify(absl::string_view message, absl::string_view mac);
  bool Verify(const GamePing& ping, absl::string_view mac);

 private:
  PingMac() = default;

  evp_mac_st* mac_ = nullptr;
  evp_mac_ctx_st* ctx_ = nullptr;
};

// The HTTP plane's gate for game pings and paired commands' asks on an instance with a
// pair secret. One without a valid mac is refused before it reaches the engine; refusals
// are counted and logged at most once per kRefusalLogInterval, never with the game id,
// the command id or the mac. Thread-safe.
class PingGuard {
 public:
  static constexpr absl::Duration kRefusalLogInterval = absl::Seconds(1);

  PingGuard(std::unique_ptr<PingMac> mac, EventLog& log);

  // true when `mac` authenticates `ping`.
  bool Admit(const GamePing& ping, std::optional<absl::string_view> mac) ABSL_LOCKS_EXCLUDED(mu_);
  // true when `mac` authenticates the ask (over ConfirmMacMessage).
  bool Admit(const ConfirmAsk& ask, std::optional<absl::string_view> mac) ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

 private:
  // Counts and logs a refusal of `what`; false.
  bool Refuse(absl::string_view what) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Mutex mu_;
  const std::unique_ptr<PingMac> mac_ ABSL_PT_GUARDED_BY(mu_);
  EventLog& log_;
  std::atomic<uint64_t> refused_{0};
  absl::Time last_logged_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace pong

#endif  // PONG_SERVER_PING_AUTH_H_
