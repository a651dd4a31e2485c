#ifndef PONG_SERVER_PING_QUERY_H_
#define PONG_SERVER_PING_QUERY_H_

#include <httplib.h>

#include "absl/status/statusor.h"
#include "server/core/confirm.h"
#include "server/core/ping.h"

namespace pong {

// The game, seq, ms and mac parameters of a /ping request as httplib decoded them. A repeated
// parameter is ambiguous and counts as malformed (INVALID_ARGUMENT). The views point into
// `params`. Apart from the HTTP plane so the query path can be fuzzed without a socket.
absl::StatusOr<PingQuery> ReadPingQuery(const httplib::Params& params);
// The command, kind, at and mac parameters of a /confirm request, by the same rules.
absl::StatusOr<ConfirmQuery> ReadConfirmQuery(const httplib::Params& params);

}  // namespace pong

#endif  // PONG_SERVER_PING_QUERY_H_
