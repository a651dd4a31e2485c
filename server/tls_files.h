#ifndef PONG_SERVER_TLS_FILES_H_
#define PONG_SERVER_TLS_FILES_H_

#include <string>

#include "absl/status/statusor.h"

namespace pong {

// The control plane's TLS identity, as PEM.
struct TlsKeyCert {
  std::string cert_chain;
  std::string private_key;
};

// Reads --tls_cert and --tls_key and checks them with OpenSSL before gRPC sees them, so a
// mistake is named at start-up. FAILED_PRECONDITION, naming the flag and the path (never
// the key), when a file cannot be read, the key file is readable by others, the cert
// file holds no PEM certificate, the key file no PEM private key, or the key is not the
// certificate's.
absl::StatusOr<TlsKeyCert> ReadTlsKeyCert(const std::string& cert_path,
                                          const std::string& key_path);

}  // namespace pong

#endif  // PONG_SERVER_TLS_FILES_H_
