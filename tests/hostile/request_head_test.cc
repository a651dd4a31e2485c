#include "server/request_head.h"

#include <gtest/gtest.h>

#include <string>

namespace pong {
namespace {

using Verdict = RequestHeadScanner::Verdict;

constexpr uint64_t kMaxBody = 1024;

// Feeds `bytes` one at a time, as the slowest client sends them.
Verdict FeedBytewise(RequestHeadScanner& scanner, const std::string& bytes) {
  for (const char c : bytes) scanner.Feed(std::string(1, c));
  return scanner.verdict();
}

TEST(RequestHeadScannerTest, AHeadEndsWithItsBlankLine) {
  for (const std::string head : {"GET /ping HTTP/1.1\r\nHost: a\r\n\r\n",
                                 "GET /ping HTTP/1.1\r\n\r\n", "GET /ping HTTP/1.1\nHost: a\n\n"}) {
    SCOPED_TRACE(head);
    RequestHeadScanner scanner(8192, kMaxBody);
    EXPECT_EQ(FeedBytewise(scanner, head.substr(0, head.size() - 1)), Verdict::kReading);
    EXPECT_EQ(FeedBytewise(scanner, head.substr(head.size() - 1)), Verdict::kComplete);
  }
}

TEST(RequestHeadScannerTest, TheBodyAfterTheHeadIsNotCounted) {
  RequestHeadScanner scanner(40, kMaxBody);
  EXPECT_EQ(scanner.Feed("POST /ping HTTP/1.1\r\n\r\n" + std::string(1000, 'x')),
            Verdict::kComplete);
}

TEST(RequestHeadScannerTest, ARequestLineOverTheLimitIsTooLong) {
  RequestHeadScanner scanner(100, kMaxBody);
  const std::string line = "GET /" + std::string(94, 'a') + " ";  // 100 bytes
  EXPECT_EQ(FeedBytewise(scanner, line), Verdict::kReading);
  EXPECT_EQ(scanner.Feed("H"), Verdict::kRequestLineTooLong);
  EXPECT_EQ(scanner.Feed("\r\n\r\n"), Verdict::kRequestLineTooLong) << "the verdict stays";
}

TEST(RequestHeadScannerTest, HeadersOverTheLimitAreTooLarge) {
  RequestHeadScanner scanner(100, kMaxBody);
  EXPECT_EQ(FeedBytewise(scanner, "GET /ping HTTP/1.1\r\n"), Verdict::kReading);
  // Many small header lines count as much as one big one.
  std::string headers;
  for (int i = 0; i < 20; ++i) headers += "X: y\r\n";
  EXPECT_EQ(FeedBytewise(scanner, headers), Verdict::kHeadTooLarge);
}

TEST(RequestHeadScannerTest, AHeadOfExactlyTheLimitIsComplete) {
  const std::string head = "GET /ping HTTP/1.1\r\nX: " + std::string(10, 'y') + "\r\n\r\n";
  RequestHeadScanner scanner(head.size(), kMaxBody);
  EXPECT_EQ(scanner.Feed(head), Verdict::kComplete);
}

TEST(RequestHeadScannerTest, GarbageOrTlsInTheRequestLineIsMalformed) {
  RequestHeadScanner tls(8192, kMaxBody);
  // The start of a TLS ClientHello: handshake record, version 3.1.
  EXPECT_EQ(tls.Feed(std::string("\x16\x03\x01\x02\x00\x01", 6)), Verdict::kMalformed);
  RequestHeadScanner nul(8192, kMaxBody);
  EXPECT_EQ(nul.Feed(std::string("GET /\0ping", 10)), Verdict::kMalformed);
  RequestHeadScanner high(8192, kMaxBody);
  EXPECT_EQ(high.Feed("GET /\xff HTTP/1.1\r\n"), Verdict::kMalformed);
  // In header values, bytes over 0x7f are left to httplib (obs-text).
  RequestHeadScanner header(8192, kMaxBody);
  EXPECT_EQ(header.Feed("GET / HTTP/1.1\r\nX: \xff\r\n\r\n"), Verdict::kComplete);
}

TEST(RequestHeadScannerTest, ADeclaredBodyOverItsLimitIsTooLarge) {
  RequestHeadScanner at_limit(8192, kMaxBody);
  EXPECT_EQ(at_limit.Feed("GET /ping HTTP/1.1\r\nContent-Length: 1024\r\n\r\n"),
            Verdict::kComplete);
  RequestHeadScanner over(8192, kMaxBody);
  EXPECT_EQ(over.Feed("GET /ping HTTP/1.1\r\ncontent-LENGTH:  1025 \r\n\r\n"),
            Verdict::kBodyTooLarge);
  RequestHeadScanner huge(8192, kMaxBody);
  EXPECT_EQ(huge.Feed("POST /ping HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
            Verdict::kMalformed)
      << "not a number that fits";
}

TEST(RequestHeadScannerTest, ABodyOfNoDeclaredSizeNeedsALength) {
  RequestHeadScanner scanner(8192, kMaxBody);
  EXPECT_EQ(scanner.Feed("GET /ping HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Verdict::kLengthRequired);
}

TEST(RequestHeadScannerTest, ContentLengthThatIsNotOneNumberIsMalformed) {
  for (const std::string header : {"Content-Length: -1", "Content-Length: +5", "Content-Length: 5x",
                                   "Content-Length:", "Content-Length: 1, 2"}) {
    SCOPED_TRACE(header);
    RequestHeadScanner scanner(8192, kMaxBody);
    EXPECT_EQ(scanner.Feed("GET /ping HTTP/1.1\r\n" + header + "\r\n\r\n"), Verdict::kMalformed);
  }
  RequestHeadScanner twice(8192, kMaxBody);
  EXPECT_EQ(twice.Feed("GET /ping HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n"),
            Verdict::kMalformed)
      << "two lengths: smuggling";
  RequestHeadScanner same(8192, kMaxBody);
  EXPECT_EQ(same.Feed("GET /ping HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"),
            Verdict::kComplete);
}

TEST(RequestHeadScannerTest, ResetStartsTheNextRequest) {
  RequestHeadScanner scanner(50, kMaxBody);
  EXPECT_EQ(scanner.Feed("GET /ping HTTP/1.1\r\nContent-Length: 5000\r\n\r\n"),
            Verdict::kBodyTooLarge);
  scanner.Reset();
  EXPECT_EQ(scanner.Feed("GET /ping HTTP/1.1\r\n"), Verdict::kReading) << "counted afresh";
  EXPECT_EQ(scanner.Feed("\r\n"), Verdict::kComplete);
}

TEST(RequestHeadScannerTest, ACarriageReturnWithoutItsLineFeedIsMalformed) {
  for (const std::string head :
       {"GET /ping HTTP/1.1\rX\r\n\r\n", "GET /ping HTTP/1.1\r\nContent-Length\r: 5\r\n\r\n",
        "GET /ping HTTP/1.1\r\n\r\r\n"}) {
    SCOPED_TRACE(head);
    RequestHeadScanner scanner(8192, kMaxBody);
    EXPECT_EQ(FeedBytewise(scanner, head), Verdict::kMalformed);
  }
  // Split between two reads, a CR and its LF still end the line.
  RequestHeadScanner scanner(8192, kMaxBody);
  EXPECT_EQ(scanner.Feed("GET /ping HTTP/1.1\r"), Verdict::kReading);
  EXPECT_EQ(scanner.Feed("\n\r"), Verdict::kReading);
  EXPECT_EQ(scanner.Feed("\n"), Verdict::kComplete);
}

TEST(RequestHeadScannerTest, TheHeadsLengthSaysWhereWhatFollowsBegins) {
  const std::string head = "GET /ping HTTP/1.1\r\nContent-Length: 4\r\n\r\n";
  RequestHeadScanner scanner(8192, kMaxBody);
  EXPECT_EQ(scanner.Feed(head + "bodyGET /next HTTP/1.1\r\n"), Verdict::kComplete);
  EXPECT_EQ(scanner.head_bytes(), head.size());
}

TEST(ParseRequestHeadTest, ReadsTheRequestLineAndWhatDecidesTheConnectionsFate) {
  absl::StatusOr<RequestHead> head =
      ParseRequestHead("GET /ping?seq=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n");
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->method, "GET");
  EXPECT_EQ(head->target, "/ping?seq=1");
  EXPECT_TRUE(head->keep_alive);
  EXPECT_EQ(head->content_length, 3u);

  head = ParseRequestHead("HEAD / HTTP/1.1\r\nconnection:  Close \r\n\r\n");
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_FALSE(head->keep_alive);

  head = ParseRequestHead("GET / HTTP/1.0\n\n");  // LF alone ends lines too
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_FALSE(head->keep_alive) << "HTTP/1.0 closes unless asked";
  head = ParseRequestHead("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_TRUE(head->keep_alive);

  head = ParseRequestHead("M-SEARCH_2 * HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->method, "M-SEARCH_2");
}

TEST(ParseRequestHeadTest, ARequestLineThatIsNotMethodTargetVersionIsRefused) {
  for (const char* bad :
       {"GET /ping\r\n\r\n", "GET  /ping HTTP/1.1\r\n\r\n", "GET /ping HTTP/1.1 extra\r\n\r\n",
        " GET /ping HTTP/1.1\r\n\r\n", "get /ping HTTP/1.1\r\n\r\n", "G@T /ping HTTP/1.1\r\n\r\n",
        "GET /ping HTTP/2.0\r\n\r\n", "GET /ping HTTP/1.1x\r\n\r\n", "GET /ping http/1.1\r\n\r\n",
        "\r\n\r\n"}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(ParseRequestHead(bad).status().code(), absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace pong
