#include "server/request_head.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace pong {

RequestHeadScanner::Verdict RequestHeadScanner::Feed(absl::string_view bytes) {
  for (const char c : bytes) {
    if (verdict_ != Verdict::kReading) break;
    if (++bytes_ > max_head_bytes_) {
      verdict_ = in_request_line_ ? Verdict::kRequestLineTooLong : Verdict::kHeadTooLarge;
      break;
    }
    const auto byte = static_cast<unsigned char>(c);
    // A CR ends a line only with the LF after it; alone, parsers disagree on what it is.
    if (after_cr_ && byte != '\n') {
      verdict_ = Verdict::kMalformed;
      break;
    }
    after_cr_ = byte == '\r';
    if (in_request_line_) {
      if (byte == '\n') {
        in_request_line_ = false;
      } else if (byte != '\r' && (byte < 0x20 || byte >= 0x7f)) {
        // A request line is method, target and version: printable ASCII and spaces.
        verdict_ = Verdict::kMalformed;
      }
    } else if (byte == '\n') {
      if (line_.empty()) {
        EndHead();
      } else {
        EndHeaderLine();
      }
    } else if (byte != '\r') {
      line_.push_back(c);
    }
  }
  return verdict_;
}

std::optional<HeaderField> SplitHeaderLine(absl::string_view line) {
  const size_t colon = line.find(':');
  if (colon == absl::string_view::npos) return std::nullopt;
  return HeaderField{line.substr(0, colon), absl::StripAsciiWhitespace(line.substr(colon + 1))};
}

void RequestHeadScanner::EndHeaderLine() {
  // A line without a colon is all name (so "Content-Length" alone is an empty, bad one).
  const auto [name, value] = SplitHeaderLine(line_).value_or(HeaderField{line_, ""});
  if (absl::EqualsIgnoreCase(name, "Content-Length")) {
    // Two that differ would let two parsers see two different requests.
    if (content_length_ && *content_length_ != value) malformed_ = true;
    content_length_ = std::string(value);
  } else if (absl::EqualsIgnoreCase(name, "Transfer-Encoding")) {
    transfer_encoding_ = true;
  }
  line_.clear();
}

void RequestHeadScanner::EndHead() {
  uint64_t length = 0;
  if (malformed_ || (content_length_ &&
                     (content_length_->empty() || !absl::ascii_isdigit(content_length_->front()) ||
                      !absl::SimpleAtoi(*content_length_, &length)))) {
    verdict_ = Verdict::kMalformed;
  } else if (transfer_encoding_) {
    verdict_ = Verdict::kLengthRequired;
  } else if (length > max_body_bytes_) {
    verdict_ = Verdict::kBodyTooLarge;
  } else {
    verdict_ = Verdict::kComplete;
  }
}

void RequestHeadScanner::Reset() {
  bytes_ = 0;
  in_request_line_ = true;
  after_cr_ = false;
  line_.clear();
  content_length_.reset();
  transfer_encoding_ = false;
  malformed_ = false;
  verdict_ = Verdict::kReading;
}

absl::StatusOr<RequestHead> ParseRequestHead(absl::string_view head) {
  std::vector<absl::string_view> lines = absl::StrSplit(head, '\n');
  for (absl::string_view& line : lines) absl::ConsumeSuffix(&line, "\r");
  const std::vector<absl::string_view> parts = absl::StrSplit(lines[0], ' ');
  const auto is_method_char = [](char c) {
    return absl::ascii_isupper(c) || absl::ascii_isdigit(c) || c == '-' || c == '_';
  };
  if (parts.size() != 3 || parts[0].empty() || parts[1].empty() ||
      !std::all_of(parts[0].begin(), parts[0].end(), is_method_char)) {
    return absl::InvalidArgumentError("malformed request line");
  }
  if (parts[2] != "HTTP/1.1" && parts[2] != "HTTP/1.0") {
    return absl::InvalidArgumentError("not HTTP/1.0 or HTTP/1.1");
  }
  RequestHead parsed{std::string(parts[0]), std::string(parts[1]), parts[2] == "HTTP/1.1", 0};
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::optional<HeaderField> field = SplitHeaderLine(lines[i]);
    if (!field) continue;  // the blank line, or one to ignore
    const auto [name, value] = *field;
    if (absl::EqualsIgnoreCase(name, "Connection")) {
      if (absl::EqualsIgnoreCase(value, "close")) parsed.keep_alive = false;
      if (absl::EqualsIgnoreCase(value, "keep-alive")) parsed.keep_alive = true;
    } else if (absl::EqualsIgnoreCase(name, "Content-Length")) {
      // RequestHeadScanner has checked it is one number within the limit.
      if (!absl::SimpleAtoi(value, &parsed.content_length)) {
        return absl::InvalidArgumentError("malformed Content-Length");
      }
    }
  }
  return parsed;
}

}  // namespace pong
