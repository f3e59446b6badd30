// A stand-in for "libcrypto.so" inside dagd (see civetweb_tls.h): it adds
// nothing, it only depends on libcrypto.so.3, which supplies what civetweb
// looks up, so that no libcrypto.so (libssl-dev's) is needed at run time.
extern "C" {
__attribute__((visibility("default"))) int dagd_libcrypto_shim = 1;
}
