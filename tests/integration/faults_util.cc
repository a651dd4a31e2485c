#include "tests/integration/faults_util.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace pong::testing {

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "pong-faults-XXXXXX").string();
  if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::WriteFile(const std::string& name, const std::string& content) const {
  const std::string file = path_ + "/" + name;
  std::ofstream(file, std::ios::trunc) << content;
  chmod(file.c_str(), 0600);
  return file;
}

std::vector<FirstSend> FirstSends(const PongPair& pair) {
  std::vector<FirstSend> sends;
  for (int from : {0, 1}) {
    const Instance& instance = from == 0 ? pair.first : pair.second;
    for (const LogLine& line : ReadLog(instance.log_path)) {
      for (uint64_t seq : SeqsOf({line}, "ping sent seq=")) sends.push_back({seq, from, line.at});
    }
  }
  std::stable_sort(sends.begin(), sends.end(),
                   [](const FirstSend& a, const FirstSend& b) { return a.seq < b.seq; });
  return sends;
}

std::string OneBallProblems(const PongPair& pair) {
  std::string problems;
  const std::vector<FirstSend> sends = FirstSends(pair);
  if (sends.empty()) return "no ping was sent";
  for (size_t i = 0; i < sends.size(); ++i) {
    if (sends[i].seq != i + 1) {
      absl::StrAppend(&problems, "the ", i + 1, "th first send is seq ", sends[i].seq,
                      " (a gap or a seq sent twice)\n");
      break;
    }
    if (sends[i].from != (sends[i].seq % 2 == 1 ? 0 : 1)) {
      absl::StrAppend(&problems, "seq ", sends[i].seq, " sent by the wrong instance\n");
    }
  }
  for (int to : {0, 1}) {
    const Instance& receiver = to == 0 ? pair.first : pair.second;
    const std::vector<uint64_t> got =
        SeqsOf(ReadLog(receiver.log_path), "ping received seq=", " game=");
    std::vector<uint64_t> sent;
    for (const FirstSend& send : sends) {
      if (send.from != to) sent.push_back(send.seq);
    }
    const bool all = got == sent;
    const bool all_but_last =
        !sent.empty() && got == std::vector<uint64_t>(sent.begin(), sent.end() - 1);
    if (!all && !all_but_last) {
      absl::StrAppend(&problems, receiver.name, " took ", got.size(), " pings of the ", sent.size(),
                      " its peer sent, not each once in order\n");
    }
  }
  return problems;
}

RunResult SetUpCli(const PongPair& pair, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {absl::StrCat("--lead_ms=", Scaled(1000))};
  argv.insert(argv.end(), args.begin(), args.end());
  return pair.Cli(argv);
}

uint64_t MaxSeq(const PongPair& pair) {
  return std::max(pair.first.Status().last_seq(), pair.second.Status().last_seq());
}

std::string JsonField(const std::string& json, const std::string& key) {
  const std::string open = absl::StrCat("\"", key, "\":\"");
  const size_t start = json.find(open);
  if (start == std::string::npos) return "";
  const size_t end = json.find('"', start + open.size());
  return end == std::string::npos ? ""
                                  : json.substr(start + open.size(), end - start - open.size());
}

std::string BothLogs(const PongPair& pair) {
  return absl::StrCat("first log:\n", pair.first.Log(), "\nsecond log:\n", pair.second.Log());
}

}  // namespace pong::testing
