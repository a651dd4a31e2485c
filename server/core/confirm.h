#ifndef PONG_SERVER_CORE_CONFIRM_H_
#define PONG_SERVER_CORE_CONFIRM_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/core/game.h"

namespace pong {

// A paired command's ask on the wire: GET /confirm?command=<id>&kind=<start|pause|resume|
// stop>&at=<effective_at as Unix nanoseconds> (and &mac=.. with a pair secret). The peer
// answers 200 "confirmed", 404 when it does not have the command (yet), 409 with a reason
// when it refuses it.
struct ConfirmQuery {
  std::optional<absl::string_view> command;
  std::optional<absl::string_view> kind;
  std::optional<absl::string_view> at;
  std::optional<absl::string_view> mac;
};

// The path and query of `ask`, without the mac.
std::string ConfirmTarget(const ConfirmAsk& ask);
// The ask a query carries, or INVALID_ARGUMENT with a one-line reason. `wait` is zero.
absl::StatusOr<ConfirmAsk> ParseConfirm(const ConfirmQuery& query);
// The text an ask's mac covers (with --pair_secret_file):
// "pong-confirm-v1\n<command>\n<kind>\n<at>", so it can never pass for a ping's.
std::string ConfirmMacMessage(const ConfirmAsk& ask);

}  // namespace pong

#endif  // PONG_SERVER_CORE_CONFIRM_H_
