#ifndef PONG_TESTS_INTEGRATION_TEST_PKI_H_
#define PONG_TESTS_INTEGRATION_TEST_PKI_H_

#include <string>

namespace pong::testing {

// A throwaway CA and a server certificate it signed (SAN IP:127.0.0.1, DNS:localhost,
// P-256 keys, valid for two days), made with the openssl command in a fresh temporary
// folder that goes with this object. ok() is false, with the reason in error, when
// openssl is missing or failed.
class TestPki {
 public:
  TestPki();
  ~TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  bool ok() const { return error.empty(); }

  std::string dir;
  std::string ca_cert;        // PEM; what pong-cli --tls_ca trusts
  std::string server_cert;    // PEM, for --tls_cert
  std::string server_key;     // PEM, mode 0600, for --tls_key
  std::string other_ca_cert;  // a CA that signed nothing here
  std::string error;
};

}  // namespace pong::testing

#endif  // PONG_TESTS_INTEGRATION_TEST_PKI_H_
