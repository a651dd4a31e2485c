#include "server/core/confirm.h"

#include <cstdint>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "server/core/ping.h"

namespace pong {

std::string ConfirmTarget(const ConfirmAsk& ask) {
  return absl::StrCat("/confirm?command=", ask.command_id, "&kind=", ToString(ask.kind),
                      "&at=", absl::ToUnixNanos(ask.effective_at));
}

absl::StatusOr<ConfirmAsk> ParseConfirm(const ConfirmQuery& query) {
  if (!query.command || !query.kind || !query.at) {
    return absl::InvalidArgumentError("a confirm needs command, kind and at");
  }
  if (!IsValidCommandId(*query.command)) {
    return absl::InvalidArgumentError(absl::StrCat("command must be 1 to ", kMaxCommandIdLength,
                                                   " characters of [A-Za-z0-9._:-]"));
  }
  const std::optional<CommandKind> kind = ParseCommandKind(*query.kind);
  if (!kind) return absl::InvalidArgumentError("kind must be start, pause, resume or stop");
  const std::optional<uint64_t> at = ParseDecimal(*query.at, std::numeric_limits<int64_t>::max());
  if (!at) {
    return absl::InvalidArgumentError("at must be Unix nanoseconds, a whole number below 2^63");
  }
  return ConfirmAsk{
      std::string(*query.command), *kind, absl::FromUnixNanos(static_cast<int64_t>(*at)), {}};
}

std::string ConfirmMacMessage(const ConfirmAsk& ask) {
  return absl::StrCat("pong-confirm-v1\n", ask.command_id, "\n", ToString(ask.kind), "\n",
                      absl::ToUnixNanos(ask.effective_at));
}

}  // namespace pong
