// A stand-in for "libssl.so" inside dagd, so that Debian's civetweb 1.15
// can serve HTTPS with OpenSSL 3 (see civetweb_tls.h). It depends on
// libssl.so.3, which supplies every function civetweb looks up, and adds
// the one OpenSSL 3 renamed: SSL_get_peer_certificate (now a macro for
// SSL_get1_peer_certificate). Without it civetweb calls a null pointer
// after every TLS handshake.
#include <openssl/ssl.h>

#undef SSL_get_peer_certificate

extern "C" __attribute__((visibility("default"))) X509*
SSL_get_peer_certificate(const SSL* ssl) {
  return SSL_get1_peer_certificate(ssl);
}
