#include "tests/integration/test_pki.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tests/integration/process.h"

namespace pong::testing {
namespace {

// openssl with `args`; the empty string if it succeeded, else what went wrong.
std::string Openssl(std::vector<std::string> args) {
  args.insert(args.begin(), "openssl");
  // RunCommand execs argv[0] as given, so look openssl up through env's PATH search.
  args.insert(args.begin(), "/usr/bin/env");
  const RunResult r = RunCommand(args, std::chrono::seconds(30));
  if (r.exit_code == 0) return "";
  return absl::StrCat(absl::StrJoin(args, " "), ": exit ", r.exit_code, ": ", r.err);
}

// A self-signed CA certificate and its key.
std::string MakeCa(const std::string& cert, const std::string& key, const std::string& name) {
  return Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                  "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=" + name});
}

}  // namespace

TestPki::TestPki() {
  std::string pattern = (std::filesystem::temp_directory_path() / "pong-pki-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    error = "mkdtemp failed";
    return;
  }
  dir = pattern;
  ca_cert = dir + "/ca.pem";
  server_cert = dir + "/server.pem";
  server_key = dir + "/server.key";
  other_ca_cert = dir + "/other-ca.pem";
  const std::string csr = dir + "/server.csr";
  const std::string extensions = dir + "/server.ext";
  std::ofstream(extensions) << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
  error = MakeCa(ca_cert, dir + "/ca.key", "pong-test-ca");
  if (error.empty()) error = MakeCa(other_ca_cert, dir + "/other-ca.key", "pong-other-ca");
  if (error.empty()) {
    error = Openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-keyout", server_key, "-out", csr, "-subj", "/CN=localhost"});
  }
  if (error.empty()) {
    error = Openssl({"x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", dir + "/ca.key",
                     "-CAcreateserial", "-out", server_cert, "-days", "2", "-extfile", extensions});
  }
  if (error.empty())
    std::filesystem::permissions(
        server_key, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

TestPki::~TestPki() {
  std::error_code ignored;
  if (!dir.empty()) std::filesystem::remove_all(dir, ignored);
}

}  // namespace pong::testing
