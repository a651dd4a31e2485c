#include "tests/support/test_instance.h"

#include <stdlib.h>

#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "tests/support/wait.h"

namespace pong::testing {

absl::StatusOr<std::unique_ptr<TestInstance>> TestInstance::Start(TestInstanceOptions options) {
  std::unique_ptr<TestInstance> instance(new TestInstance());
  std::string dir = (std::filesystem::temp_directory_path() / "pong-test-XXXXXX").string();
  if (mkdtemp(dir.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", dir, " failed"));
  }
  instance->dir_ = dir;
  instance->log_path_ = instance->dir_ / absl::StrCat(options.name, ".log");

  ServerOptions server_options;
  server_options.name = options.name;
  server_options.bind = "127.0.0.1";
  server_options.http_port = 0;
  server_options.grpc_port = 0;
  server_options.peer = options.peer;
  server_options.log_file = instance->log_path_.string();
  server_options.control_token_file = options.control_token_file;
  server_options.pair_secret_file = options.pair_secret_file;
  auto peer = std::make_unique<FakePeerLink>(instance->clock_);
  instance->peer_ = peer.get();
  absl::StatusOr<std::unique_ptr<PongServer>> server =
      PongServer::Start(server_options, instance->clock_, std::move(peer));
  if (!server.ok()) return server.status();
  instance->server_ = std::move(*server);
  instance->http_port_ = instance->server_->http_port();
  instance->grpc_port_ = instance->server_->grpc_port();
  instance->channel_ = NewInsecureChannel(instance->grpc_address());
  instance->control_ = std::make_unique<GameControlClient>(instance->channel_);
  // Ready once the HTTP plane answers: its thread is then inside listen(), where a
  // Shutdown can stop it.
  std::unique_ptr<httplib::Client> http = instance->NewHttpClient();
  if (!WaitUntil(
          [&] {
            const httplib::Result res = http->Get("/ping");
            return res && res->status == 200;
          },
          absl::Seconds(5))) {
    return absl::UnavailableError(
        absl::StrCat("the HTTP plane on ", instance->http_address(), " does not answer"));
  }
  return instance;
}

TestInstance::~TestInstance() {
  Shutdown();
  std::error_code ignored;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
}

std::string TestInstance::http_address() const { return absl::StrCat("127.0.0.1:", http_port_); }
std::string TestInstance::grpc_address() const { return absl::StrCat("127.0.0.1:", grpc_port_); }

std::unique_ptr<httplib::Client> TestInstance::NewHttpClient() const {
  auto client = std::make_unique<httplib::Client>("127.0.0.1", http_port_);
  client->set_keep_alive(true);
  client->set_connection_timeout(std::chrono::seconds(2));
  client->set_read_timeout(std::chrono::seconds(2));
  client->set_write_timeout(std::chrono::seconds(2));
  return client;
}

void TestInstance::Shutdown() {
  if (server_ == nullptr) return;
  server_->Shutdown();
  server_.reset();  // joins the log writer: the file is complete
  peer_ = nullptr;
}

std::string TestInstance::ReadLog() const {
  std::ifstream in(log_path_);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace pong::testing
