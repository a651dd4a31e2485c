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
// Far above any sensible token; keeps a wrong path (a device, a huge file) from hurting.
constexpr size_t kMaxTokenFileSize = 4096;

absl::Status Unreadable(const std::string& path, absl::string_view why) {
  return absl::FailedPreconditionError(
      absl::StrCat("--control_token_file ", path, " cannot be read: ", why));
}

}  // namespace

absl::StatusOr<std::string> ReadControlTokenFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Unreadable(path, std::strerror(errno));
  std::string content;
  struct stat info {};
  const auto fail = [&](absl::Status status) {
    close(fd);
    return status;
  };
  if (fstat(fd, &info) != 0) return fail(Unreadable(path, std::strerror(errno)));
  if (!S_ISREG(info.st_mode)) return fail(Unreadable(path, "not a regular file"));
  if ((info.st_mode & 077) != 0) {
    return fail(absl::FailedPreconditionError(
        absl::StrFormat("--control_token_file %s is readable by group or others (mode %04o); "
                        "chmod 600 it",
                        path, info.st_mode & 07777)));
  }
  char buffer[kMaxTokenFileSize + 1];
  ssize_t n = 0;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) {
    content.append(buffer, static_cast<size_t>(n));
    if (content.size() > kMaxTokenFileSize) {
      return fail(Unreadable(path, absl::StrCat("larger than ", kMaxTokenFileSize, " bytes")));
    }
  }
  if (n < 0) return fail(Unreadable(path, std::strerror(errno)));
  close(fd);
  const std::string token(absl::StripAsciiWhitespace(content));
  if (token.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("--control_token_file ", path, " is empty; put the token in it"));
  }
  return token;
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
