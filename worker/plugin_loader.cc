#include "worker/plugin_loader.h"

#include <dlfcn.h>

#include "absl/strings/str_cat.h"

namespace dagd {

absl::Status LoadPlugin(const std::string& path, FunctionRegistry* registry) {
  // dlopen searches the library path for a bare name; a user who passes
  // "libfoo.so" for a file in the current folder means that file.
  std::string target =
      path.find('/') == std::string::npos ? absl::StrCat("./", path) : path;
  // RTLD_LOCAL keeps one plugin's symbols from resolving another's.
  void* handle = dlopen(target.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot load plugin ", path, ": ", dlerror()));
  }
  dlerror();  // clear, so a stale message cannot be mistaken for ours
  auto entry =
      reinterpret_cast<PluginEntryPoint>(dlsym(handle, kPluginEntryPoint));
  if (entry == nullptr) {
    const char* error = dlerror();
    absl::Status status = absl::FailedPreconditionError(
        absl::StrCat("plugin ", path, " does not export ", kPluginEntryPoint,
                     ": ", error != nullptr ? error : "symbol is null"));
    dlclose(handle);
    return status;
  }
  int code = entry(registry);
  if (code != 0) {
    // Functions it registered before failing may point into it, so it stays
    // loaded; the caller is expected to give up anyway.
    return absl::AbortedError(absl::StrCat(
        "plugin ", path, ": ", kPluginEntryPoint, " returned ", code));
  }
  return absl::OkStatus();
}

}  // namespace dagd
