#include "server/ping_query.h"

#include <initializer_list>
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

// Reads the named parameters into the fields of a Query.
template <typename Query>
absl::StatusOr<Query> ReadQuery(
    const httplib::Params& params,
    std::initializer_list<std::pair<const char*, std::optional<absl::string_view> Query::*>>
        fields) {
  Query query;
  for (const auto& [name, field] : fields) {
    absl::StatusOr<std::optional<absl::string_view>> value = Param(params, name);
    if (!value.ok()) return value.status();
    query.*field = *value;
  }
  return query;
}

}  // namespace

absl::StatusOr<PingQuery> ReadPingQuery(const httplib::Params& params) {
  return ReadQuery<PingQuery>(params, {{"game", &PingQuery::game},
                                       {"seq", &PingQuery::seq},
                                       {"ms", &PingQuery::ms},
                                       {"mac", &PingQuery::mac}});
}

absl::StatusOr<ConfirmQuery> ReadConfirmQuery(const httplib::Params& params) {
  return ReadQuery<ConfirmQuery>(params, {{"command", &ConfirmQuery::command},
                                          {"kind", &ConfirmQuery::kind},
                                          {"at", &ConfirmQuery::at},
                                          {"mac", &ConfirmQuery::mac}});
}

}  // namespace pong
