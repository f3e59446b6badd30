// What Debian bookworm's civetweb (1.15) needs to serve HTTPS with OpenSSL
// 3, loaded into the process before it starts TLS.
//
// civetweb loads OpenSSL at run time: dlopen("libssl.so") and
// dlopen("libcrypto.so") (names only libssl-dev provides), then dlsym of
// each function it uses. OpenSSL 3 has no SSL_get_peer_certificate (a
// macro now), civetweb 1.15 keeps the null pointer it got for it and calls
// it after every handshake: the process crashes on its first HTTPS request
// (upstream: civetweb/civetweb#1334, open).
//
// PrepareCivetwebTls loads two small libraries built with dagd
// (civetweb_tls/*_shim.cc) from memory (memfd): one whose soname is
// "libssl.so", which depends on libssl.so.3 and adds
// SSL_get_peer_certificate, and one whose soname is "libcrypto.so",
// depending on libcrypto.so.3. glibc's dlopen of a name first looks among
// the libraries already loaded for one of that soname, so civetweb's
// dlopens get these, and its lookups resolve through them to OpenSSL 3.
#ifndef DAGD_STORAGE_BASE_CIVETWEB_TLS_H_
#define DAGD_STORAGE_BASE_CIVETWEB_TLS_H_

#include "absl/status/status.h"

namespace dagd {

// Loads the two libraries, once per process (later calls return the first
// one's result). Thread-safe. UNAVAILABLE saying why when they cannot be
// loaded.
absl::Status PrepareCivetwebTls();

}  // namespace dagd

#endif  // DAGD_STORAGE_BASE_CIVETWEB_TLS_H_
