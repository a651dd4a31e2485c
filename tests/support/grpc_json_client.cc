#include "tests/support/grpc_json_client.h"

#include <grpcpp/client_context.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>

#include <future>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace pong::testing {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::DescriptorPool;
using google::protobuf::FieldDescriptor;
using google::protobuf::FileDescriptorProto;
using google::protobuf::Message;
using google::protobuf::Reflection;

constexpr char kReflectionMethod[] =
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";
constexpr char kReflectionRequest[] = "grpc.reflection.v1alpha.ServerReflectionRequest";

void SetDeadline(grpc::ClientContext& context, absl::Duration timeout) {
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

grpc::ByteBuffer ToByteBuffer(const Message& message) {
  grpc::Slice slice(message.SerializeAsString());
  return grpc::ByteBuffer(&slice, 1);
}

absl::Status FromByteBuffer(const grpc::ByteBuffer& buffer, Message& message) {
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (buffer.Dump(&slices).ok()) {
    for (const grpc::Slice& slice : slices) {
      bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
  }
  if (!message.ParseFromString(bytes)) {
    return absl::DataLossError(
        absl::StrCat("cannot parse a ", message.GetDescriptor()->full_name(), " response"));
  }
  return absl::OkStatus();
}

// The completion of the one operation in flight on `cq`: whether it succeeded.
bool Await(grpc::CompletionQueue& cq) {
  void* tag = nullptr;
  bool ok = false;
  return cq.Next(&tag, &ok) && ok;
}

// A grpc::Status as an absl::Status (the codes are the same) for failures of reflection.
absl::Status ToAbsl(const grpc::Status& status, absl::string_view what) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(what, ": ", status.error_message()));
}

const Message& SubMessage(const Message& message, absl::string_view field) {
  const FieldDescriptor* descriptor = message.GetDescriptor()->FindFieldByName(std::string(field));
  return message.GetReflection()->GetMessage(message, descriptor);
}

bool HasField(const Message& message, absl::string_view field) {
  const FieldDescriptor* descriptor = message.GetDescriptor()->FindFieldByName(std::string(field));
  return message.GetReflection()->HasField(message, descriptor);
}

// A reflection response's error_response as a status, or OK.
absl::Status ReflectionError(const Message& response) {
  if (!HasField(response, "error_response")) return absl::OkStatus();
  const Message& error = SubMessage(response, "error_response");
  const Descriptor* type = error.GetDescriptor();
  const Reflection* reflection = error.GetReflection();
  const int code = reflection->GetInt32(error, type->FindFieldByName("error_code"));
  return absl::Status(
      static_cast<absl::StatusCode>(code),
      absl::StrCat("reflection: ",
                   reflection->GetString(error, type->FindFieldByName("error_message"))));
}

// "pkg.Service/Method" or "pkg.Service.Method" as {service, method}.
absl::StatusOr<std::pair<std::string, std::string>> SplitMethod(absl::string_view name) {
  size_t cut = name.rfind('/');
  if (cut == absl::string_view::npos) cut = name.rfind('.');
  if (cut == absl::string_view::npos || cut == 0 || cut + 1 == name.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "method must be pkg.Service/Method or pkg.Service.Method, got \"", name, "\""));
  }
  return std::pair<std::string, std::string>(name.substr(0, cut), name.substr(cut + 1));
}

}  // namespace

GrpcJsonClient::GrpcJsonClient(std::shared_ptr<grpc::ChannelInterface> channel,
                               absl::Duration timeout)
    : channel_(std::move(channel)), timeout_(timeout), pool_(&db_) {
  // Referencing libgrpc++_reflection keeps it linked under -Wl,--as-needed (Ubuntu's
  // default): loading it is what puts the v1alpha types in the generated pool.
  grpc::reflection::ProtoServerReflectionPlugin keep_linked;
}

