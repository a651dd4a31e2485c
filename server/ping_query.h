#ifndef PONG_SERVER_PING_QUERY_H_
#define PONG_SERVER_PING_QUERY_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/core/confirm.h"
#include "server/core/ping.h"

namespace pong {

// A request's query parameters, decoded, in their order (a name may come more than once).
using QueryParams = std::vector<std::pair<std::string, std::string>>;

// Splits "a=1&b=2" at '&' and the first '=' of each part (a part without one is a name
// with an empty value; empty parts are skipped) and decodes both sides: "%XX" is the byte
// XX, '+' a space; a '%' not followed by two hex digits stays as it is.
QueryParams ParseQueryString(absl::string_view query);

// The game, seq, ms and mac parameters of a /ping request. A repeated parameter is
// ambiguous and counts as malformed (INVALID_ARGUMENT). The views point into `params`.
// Apart from the HTTP plane so the query path can be fuzzed without a socket.
absl::StatusOr<PingQuery> ReadPingQuery(const QueryParams& params);
// The command, kind, at and mac parameters of a /confirm request, by the same rules.
absl::StatusOr<ConfirmQuery> ReadConfirmQuery(const QueryParams& params);

}  // namespace pong

#endif  // PONG_SERVER_PING_QUERY_H_
