#include "server/proto_time.h"

#include <cstdint>

#include "absl/strings/str_cat.h"

namespace pong {
namespace {

constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;
constexpr int64_t kNanosPerSecond = 1'000'000'000;

}  // namespace

google::protobuf::Timestamp ToProto(absl::Time time) {
  const int64_t seconds = absl::ToUnixSeconds(time);  // rounds down, so nanos >= 0
  google::protobuf::Timestamp out;
  out.set_seconds(seconds);
  out.set_nanos(
      static_cast<int32_t>((time - absl::FromUnixSeconds(seconds)) / absl::Nanoseconds(1)));
  return out;
}

google::protobuf::Duration ToProto(absl::Duration duration) {
  const int64_t ns = absl::ToInt64Nanoseconds(duration);
  google::protobuf::Duration out;
  out.set_seconds(ns / kNanosPerSecond);
  out.set_nanos(static_cast<int32_t>(ns % kNanosPerSecond));  // same sign as seconds
  return out;
}

absl::Time FromProto(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixSeconds(timestamp.seconds()) + absl::Nanoseconds(timestamp.nanos());
}

absl::Duration FromProto(const google::protobuf::Duration& duration) {
  return absl::Seconds(duration.seconds()) + absl::Nanoseconds(duration.nanos());
}

absl::Status ValidateTimestamp(const google::protobuf::Timestamp& timestamp,
                               absl::string_view field) {
  if (timestamp.nanos() < 0 || timestamp.nanos() >= kNanosPerSecond) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".nanos must be from 0 to 999999999, got ", timestamp.nanos()));
  }
  if (timestamp.seconds() < kMinTimestampSeconds || timestamp.seconds() > kMaxTimestampSeconds) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".seconds is out of range: ", timestamp.seconds()));
  }
  return absl::OkStatus();
}

}  // namespace pong
