#ifndef PONG_SERVER_PEER_LINK_H_
#define PONG_SERVER_PEER_LINK_H_

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/core/game.h"
#include "server/http_client.h"
#include "server/ping_auth.h"

namespace pong {

// HOST:PORT, split and checked.
struct HostPort {
  std::string host;
  int port = 0;
  std::string ToString() const;
};
absl::StatusOr<HostPort> ParseHostPort(absl::string_view text);

// Carries game pings and paired commands' asks to the peer. Send is called by one thread
// at a time, and Confirm by one (another) thread at a time.
class PeerLink {
 public:
  virtual ~PeerLink() = default;
  // Blocks until the peer answered or the attempt failed (bounded by timeouts).
  virtual SendResult Send(const GamePing& ping) = 0;
  // Asks the peer whether it has a paired command too; blocks up to ask.wait or so.
  virtual ConfirmReply Confirm(const ConfirmAsk& ask) = 0;
  // Makes a Send in progress on another thread return at once (for shutdown).
  virtual void Interrupt() {}
  // Closes a kept-alive connection that will idle for long; the next Send opens another.
  // Called by the thread that sends.
  virtual void Close() {}
  // Opens the connection the next Send will use, if there is none, waiting at most
  // `connect_timeout`: called a moment before a ping that would otherwise wait for the
  // handshake. A failure is left to that Send. Called by the thread that sends.
  virtual void Prepare(std::chrono::milliseconds /*connect_timeout*/) {}
};

// GET /ping?game=..&seq=..&ms=.. (and &mac=.. with a pair secret) over one kept-alive
// connection with Nagle off; it reconnects by itself when the peer closed the connection
// or restarted. Asks (GET /confirm, see server/core/confirm.h) go over a connection of
// their own, made per ask: they are a few per command.
// The peer's HTTP plane closes a connection idle for 1 s; one idle for kIdleReconnect is
// closed here first, so a ping never races the peer's close.
inline constexpr std::chrono::milliseconds kIdleReconnect{750};
class HttpPeerLink final : public PeerLink {
 public:
  // Macs null: pings and asks carry no mac (no pair secret). Two macs for two threads.
  explicit HttpPeerLink(const HostPort& peer, std::unique_ptr<PingMac> ping_mac = nullptr,
                        std::unique_ptr<PingMac> confirm_mac = nullptr);
  ~HttpPeerLink() override;
  SendResult Send(const GamePing& ping) override;
  ConfirmReply Confirm(const ConfirmAsk& ask) override;
  void Interrupt() override;
  void Close() override;
  void Prepare(std::chrono::milliseconds connect_timeout) override;

 private:
  // Closes the kept connection if unused for kIdleReconnect, before the peer closes it.
  void CloseIfIdle(std::chrono::steady_clock::time_point now);

  HttpConnection connection_;
  const std::unique_ptr<PingMac> mac_;
  HttpConnection confirm_connection_;
  const std::unique_ptr<PingMac> confirm_mac_;
  std::string path_;  // reused buffer
  std::chrono::steady_clock::time_point last_used_{};
};

}  // namespace pong

#endif  // PONG_SERVER_PEER_LINK_H_