absl::StatusOr<std::unique_ptr<Message>> GrpcJsonClient::NewReflectionRequest() {
  const Descriptor* type =
      DescriptorPool::generated_pool()->FindMessageTypeByName(kReflectionRequest);
  if (type == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        kReflectionRequest, " is not in the generated pool: link gRPC::grpc++_reflection"));
  }
  return std::unique_ptr<Message>(factory_.GetPrototype(type)->New());
}

absl::StatusOr<std::unique_ptr<Message>> GrpcJsonClient::Reflect(const Message& request) {
  const Descriptor* response_type = DescriptorPool::generated_pool()->FindMessageTypeByName(
      "grpc.reflection.v1alpha.ServerReflectionResponse");
  std::unique_ptr<Message> response(factory_.GetPrototype(response_type)->New());

  grpc::GenericStub stub(channel_);
  grpc::ClientContext context;
  SetDeadline(context, timeout_);
  grpc::CompletionQueue cq;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call =
      stub.PrepareCall(&context, kReflectionMethod, &cq);
  // One operation at a time, each awaited, so every tag is the same.
  void* const tag = call.get();
  bool received = false;
  absl::Status parsed;
  call->StartCall(tag);
  if (Await(cq)) {
    call->Write(ToByteBuffer(request), tag);
    if (Await(cq)) {
      call->WritesDone(tag);
      Await(cq);
      grpc::ByteBuffer reply;
      call->Read(&reply, tag);
      received = Await(cq);
      if (received) parsed = FromByteBuffer(reply, *response);
      // The server ends the stream after our half-close; Finish wants it read to the end.
      for (bool more = received; more;) {
        grpc::ByteBuffer extra;
        call->Read(&extra, tag);
        more = Await(cq);
      }
    }
  }
  grpc::Status status;
  call->Finish(&status, tag);
  Await(cq);
  cq.Shutdown();
  while (Await(cq)) {
  }
  if (!status.ok()) return ToAbsl(status, kReflectionMethod);
  if (!received) return absl::UnknownError(absl::StrCat(kReflectionMethod, ": no response"));
  if (!parsed.ok()) return parsed;
  if (absl::Status error = ReflectionError(*response); !error.ok()) return error;
  return response;
}

absl::StatusOr<std::vector<std::string>> GrpcJsonClient::ListServices() {
  absl::StatusOr<std::unique_ptr<Message>> request = NewReflectionRequest();
  if (!request.ok()) return request.status();
  Message& req = **request;
  req.GetReflection()->SetString(&req, req.GetDescriptor()->FindFieldByName("list_services"), "");
  absl::StatusOr<std::unique_ptr<Message>> response = Reflect(req);
  if (!response.ok()) return response.status();
  if (!HasField(**response, "list_services_response")) {
    return absl::UnknownError("reflection: no list_services_response");
  }
  const Message& list = SubMessage(**response, "list_services_response");
  const FieldDescriptor* service_field = list.GetDescriptor()->FindFieldByName("service");
  const Reflection* reflection = list.GetReflection();
  std::vector<std::string> names;
  for (int i = 0; i < reflection->FieldSize(list, service_field); ++i) {
    const Message& service = reflection->GetRepeatedMessage(list, service_field, i);
    names.push_back(service.GetReflection()->GetString(
        service, service.GetDescriptor()->FindFieldByName("name")));
  }
  return names;
}

