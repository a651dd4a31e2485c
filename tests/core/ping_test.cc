#include "server/core/ping.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pong {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::string_view kGame = "0123456789abcdef0123456789abcdef";

PingQuery Query(std::optional<absl::string_view> game, std::optional<absl::string_view> seq,
                std::optional<absl::string_view> ms) {
  return PingQuery{game, seq, ms, std::nullopt};
}

// Expects INVALID_ARGUMENT with a one-line reason naming `field`.
void ExpectInvalid(const PingQuery& query, absl::string_view field) {
  const absl::StatusOr<std::optional<GamePing>> parsed = ParsePing(query);
  ASSERT_FALSE(parsed.ok()) << "parsed a ping that should be refused";
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(), HasSubstr(field));
  EXPECT_THAT(parsed.status().message(), Not(HasSubstr("\n")));
}

TEST(ParsePingTest, BarePingIsNotAGamePing) {
  const absl::StatusOr<std::optional<GamePing>> parsed = ParsePing(PingQuery{});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, std::nullopt);
}

TEST(ParsePingTest, WellFormedGamePing) {
  const absl::StatusOr<std::optional<GamePing>> parsed = ParsePing(Query(kGame, "7", "1000"));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_TRUE(parsed->has_value());
  EXPECT_EQ(**parsed, (GamePing{std::string(kGame), 7, 1000}));
}

TEST(ParsePingTest, EachParameterMissingAloneIsInvalid) {
  ExpectInvalid(Query(std::nullopt, "1", "1000"), "game, seq and ms");
  ExpectInvalid(Query(kGame, std::nullopt, "1000"), "game, seq and ms");
  ExpectInvalid(Query(kGame, "1", std::nullopt), "game, seq and ms");
}

TEST(ParsePingTest, OnlyOneParameterIsInvalid) {
  ExpectInvalid(Query(kGame, std::nullopt, std::nullopt), "game, seq and ms");
  ExpectInvalid(Query(std::nullopt, "1", std::nullopt), "game, seq and ms");
  ExpectInvalid(Query(std::nullopt, std::nullopt, "1000"), "game, seq and ms");
}

class BadGameIdTest : public ::testing::TestWithParam<std::string> {};

TEST_P(BadGameIdTest, IsRefused) {
  EXPECT_FALSE(IsValidGameId(GetParam()));
  ExpectInvalid(Query(GetParam(), "1", "1000"), "game");
}

INSTANTIATE_TEST_SUITE_P(ParsePingTest, BadGameIdTest,
                         ::testing::Values("",                                   // empty
                                           "0123456789abcdef0123456789abcde",    // 31 characters
                                           "0123456789abcdef0123456789abcdef0",  // 33 characters
                                           "0123456789abcdef0123456789ABCDEF",   // uppercase
                                           "0123456789Abcdef0123456789abcdef",   // one uppercase
                                           "0123456789abcdef0123456789abcdeg",   // not hex
                                           "0x23456789abcdef0123456789abcdef",   // prefix
                                           "0123456789abcdef 123456789abcdef",   // space
                                           "0123456789abcdef-123456789abcdef",   // dash
                                           std::string("0123456789abcdef\0"
                                                       "123456789abcdef",
                                                       32)));  // NUL

class BadSeqTest : public ::testing::TestWithParam<std::string> {};

TEST_P(BadSeqTest, IsRefused) { ExpectInvalid(Query(kGame, GetParam(), "1000"), "seq"); }

INSTANTIATE_TEST_SUITE_P(ParsePingTest, BadSeqTest,
                         ::testing::Values("", "0", "00", "-1", "+1", "01", "007", "abc", "1a",
                                           "1.5", "1e3", " 1", "1 ", "0x1",
                                           "9223372036854775808",    // 2^63
                                           "18446744073709551615",   // 2^64-1, 20 digits
                                           "18446744073709551616",   // 2^64, 20 digits
                                           "99999999999999999999",   // 20 digits
                                           "123456789012345678901",  // 21 digits
                                           "100000000000000000000000000000"));

TEST(ParsePingTest, SeqOneAndMaxInt64AreAccepted) {
  for (const auto& [text, value] :
       {std::pair<absl::string_view, uint64_t>{"1", 1},
        {"10", 10},
        {"9223372036854775807", uint64_t{std::numeric_limits<int64_t>::max()}}}) {
    const absl::StatusOr<std::optional<GamePing>> parsed = ParsePing(Query(kGame, text, "5"));
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.status();
    ASSERT_TRUE(parsed->has_value());
    EXPECT_EQ((*parsed)->seq, value);
  }
}

class BadMsTest : public ::testing::TestWithParam<std::string> {};

TEST_P(BadMsTest, IsRefused) { ExpectInvalid(Query(kGame, "1", GetParam()), "ms"); }

INSTANTIATE_TEST_SUITE_P(ParsePingTest, BadMsTest,
                         ::testing::Values("", "3600001", "3600010", "36000000", "-1", "-0", "+5",
                                           "00", "01", "abc", "1.5", "1e3", " 5",
                                           "9223372036854775808", "99999999999999999999999"));

TEST(ParsePingTest, MsBoundsAreAccepted) {
  for (const auto& [text, value] : {std::pair<absl::string_view, int64_t>{"0", 0},
                                    {"1", 1},
                                    {"1000", 1000},
                                    {"3599999", 3'599'999},
                                    {"3600000", 3'600'000}}) {
    const absl::StatusOr<std::optional<GamePing>> parsed = ParsePing(Query(kGame, "1", text));
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.status();
    ASSERT_TRUE(parsed->has_value());
    EXPECT_EQ((*parsed)->pong_time_ms, value);
  }
}

TEST(IsValidGameIdTest, AcceptsLowercaseHexOf32) {
  EXPECT_TRUE(IsValidGameId(kGame));
  EXPECT_TRUE(IsValidGameId("00000000000000000000000000000000"));
  EXPECT_TRUE(IsValidGameId("ffffffffffffffffffffffffffffffff"));
}

TEST(ValidatePongTimeMsTest, Bounds) {
  EXPECT_TRUE(ValidatePongTimeMs(0).ok());
  EXPECT_TRUE(ValidatePongTimeMs(1).ok());
  EXPECT_TRUE(ValidatePongTimeMs(1000).ok());
  EXPECT_TRUE(ValidatePongTimeMs(3'600'000).ok());
  for (int64_t bad : {int64_t{-1}, int64_t{3'600'001}, std::numeric_limits<int64_t>::min(),
                      std::numeric_limits<int64_t>::max()}) {
    const absl::Status status = ValidatePongTimeMs(bad);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(status.message(), HasSubstr("pong_time_ms")) << bad;
  }
}

}  // namespace
}  // namespace pong
