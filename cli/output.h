#ifndef PONG_CLI_OUTPUT_H_
#define PONG_CLI_OUTPUT_H_

#include <string>

#include "absl/status/status.h"
#include "cli/fanout.h"

namespace pong::cli {

// Everything pong-cli prints is formatted here. Free functions, thread-safe.

// What to print: `out` goes to stdout, `err` to stderr; each is empty or ends in '\n'.
struct Rendered {
  std::string out;
  std::string err;
};

// Text: one line per instance on stdout (label, address, outcome, state, detail); when the
// command did not succeed everywhere, what happened and how to recover on stderr.
// JSON: one object on stdout with the command, its ids, the exit code, a summary, the
// number of tries and the ones refused as late, and an object per instance (keyed by
// label), and nothing on stderr. Both describe the last try.
Rendered RenderCommand(const CommandReport& report, bool json);

// One line for stderr, said as a retry starts: the try came too late (which instance, what
// it said), nothing changed, and the next try's lead.
std::string RenderRetry(v1::CommandKind kind, const Retry& retry);

// Text: one line per instance on stdout; an instance that did not answer is also named on
// stderr. JSON: one object on stdout, each instance's GameStatus in proto3 JSON form.
Rendered RenderStatus(const StatusReport& report, bool json);

// One line for a usage error, with a pointer to --help.
std::string RenderUsageError(const absl::Status& error);

}  // namespace pong::cli

#endif  // PONG_CLI_OUTPUT_H_
