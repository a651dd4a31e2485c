#include "tests/faults/lose_pongs_peer_link.h"

#include <cstdlib>
#include <map>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace pong::testing {
namespace {

class LosePongsPeerLink final : public PeerLink {
 public:
  LosePongsPeerLink(const HostPort& peer, std::map<uint64_t, int> to_lose)
      : link_(peer), to_lose_(std::move(to_lose)) {}

  SendResult Send(const GamePing& ping) override {
    SendResult result = link_.Send(ping);
    auto it = to_lose_.find(ping.seq);
    if (result.kind == SendResult::kDelivered && it != to_lose_.end() && it->second > 0) {
      --it->second;
      return SendResult{SendResult::kFailed, {}, "pong lost (fault hook)"};
    }
    return result;
  }
  ConfirmReply Confirm(const ConfirmAsk& ask) override { return link_.Confirm(ask); }
  void Interrupt() override { link_.Interrupt(); }
  void Close() override { link_.Close(); }
  void Prepare(std::chrono::milliseconds connect_timeout) override {
    link_.Prepare(connect_timeout);
  }

 private:
  HttpPeerLink link_;
  std::map<uint64_t, int> to_lose_;  // seq -> replies still to lose
};

}  // namespace

std::unique_ptr<PeerLink> MakeLosePongsPeerLink(const HostPort& peer) {
  std::map<uint64_t, int> to_lose;
  const char* list = std::getenv(kLosePongsEnv);
  for (absl::string_view item :
       absl::StrSplit(list == nullptr ? "" : list, ',', absl::SkipWhitespace())) {
    uint64_t seq = 0;
    if (!absl::SimpleAtoi(item, &seq)) std::abort();  // a broken test setup: fail loudly
    ++to_lose[seq];
  }
  return std::make_unique<LosePongsPeerLink>(peer, std::move(to_lose));
}

}  // namespace pong::testing
