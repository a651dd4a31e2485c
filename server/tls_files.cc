#include "server/tls_files.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "server/authorizer.h"

namespace pong {
namespace {

// PEM files far larger than any certificate chain are a wrong path.
constexpr size_t kMaxPemSize = 1 << 20;

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

std::unique_ptr<BIO, BioFree> MemoryBio(const std::string& pem) {
  return std::unique_ptr<BIO, BioFree>(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

absl::Status Invalid(absl::string_view flag, const std::string& path, absl::string_view what) {
  ERR_clear_error();  // OpenSSL's queue is per thread; leave nothing for gRPC to find
  return absl::FailedPreconditionError(absl::StrCat(flag, " ", path, " ", what));
}

}  // namespace

absl::StatusOr<TlsKeyCert> ReadTlsKeyCert(const std::string& cert_path,
                                          const std::string& key_path) {
  absl::StatusOr<std::string> cert = ReadFlagFile("--tls_cert", cert_path, {kMaxPemSize, 0});
  if (!cert.ok()) return cert.status();
  // Group may read a key (Debian's ssl-cert group does); others may not.
  absl::StatusOr<std::string> key = ReadFlagFile("--tls_key", key_path, {kMaxPemSize, 007});
  if (!key.ok()) return key.status();

  std::unique_ptr<X509, X509Free> x509(
      PEM_read_bio_X509(MemoryBio(*cert).get(), nullptr, nullptr, nullptr));
  if (x509 == nullptr) return Invalid("--tls_cert", cert_path, "holds no PEM certificate");
  // No passphrase callback: an encrypted key fails here instead of prompting.
  const auto no_passphrase = [](char*, int, int, void*) { return 0; };
  std::unique_ptr<EVP_PKEY, PkeyFree> pkey(
      PEM_read_bio_PrivateKey(MemoryBio(*key).get(), nullptr, no_passphrase, nullptr));
  if (pkey == nullptr) {
    return Invalid("--tls_key", key_path, "holds no unencrypted PEM private key");
  }
  if (X509_check_private_key(x509.get(), pkey.get()) != 1) {
    return Invalid("--tls_key", key_path,
                   absl::StrCat("is not the key of the certificate in --tls_cert ", cert_path));
  }
  return TlsKeyCert{*std::move(cert), *std::move(key)};
}

}  // namespace pong
