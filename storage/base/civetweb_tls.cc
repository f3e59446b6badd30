#include "storage/base/civetweb_tls.h"

#include <dlfcn.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"

namespace dagd {

// Generated from the shims at build time (embed_shim.cmake).
extern const unsigned char kLibSslShim[];
extern const size_t kLibSslShimSize;
extern const unsigned char kLibCryptoShim[];
extern const size_t kLibCryptoShimSize;

namespace {

// Loads the shared library `bytes` from a memfd named `name`; the library
// stays loaded for the life of the process.
absl::Status LoadFromMemory(const char* name, const unsigned char* bytes,
                            size_t size) {
  const int fd = memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("memfd_create for ", name, ": ", strerror(errno)));
  }
  size_t written = 0;
  while (written < size) {
    const ssize_t n = write(fd, bytes + written, size - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = strerror(errno);
      close(fd);
      return absl::UnavailableError(
          absl::StrCat("writing ", name, " to a memfd: ", why));
    }
    written += static_cast<size_t>(n);
  }
  const std::string path = absl::StrCat("/proc/self/fd/", fd);
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  // The descriptor stays open: glibc finds a loaded library by the path it
  // was loaded from, so a later load from a reused descriptor number would
  // get this library instead of its own.
  if (handle == nullptr) {
    close(fd);
    const char* why = dlerror();
    return absl::UnavailableError(
        absl::StrCat("loading ", name,
                     " for civetweb's TLS: ", why ? why : "dlopen failed"));
  }
  return absl::OkStatus();  // never closed: civetweb holds it
}

absl::Status Load() {
  // libcrypto first: the libssl stand-in depends on libssl.so.3, which
  // depends on libcrypto.so.3 either way.
  if (absl::Status s = LoadFromMemory("dagd-libcrypto-shim", kLibCryptoShim,
                                      kLibCryptoShimSize);
      !s.ok()) {
    return s;
  }
  return LoadFromMemory("dagd-libssl-shim", kLibSslShim, kLibSslShimSize);
}

}  // namespace

absl::Status PrepareCivetwebTls() {
  static const absl::Status* const loaded = new absl::Status(Load());
  return *loaded;
}

}  // namespace dagd
