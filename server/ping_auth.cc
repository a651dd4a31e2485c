#include "server/ping_auth.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/core/confirm.h"

namespace pong {

absl::StatusOr<std::unique_ptr<PingMac>> PingMac::Create(absl::string_view key) {
  std::unique_ptr<PingMac> mac(new PingMac());
  mac->mac_ = EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr);
  if (mac->mac_ != nullptr) mac->ctx_ = EVP_MAC_CTX_new(mac->mac_);
  char digest[] = OSSL_DIGEST_NAME_SHA2_256;
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_END};
  if (mac->ctx_ == nullptr ||
      EVP_MAC_init(mac->ctx_, reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                   params) != 1) {
    return absl::InternalError("OpenSSL cannot make an HMAC-SHA256 context");
  }
  return mac;
}

PingMac::~PingMac() {
  EVP_MAC_CTX_free(ctx_);
  EVP_MAC_free(mac_);
}

Sha256Digest PingMac::Compute(absl::string_view message) {
  Sha256Digest digest{};
  size_t length = 0;
  // A null key re-initialises the context with the key it has (OpenSSL 3's HMAC).
  const bool ok = EVP_MAC_init(ctx_, nullptr, 0, nullptr) == 1 &&
                  EVP_MAC_update(ctx_, reinterpret_cast<const unsigned char*>(message.data()),
                                 message.size()) == 1 &&
                  EVP_MAC_final(ctx_, digest.data(), &length, digest.size()) == 1 &&
                  length == digest.size();
  // Cannot happen with a context Create made; an all-zero mac then matches no honest one.
  if (!ok) digest.fill(0);
  return digest;
}

PingMacHex PingMac::Sign(const GamePing& ping) {
  PingMacBuffer buffer;
  return Sign(PingMacMessage(ping, buffer));
}

PingMacHex PingMac::Sign(absl::string_view message) {
  const Sha256Digest digest = Compute(message);
  constexpr char kHex[] = "0123456789abcdef";
  PingMacHex hex;
  for (size_t i = 0; i < digest.size(); ++i) {
    hex[2 * i] = kHex[digest[i] >> 4];
    hex[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return hex;
}

bool PingMac::Verify(const GamePing& ping, absl::string_view mac) {
  PingMacBuffer buffer;
  return Verify(PingMacMessage(ping, buffer), mac);
}

bool PingMac::Verify(absl::string_view message, absl::string_view mac) {
  if (mac.size() != kPingMacHexLength) return false;
  const PingMacHex expected = Sign(message);
  return CRYPTO_memcmp(expected.data(), mac.data(), expected.size()) == 0;
}

PingGuard::PingGuard(std::unique_ptr<PingMac> mac, EventLog& log)
    : mac_(std::move(mac)), log_(log) {}

bool PingGuard::Admit(const GamePing& ping, std::optional<absl::string_view> mac) {
  MutexLock lock(mu_);
  if (mac && mac_->Verify(ping, *mac)) return true;
  return Refuse("game ping");
}

bool PingGuard::Admit(const ConfirmAsk& ask, std::optional<absl::string_view> mac) {
  MutexLock lock(mu_);
  if (mac && mac_->Verify(ConfirmMacMessage(ask), *mac)) return true;
  return Refuse("confirm");
}

bool PingGuard::Refuse(absl::string_view what) {
  const uint64_t refused = refused_.fetch_add(1, std::memory_order_relaxed) + 1;
  const absl::Time now = absl::Now();
  if (now - last_logged_ >= kRefusalLogInterval) {
    last_logged_ = now;
    log_.Write(now,
               absl::StrCat(what, " refused: missing or wrong mac (403), ", refused, " so far"));
  }
  return false;
}

}  // namespace pong
