#include "server/peer_link.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/core/confirm.h"

namespace pong {

using std::chrono_literals::operator""ms;

namespace {

// The peer's reason, fit for one log line and a proto string: its first line, printable
// ASCII only, at most 120 characters.
std::string FirstLine(absl::string_view body) {
  std::string line;
  for (char c : body.substr(0, 120)) {
    if (c == '\n' || c == '\r') break;
    line.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  }
  return line;
}

}  // namespace

std::string HostPort::ToString() const { return absl::StrCat(host, ":", port); }

absl::StatusOr<HostPort> ParseHostPort(absl::string_view text) {
  const size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" is not HOST:PORT (e.g. 127.0.0.1:8082)"));
  }
  int port = 0;
  const absl::string_view port_text = text.substr(colon + 1);
  if (!absl::SimpleAtoi(port_text, &port) || port < 1 || port > 65535 ||
      port_text.find_first_not_of("0123456789") != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\": the port must be a number from 1 to 65535"));
  }
  return HostPort{std::string(text.substr(0, colon)), port};
}

HttpPeerLink::HttpPeerLink(const HostPort& peer, std::unique_ptr<PingMac> ping_mac,
                           std::unique_ptr<PingMac> confirm_mac)
    : connection_(peer.host, peer.port),
      mac_(std::move(ping_mac)),
      confirm_connection_(peer.host, peer.port),
      confirm_mac_(std::move(confirm_mac)) {}

HttpPeerLink::~HttpPeerLink() = default;

void HttpPeerLink::Interrupt() {
  connection_.Interrupt();
  confirm_connection_.Interrupt();
}

void HttpPeerLink::Close() { connection_.Close(); }

void HttpPeerLink::CloseIfIdle(std::chrono::steady_clock::time_point now) {
  if (now - last_used_ > kIdleReconnect) connection_.Close();
}

void HttpPeerLink::Prepare(std::chrono::milliseconds connect_timeout) {
  const auto now = std::chrono::steady_clock::now();
  CloseIfIdle(now);
  if (connection_.Open(connect_timeout).ok()) last_used_ = now;
}

SendResult HttpPeerLink::Send(const GamePing& ping) {
  path_.clear();
  absl::StrAppend(&path_, "/ping?game=", ping.game_id, "&seq=", ping.seq,
                  "&ms=", ping.pong_time_ms);
  if (mac_ != nullptr) {
    const PingMacHex mac = mac_->Sign(ping);
    absl::StrAppend(&path_, "&mac=", absl::string_view(mac.data(), mac.size()));
  }
  const auto start = std::chrono::steady_clock::now();
  CloseIfIdle(start);
  const absl::StatusOr<HttpReply> res = connection_.Get(path_, HttpConnection::Timeouts{});
  last_used_ = std::chrono::steady_clock::now();
  const auto rtt = last_used_ - start;
  if (!res.ok()) return SendResult{SendResult::kFailed, {}, std::string(res.status().message())};
  if (res->status == 200 && res->body == "pong") return SendResult{SendResult::kDelivered, rtt, {}};
  const bool game_over = res->status == 409 && absl::StartsWith(res->body, kGameStopped);
  return SendResult{game_over ? SendResult::kGameOver : SendResult::kRefused,
                    {},
                    absl::StrCat("HTTP ", res->status, " ", FirstLine(res->body))};
}

ConfirmReply HttpPeerLink::Confirm(const ConfirmAsk& ask) {
  std::string target = ConfirmTarget(ask);
  if (confirm_mac_ != nullptr) {
    const PingMacHex mac = confirm_mac_->Sign(ConfirmMacMessage(ask));
    absl::StrAppend(&target, "&mac=", absl::string_view(mac.data(), mac.size()));
  }
  HttpConnection::Timeouts timeouts;
  timeouts.reply = std::chrono::duration_cast<std::chrono::microseconds>(ask.wait);
  timeouts.connect = std::min(std::chrono::ceil<std::chrono::milliseconds>(ask.wait), 250ms);
  const absl::StatusOr<HttpReply> res = confirm_connection_.Get(target, timeouts);
  // Asks are a few per command: no connection is left for the peer to keep open.
  confirm_connection_.Close();
  if (!res.ok()) return ConfirmReply{ConfirmReply::kFailed, std::string(res.status().message())};
  const std::string reason = absl::StrCat("HTTP ", res->status, " ", FirstLine(res->body));
  switch (res->status) {
    case 200:
      if (res->body == "confirmed") return ConfirmReply{ConfirmReply::kConfirmed, ""};
      break;
    case 404:
      return ConfirmReply{ConfirmReply::kUnknown, reason};
    case 409:
      return ConfirmReply{ConfirmReply::kRefused, reason};
  }
  return ConfirmReply{ConfirmReply::kFailed, reason};
}

}  // namespace pong
