#include "server/authorizer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace pong {
namespace {

constexpr absl::string_view kBearer = "Bearer ";

absl::Status Unreadable(absl::string_view flag, const std::string& path, absl::string_view why) {
  return absl::FailedPreconditionError(absl::StrCat(flag, " ", path, " cannot be read: ", why));
}

}  // namespace

absl::StatusOr<std::string> ReadFlagFile(absl::string_view flag, const std::string& path,
                                         const FlagFileRules& rules) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Unreadable(flag, path, std::strerror(errno));
  std::string content;
  struct stat info {};
  const auto fail = [&](absl::Status status) {
    close(fd);
    return status;
  };
  if (fstat(fd, &info) != 0) return fail(Unreadable(flag, path, std::strerror(errno)));
  if (!S_ISREG(info.st_mode)) return fail(Unreadable(flag, path, "not a regular file"));
  if ((info.st_mode & rules.forbidden_mode) != 0) {
    return fail(absl::FailedPreconditionError(
        absl::StrFormat("%s %s is readable by %s (mode %04o); chmod %o it", flag, path,
                        (rules.forbidden_mode & 070) != 0 ? "group or others" : "others",
                        info.st_mode & 07777, info.st_mode & 07777 & ~rules.forbidden_mode)));
  }
  // Reads a byte past the limit, to tell a file of exactly max_size from a larger one.
  std::string buffer(rules.max_size + 1, '\0');
  ssize_t n = 0;
  while ((n = read(fd, buffer.data(), buffer.size())) > 0) {
    content.append(buffer.data(), static_cast<size_t>(n));
    if (content.size() > rules.max_size) {
      return fail(Unreadable(flag, path, absl::StrCat("larger than ", rules.max_size, " bytes")));
    }
  }
  if (n < 0) return fail(Unreadable(flag, path, std::strerror(errno)));
  close(fd);
  return content;
}

absl::StatusOr<std::string> ReadSecretFile(absl::string_view flag, const std::string& path) {
  // Far above any sensible secret; keeps a wrong path (a device, a huge file) from hurting.
  absl::StatusOr<std::string> content = ReadFlagFile(flag, path, FlagFileRules{4096, 077});
  if (!content.ok()) return content.status();
  std::string secret(absl::StripAsciiWhitespace(*content));
  if (secret.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(flag, " ", path, " is empty; put the secret in it"));
  }
  return secret;
}

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  // Every byte of the longer one is visited and folded in; no early exit on content.
  const size_t n = std::max(a.size(), b.size());
  unsigned int diff = a.size() == b.size() ? 0u : 1u;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned int>(x ^ y);
  }
  return diff == 0;
}

Authorizer::Authorizer(std::string token, EventLog& log) : token_(std::move(token)), log_(log) {}

grpc::Status Authorizer::Check(const grpc::CallbackServerContext& context,
                               absl::string_view method) const {
  if (token_.empty()) return grpc::Status::OK;
  const auto& metadata = context.client_metadata();
  const auto it = metadata.find("authorization");
  bool ok = false;
  if (it != metadata.end()) {
    const absl::string_view value(it->second.data(), it->second.size());
    ok = value.size() >= kBearer.size() && value.substr(0, kBearer.size()) == kBearer &&
         ConstantTimeEquals(value.substr(kBearer.size()), token_);
  }
  if (ok) return grpc::Status::OK;
  log_.Write(absl::Now(), absl::StrCat("control call rejected: unauthenticated ", method));
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                      "missing or wrong control token (send \"authorization: Bearer <token>\")");
}

}  // namespace pong
