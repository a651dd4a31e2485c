#ifndef PONG_SERVER_REQUEST_HEAD_H_
#define PONG_SERVER_REQUEST_HEAD_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pong {

// Follows the head of one HTTP request (request line, header lines, blank line) through
// the bytes of a connection, in the order the parser reads them, and says as soon as it
// is over its size limit, announces a body over its limit, or cannot be HTTP at all.
// Pure.
class RequestHeadScanner {
 public:
  enum class Verdict {
    kReading,             // the head goes on
    kComplete,            // the blank line that ends it came; what follows is the body
    kRequestLineTooLong,  // 414: the request line alone is over the head limit
    kHeadTooLarge,        // 431: request line and headers together are over it
    kBodyTooLarge,        // 413: Content-Length over the body limit
    kLengthRequired,      // 411: a Transfer-Encoding, so a body of no declared size
    kMalformed,           // 400: a control or non-ASCII byte in the request line (TLS,
                          // garbage), a CR without its LF, or Content-Length not one
                          // number
  };

  // Limits of the whole head (line ends included) and of a declared body.
  RequestHeadScanner(size_t max_head_bytes, uint64_t max_body_bytes)
      : max_head_bytes_(max_head_bytes), max_body_bytes_(max_body_bytes) {}

  // Takes the next bytes; once the verdict is not kReading it stays, and later bytes
  // (a body) are not looked at.
  Verdict Feed(absl::string_view bytes);
  Verdict verdict() const { return verdict_; }
  // The bytes of the head fed so far; once kComplete, the head's whole length (its blank
  // line included), so what follows it in the last bytes fed is the body or a next request.
  size_t head_bytes() const { return bytes_; }
  // For the next request on the same connection.
  void Reset();

 private:
  // A header line has ended (without its line end).
  void EndHeaderLine();
  void EndHead();

  const size_t max_head_bytes_;
  const uint64_t max_body_bytes_;
  size_t bytes_ = 0;
  bool in_request_line_ = true;
  bool after_cr_ = false;  // the last byte was a CR
  std::string line_;       // the current header line, without CR and LF
  std::optional<std::string> content_length_;
  bool transfer_encoding_ = false;
  bool malformed_ = false;
  Verdict verdict_ = Verdict::kReading;
};

// A header line "Name: value" split at its first colon, the value without the
// whitespace around it; nullopt for a line without a colon.
struct HeaderField {
  absl::string_view name;
  absl::string_view value;
};
std::optional<HeaderField> SplitHeaderLine(absl::string_view line);

// What the server acts on in a head that RequestHeadScanner found complete.
struct RequestHead {
  std::string method;      // e.g. "GET"
  std::string target;      // as sent, e.g. "/ping?game=..&seq=.."
  bool keep_alive = true;  // HTTP/1.1 unless "Connection: close"; HTTP/1.0 only if asked
  uint64_t content_length = 0;
};

// Parses a complete head (request line, header lines, blank line, line ends as sent).
// INVALID_ARGUMENT unless the request line is "METHOD SP TARGET SP HTTP/1.x" (x 0 or 1)
// with a method of capitals, digits, '-' or '_'.
absl::StatusOr<RequestHead> ParseRequestHead(absl::string_view head);

}  // namespace pong

#endif  // PONG_SERVER_REQUEST_HEAD_H_
