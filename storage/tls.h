// TLS for dagd's gRPC connections: the coordinator's port (clients and
// workers), from PEM files named by flags.
//
// A coordinator with a certificate serves TLS only. Given a CA for
// workers, it asks every peer for a client certificate and verifies any
// that is presented against that CA; clients (dagctl, the libraries) send
// none and prove who they are with tokens, workers send theirs, and
// WorkerService refuses a stream whose peer presented none
// (PeerCommonName).
#ifndef DAGD_STORAGE_TLS_H_
#define DAGD_STORAGE_TLS_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/grpcpp.h"

namespace dagd {

// The files of one side of a connection; empty paths are unset.
struct TlsFiles {
  std::string cert;  // PEM certificate chain this side presents
  std::string key;   // PEM private key of `cert`
  std::string ca;    // PEM CA certificates that sign the other side's
};

// The contents of PEM file `path`; INVALID_ARGUMENT naming `flag` when it
// cannot be read or holds no PEM block.
absl::StatusOr<std::string> ReadPemFile(const std::string& path,
                                        absl::string_view flag);

// What the coordinator listens with: insecure without a certificate; TLS
// with one, asking for client certificates signed by `files.ca` when set.
// Errors name the flags (--tls_cert, --tls_key, --worker_ca).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const TlsFiles& files);

// What a worker's DataService (its held results) listens with: insecure
// without a certificate; TLS with the worker's own `files.cert` and
// `files.key`, requiring every reader to present a certificate signed by
// `files.ca` (dagd's and the other workers'). Its certificate must name the
// worker (make-certs.sh gives it DNS:NAME): readers check that name.
// Errors name the worker's flags (--tls_cert, --tls_key, --tls_ca).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> DataServerCredentials(
    const TlsFiles& files);

// What a worker or client connects with: insecure unless `files.ca` is
// set; then TLS checking the server against it, presenting `files.cert`
// (with `files.key`) if set. Errors name the flags (--tls_ca, --tls_cert,
// --tls_key).
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentials(
    const TlsFiles& files);

// The common name of the certificate the peer of `context` presented and
// the server verified; nullopt when it presented none (or the connection
// is not TLS).
std::optional<std::string> PeerCommonName(
    const grpc::ServerContextBase& context);

// Whether `address` ("host:port") can only be reached from this machine:
// 127.0.0.0/8, [::1], localhost.
bool IsLoopbackAddress(absl::string_view address);

}  // namespace dagd

#endif  // DAGD_STORAGE_TLS_H_
