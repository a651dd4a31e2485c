#ifndef PONG_SERVER_PROTO_TIME_H_
#define PONG_SERVER_PROTO_TIME_H_

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace pong {

// protobuf's time types <-> abseil's, for the server and pong-cli alike.

google::protobuf::Timestamp ToProto(absl::Time time);
google::protobuf::Duration ToProto(absl::Duration duration);
absl::Time FromProto(const google::protobuf::Timestamp& timestamp);
absl::Duration FromProto(const google::protobuf::Duration& duration);

// INVALID_ARGUMENT, naming `field`, for nanos outside [0, 1e9) or seconds outside
// 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z.
absl::Status ValidateTimestamp(const google::protobuf::Timestamp& timestamp,
                               absl::string_view field);

}  // namespace pong

#endif  // PONG_SERVER_PROTO_TIME_H_
