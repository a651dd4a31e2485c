// The control token: GameControl refuses calls without the right bearer token, while
// health and reflection stay open; the comparison and the token file's rules.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "server/authorizer.h"
#include "tests/server/service_test_util.h"
#include "tests/support/grpc_json_client.h"

namespace pong::testing {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kToken[] = "correct-horse-battery-staple";

// A temporary folder, removed with everything in it when this goes.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "pong-auth-XXXXXX").string();
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  std::string path() const { return path_.string(); }
  // Writes `content` to `name` with `mode`; returns its path.
  std::string Write(const std::string& name, const std::string& content, mode_t mode) const {
    const std::string file = (path_ / name).string();
    std::ofstream(file, std::ios::trunc) << content;
    chmod(file.c_str(), mode);
    return file;
  }

 private:
  std::filesystem::path path_;
};

std::unique_ptr<grpc::ClientContext> Context(const std::string& authorization = "") {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + Scaled(std::chrono::seconds(5)));
  if (!authorization.empty()) context->AddMetadata("authorization", authorization);
  return context;
}

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TestInstanceOptions options;
    options.control_token_file = dir_.Write("token", absl::StrCat("  ", kToken, "\n"), 0600);
    absl::StatusOr<std::unique_ptr<TestInstance>> started = TestInstance::Start(options);
    ASSERT_TRUE(started.ok()) << started.status();
    instance_ = std::move(*started);
  }

  v1::GameControl::Stub& stub() { return instance_->control().stub(); }

  grpc::Status GetStatus(const std::string& authorization, v1::GameStatus* status = nullptr) {
    v1::GetStatusResponse response;
    grpc::Status result =
        stub().GetStatus(Context(authorization).get(), v1::GetStatusRequest(), &response);
    if (status != nullptr) *status = response.status();
    return result;
  }

  grpc::Status Start(const std::string& authorization) {
    v1::StartResponse response;
    return stub().Start(Context(authorization).get(), MakeStart("auth-start", 1000, true),
                        &response);
  }

  TempDir dir_;
  std::unique_ptr<TestInstance> instance_;
};

const std::string kRight = absl::StrCat("Bearer ", kToken);

TEST_F(AuthTest, CallsWithoutTheTokenAreUnauthenticated) {
  EXPECT_EQ(GetStatus("").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Start("").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  v1::PauseResponse pause;
  EXPECT_EQ(stub().Pause(Context().get(), MakeCommand<v1::PauseRequest>("p"), &pause).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  v1::CancelResponse cancel;
  EXPECT_EQ(stub().Cancel(Context().get(), v1::CancelRequest(), &cancel).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(AuthTest, AWrongTokenIsUnauthenticatedAndChangesNothing) {
  v1::GameStatus before;
  ASSERT_TRUE(GetStatus(kRight, &before).ok());
  for (const std::string& wrong :
       {std::string("Bearer wrong"), absl::StrCat("Bearer ", kToken, "x"),
        absl::StrCat("Bearer ", std::string(kToken).substr(1)), std::string(kToken),
        absl::StrCat("bearer ", kToken), std::string("Bearer ")}) {
    const grpc::Status status = Start(wrong);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << wrong;
    EXPECT_THAT(status.error_message(), Not(HasSubstr(kToken)));
    EXPECT_EQ(GetStatus(wrong).error_code(), grpc::StatusCode::UNAUTHENTICATED) << wrong;
  }
  v1::GameStatus after;
  ASSERT_TRUE(GetStatus(kRight, &after).ok());
  EXPECT_EQ(after.state(), v1::GAME_STATE_IDLE);
  ExpectUnchanged(before, after);
  EXPECT_EQ(instance_->peer().sent_count(), 0u);
}

TEST_F(AuthTest, TheRightTokenIsServed) {
  v1::GameStatus status;
  EXPECT_TRUE(GetStatus(kRight, &status).ok());
  EXPECT_EQ(status.state(), v1::GAME_STATE_IDLE);
  const grpc::Status started = Start(kRight);
  EXPECT_TRUE(started.ok()) << started.error_message();
  ASSERT_TRUE(GetStatus(kRight, &status).ok());
  EXPECT_EQ(status.state(), v1::GAME_STATE_RUNNING);
}

TEST_F(AuthTest, RejectionsAreLoggedWithoutTheToken) {
  ASSERT_FALSE(Start("Bearer not-the-token").ok());
  instance_->Shutdown();
  const std::string log = instance_->ReadLog();
  EXPECT_THAT(log, HasSubstr("control call rejected: unauthenticated Start"));
  EXPECT_THAT(log, Not(HasSubstr(kToken)));
  EXPECT_THAT(log, Not(HasSubstr("not-the-token")));
}

TEST_F(AuthTest, HealthAndReflectionNeedNoToken) {
  std::unique_ptr<grpc::health::v1::Health::Stub> health =
      grpc::health::v1::Health::NewStub(instance_->channel());
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = health->Check(Context().get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);

  GrpcJsonClient json(instance_->channel());
  const absl::StatusOr<std::vector<std::string>> services = json.ListServices();
  ASSERT_TRUE(services.ok()) << services.status();
  EXPECT_THAT(*services, Contains("pong.v1.GameControl"));
}

TEST(NoTokenTest, CallsWithoutMetadataWorkWhenNoTokenIsConfigured) {
  absl::StatusOr<std::unique_ptr<TestInstance>> instance = TestInstance::Start();
  ASSERT_TRUE(instance.ok()) << instance.status();
  v1::GetStatusResponse response;
  EXPECT_TRUE((*instance)
                  ->control()
                  .stub()
                  .GetStatus(Context().get(), v1::GetStatusRequest(), &response)
                  .ok());
  v1::StartResponse started;
  EXPECT_TRUE((*instance)
                  ->control()
                  .stub()
                  .Start(Context().get(), MakeStart("s", 1000, true), &started)
                  .ok());
}

TEST(ConstantTimeEqualsTest, ComparesContentAndLength) {
  EXPECT_TRUE(ConstantTimeEquals("secret", "secret"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secreT"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "Secret"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secret2"));
  EXPECT_FALSE(ConstantTimeEquals("secret2", "secret"));
  EXPECT_FALSE(ConstantTimeEquals("secret", ""));
  EXPECT_FALSE(ConstantTimeEquals("", "secret"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  // A shorter one padded with zero bytes is still different.
  EXPECT_FALSE(ConstantTimeEquals("ab", absl::string_view("ab\0", 3)));
}

TEST(ReadSecretFileTest, TrimsAndRefusesBadFiles) {
  TempDir dir;
  absl::StatusOr<std::string> token =
      ReadSecretFile("--control_token_file", dir.Write("ok", " tok en \n", 0600));
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(*token, "tok en");
  token = ReadSecretFile("--control_token_file", dir.Write("owner-only", "t", 0400));
  EXPECT_TRUE(token.ok()) << token.status();

  token = ReadSecretFile("--control_token_file", dir.Write("open", "t", 0644));
  EXPECT_EQ(token.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(token.status().message(), HasSubstr("(mode 0644); chmod 600 it"));
  token = ReadSecretFile("--control_token_file", dir.Write("group", "t", 0610));
  EXPECT_THAT(token.status().message(), HasSubstr("chmod 600"));
  token = ReadSecretFile("--control_token_file", dir.Write("empty", " \n\t", 0600));
  EXPECT_THAT(token.status().message(), HasSubstr("is empty"));
  token = ReadSecretFile("--control_token_file", dir.path() + "/missing");
  EXPECT_THAT(token.status().message(), HasSubstr("cannot be read"));
}

}  // namespace
}  // namespace pong::testing
