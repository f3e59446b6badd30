// Certificates for tests of TLS: a CA and the certificates it signs, made
// with openssl into a directory of the test's own.
#ifndef DAGD_TESTS_TESTUTIL_PKI_H_
#define DAGD_TESTS_TESTUTIL_PKI_H_

#include <string>

#include "absl/status/status.h"

namespace dagd::testing {

// A CA in `dir`/NAME.{key,pem}, and certificates it signs into
// `dir`/NAME.{key,pem}.
class Pki {
 public:
  explicit Pki(std::string dir) : dir_(std::move(dir)) {}

  absl::Status MakeCa(const std::string& name);

  // A certificate for common name `cn` signed by `ca`, for both ends of a
  // connection (serverAuth and clientAuth), valid for 127.0.0.1, localhost
  // and the DNS name `cn` (as deploy/tls/make-certs.sh makes a worker's).
  absl::Status MakeCert(const std::string& ca, const std::string& name,
                        const std::string& cn);

  std::string Path(const std::string& name, const std::string& ext) const;
  // The PEM text of NAME.pem.
  std::string Pem(const std::string& name) const;

 private:
  const std::string dir_;
};

}  // namespace dagd::testing

#endif  // DAGD_TESTS_TESTUTIL_PKI_H_