absl::StatusOr<std::vector<FileDescriptorProto>> GrpcJsonClient::FileContainingSymbol(
    const std::string& symbol) {
  absl::StatusOr<std::unique_ptr<Message>> request = NewReflectionRequest();
  if (!request.ok()) return request.status();
  Message& req = **request;
  req.GetReflection()->SetString(
      &req, req.GetDescriptor()->FindFieldByName("file_containing_symbol"), symbol);
  absl::StatusOr<std::unique_ptr<Message>> response = Reflect(req);
  if (!response.ok()) return response.status();
  if (!HasField(**response, "file_descriptor_response")) {
    return absl::UnknownError("reflection: no file_descriptor_response");
  }
  const Message& files = SubMessage(**response, "file_descriptor_response");
  const FieldDescriptor* bytes_field =
      files.GetDescriptor()->FindFieldByName("file_descriptor_proto");
  const Reflection* reflection = files.GetReflection();
  std::vector<FileDescriptorProto> protos(
      static_cast<size_t>(reflection->FieldSize(files, bytes_field)));
  for (size_t i = 0; i < protos.size(); ++i) {
    if (!protos[i].ParseFromString(
            reflection->GetRepeatedString(files, bytes_field, static_cast<int>(i)))) {
      return absl::DataLossError(absl::StrCat("reflection: bad FileDescriptorProto for ", symbol));
    }
  }
  return protos;
}

absl::StatusOr<const google::protobuf::ServiceDescriptor*> GrpcJsonClient::FindService(
    const std::string& service) {
  FileDescriptorProto known;
  // Ask the pool only once db_ has the file: it remembers names it failed to find.
  if (!db_.FindFileContainingSymbol(service, &known)) {
    absl::StatusOr<std::vector<FileDescriptorProto>> files = FileContainingSymbol(service);
    if (!files.ok()) return files.status();
    for (const FileDescriptorProto& file : *files) {
      if (!db_.FindFileByName(file.name(), &known)) db_.Add(file);
    }
  }
  const google::protobuf::ServiceDescriptor* descriptor = pool_.FindServiceByName(service);
  if (descriptor == nullptr) {
    return absl::NotFoundError(absl::StrCat("service ", service, " is not served"));
  }
  return descriptor;
}

absl::StatusOr<JsonReply> GrpcJsonClient::CallJson(absl::string_view method,
                                                   absl::string_view request_json) {
  absl::StatusOr<std::pair<std::string, std::string>> name = SplitMethod(method);
  if (!name.ok()) return name.status();
  absl::StatusOr<const google::protobuf::ServiceDescriptor*> service = FindService(name->first);
  if (!service.ok()) return service.status();
  const google::protobuf::MethodDescriptor* descriptor = (*service)->FindMethodByName(name->second);
  if (descriptor == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("service ", name->first, " has no method ", name->second));
  }
  if (descriptor->client_streaming() || descriptor->server_streaming()) {
    return absl::UnimplementedError(absl::StrCat(descriptor->full_name(), " is not unary"));
  }

  std::unique_ptr<Message> request(factory_.GetPrototype(descriptor->input_type())->New());
  // Like grpcurl without -d: no JSON at all is the empty message.
  if (absl::StripAsciiWhitespace(request_json).empty()) request_json = "{}";
  if (auto parsed =
          google::protobuf::util::JsonStringToMessage(std::string(request_json), request.get());
      !parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("request JSON for ", descriptor->full_name(),
                                                   ": ", std::string(parsed.message())));
  }

  grpc::GenericStub stub(channel_);
  grpc::ClientContext context;
  SetDeadline(context, timeout_);
  const grpc::ByteBuffer request_bytes = ToByteBuffer(*request);
  grpc::ByteBuffer response_bytes;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, absl::StrCat("/", name->first, "/", name->second), grpc::StubOptions(),
                 &request_bytes, &response_bytes,
                 [&done](grpc::Status status) { done.set_value(std::move(status)); });
  JsonReply reply{done.get_future().get(), ""};
  if (!reply.status.ok()) return reply;

  std::unique_ptr<Message> response(factory_.GetPrototype(descriptor->output_type())->New());
  if (absl::Status parsed = FromByteBuffer(response_bytes, *response); !parsed.ok()) return parsed;
  if (auto printed =
          google::protobuf::util::MessageToJsonString(*response, &reply.json, print_options_);
      !printed.ok()) {
    return absl::InternalError(absl::StrCat("response JSON: ", std::string(printed.message())));
  }
  return reply;
}

}  // namespace pong::testing
