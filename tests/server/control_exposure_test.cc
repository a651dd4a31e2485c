// --insecure_control: which --bind addresses count as loopback, and when an open control
// plane refuses to start.
#include "server/control_exposure.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace pong {
namespace {

using ::testing::HasSubstr;

absl::Status Check(absl::string_view bind, bool has_token = false, bool has_tls = false,
                   bool insecure_control = false) {
  return CheckControlExposure({bind, has_token, has_tls, insecure_control});
}

TEST(IsLoopbackHostTest, LoopbackAddresses) {
  for (const char* host : {"127.0.0.1", "127.0.0.2", "127.255.255.254", "localhost", "LocalHost",
                           "::1", "[::1]", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1"}) {
    EXPECT_TRUE(IsLoopbackHost(host)) << host;
  }
}

TEST(IsLoopbackHostTest, EverythingElse) {
  for (const char* host :
       {"0.0.0.0", "::", "[::]", "", "10.0.0.1", "128.0.0.1", "126.255.255.255", "192.168.1.1",
        "::2", "::ffff:10.0.0.1", "[::1", "::1]", "localhost.", "localhost.example.com",
        "127.0.0.1.example.com", "example.com", "127.1", "0177.0.0.1", " 127.0.0.1"}) {
    EXPECT_FALSE(IsLoopbackHost(host)) << host;
  }
}

TEST(CheckControlExposureTest, LoopbackNeedsNothing) {
  EXPECT_TRUE(Check("127.0.0.1").ok());
  EXPECT_TRUE(Check("::1").ok());
}

TEST(CheckControlExposureTest, OpenAddressNeedsATokenTlsOrConsent) {
  const absl::Status refused = Check("0.0.0.0");
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.message(), HasSubstr("--bind=0.0.0.0 is not a loopback address"));
  EXPECT_THAT(refused.message(), HasSubstr("--control_token_file"));
  EXPECT_THAT(refused.message(), HasSubstr("--tls_cert"));
  EXPECT_THAT(refused.message(), HasSubstr("--insecure_control"));
  EXPECT_FALSE(Check("10.1.2.3").ok());

  EXPECT_TRUE(Check("0.0.0.0", /*has_token=*/true).ok());
  EXPECT_TRUE(Check("0.0.0.0", false, /*has_tls=*/true).ok());
  EXPECT_TRUE(Check("0.0.0.0", false, false, /*insecure_control=*/true).ok());
  EXPECT_TRUE(Check("10.1.2.3", true, true).ok());
}

}  // namespace
}  // namespace pong
