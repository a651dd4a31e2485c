#include "server/ping_query.h"

#include <initializer_list>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace pong {
namespace {

absl::StatusOr<std::optional<absl::string_view>> Param(const QueryParams& params,
                                                       absl::string_view name) {
  std::optional<absl::string_view> found;
  for (const auto& [key, value] : params) {
    if (key != name) continue;
    if (found) return absl::InvalidArgumentError(absl::StrCat(name, " is given more than once"));
    found = value;
  }
  return found;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string Decode(absl::string_view text) {
  std::string decoded;
  decoded.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      decoded.push_back(' ');
    } else if (text[i] == '%' && i + 2 < text.size() && HexDigit(text[i + 1]) >= 0 &&
               HexDigit(text[i + 2]) >= 0) {
      decoded.push_back(static_cast<char>(HexDigit(text[i + 1]) * 16 + HexDigit(text[i + 2])));
      i += 2;
    } else {
      decoded.push_back(text[i]);
    }
  }
  return decoded;
}

// Reads the named parameters into the fields of a Query.
template <typename Query>
absl::StatusOr<Query> ReadQuery(
    const QueryParams& params,
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

QueryParams ParseQueryString(absl::string_view query) {
  QueryParams params;
  for (const absl::string_view part : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    const size_t equals = part.find('=');
    params.emplace_back(Decode(part.substr(0, equals)),
                        equals == absl::string_view::npos ? "" : Decode(part.substr(equals + 1)));
  }
  return params;
}

absl::StatusOr<PingQuery> ReadPingQuery(const QueryParams& params) {
  return ReadQuery<PingQuery>(params, {{"game", &PingQuery::game},
                                       {"seq", &PingQuery::seq},
                                       {"ms", &PingQuery::ms},
                                       {"mac", &PingQuery::mac}});
}

absl::StatusOr<ConfirmQuery> ReadConfirmQuery(const QueryParams& params) {
  return ReadQuery<ConfirmQuery>(params, {{"command", &ConfirmQuery::command},
                                          {"kind", &ConfirmQuery::kind},
                                          {"at", &ConfirmQuery::at},
                                          {"mac", &ConfirmQuery::mac}});
}

}  // namespace pong
