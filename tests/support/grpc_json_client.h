#ifndef PONG_TESTS_SUPPORT_GRPC_JSON_CLIENT_H_
#define PONG_TESTS_SUPPORT_GRPC_JSON_CLIENT_H_

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/descriptor_database.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/channel.h>
#include <grpcpp/support/status.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace pong::testing {

// The outcome of a call that was made: the RPC's status and, when it is OK, the response.
struct JsonReply {
  grpc::Status status;
  std::string json;
};

// What grpcurl does, in process (grpcurl is not packaged for Debian): it lists services
// and fetches descriptors through server reflection, then calls unary methods with JSON
// requests mapped by the descriptors the server serves, so no .proto file is needed.
//
// Reflection is grpc.reflection.v1alpha, the only version gRPC 1.51 serves. Its request
// and response types come from protobuf's generated pool, where libgrpc++_reflection
// registers them; the binary must link gRPC::grpc++_reflection (this library does).
//
// Every call has a deadline `timeout` after it starts. One thread at a time.
class GrpcJsonClient {
 public:
  explicit GrpcJsonClient(std::shared_ptr<grpc::ChannelInterface> channel,
                          absl::Duration timeout = absl::Seconds(5));

  // The fully qualified names of the services, as `grpcurl list` prints them.
  absl::StatusOr<std::vector<std::string>> ListServices();

  // The file that defines `symbol` (e.g. "pong.v1.GameControl") and the files it
  // depends on, as reflection's file_containing_symbol returns them.
  absl::StatusOr<std::vector<google::protobuf::FileDescriptorProto>> FileContainingSymbol(
      const std::string& symbol);

  // Calls the unary `method` ("pong.v1.GameControl/GetStatus" or
  // "pong.v1.GameControl.GetStatus") with a JSON request, like
  // `grpcurl -d JSON ADDRESS METHOD`. Not OK when the call could not be made (reflection
  // failed, unknown or streaming method, JSON that does not fit the request type);
  // otherwise the RPC's status and, when it is OK, the response as JSON. An empty
  // request_json is the empty message, as grpcurl sends without -d.
  absl::StatusOr<JsonReply> CallJson(absl::string_view method, absl::string_view request_json);

  // How responses are printed; by default like grpcurl: lowerCamelCase names, default
  // values left out. Requests accept both proto and lowerCamelCase names.
  google::protobuf::util::JsonPrintOptions& print_options() { return print_options_; }

 private:
  // One request on a fresh reflection stream, and its one response.
  absl::StatusOr<std::unique_ptr<google::protobuf::Message>> Reflect(
      const google::protobuf::Message& request);
  absl::StatusOr<std::unique_ptr<google::protobuf::Message>> NewReflectionRequest();
  // Makes the descriptors of `service` known to pool_, through reflection once.
  absl::StatusOr<const google::protobuf::ServiceDescriptor*> FindService(
      const std::string& service);

  std::shared_ptr<grpc::ChannelInterface> channel_;
  const absl::Duration timeout_;
  google::protobuf::util::JsonPrintOptions print_options_;
  // The server's descriptors, as fetched; pool_ builds from db_ on demand.
  google::protobuf::SimpleDescriptorDatabase db_;
  google::protobuf::DescriptorPool pool_;
  // Declared after the pools its prototypes point into.
  google::protobuf::DynamicMessageFactory factory_;
};

}  // namespace pong::testing

#endif  // PONG_TESTS_SUPPORT_GRPC_JSON_CLIENT_H_
