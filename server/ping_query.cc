#include "server/ping_query.h"

#include <iterator>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace pong {
namespace {

absl::StatusOr<std::optional<absl::string_view>> Param(const httplib::Params& params,
                                                       const char* name) {
  const auto [first, last] = params.equal_range(name);
  if (first == last) return std::optional<absl::string_view>();
  if (std::next(first) != last) {
    return absl::InvalidArgumentError(absl::StrCat(name, " is given more than once"));
  }
  return std::optional<absl::string_view>(first->second);
}

}  // namespace

absl::StatusOr<PingQuery> ReadPingQuery(const httplib::Params& params) {
  PingQuery query;
  for (const auto& [name, field] :
       {std::pair{"game", &PingQuery::game}, std::pair{"seq", &PingQuery::seq},
        std::pair{"ms", &PingQuery::ms}, std::pair{"mac", &PingQuery::mac}}) {
    absl::StatusOr<std::optional<absl::string_view>> value = Param(params, name);
    if (!value.ok()) return value.status();
    query.*field = *value;
  }
  return query;
}

}  // namespace pong
