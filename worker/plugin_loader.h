// Loads function plugins: shared libraries that export
//   extern "C" int dagd_register_functions(dagd::FunctionRegistry* registry);
// which returns 0 on success. A plugin stays loaded for the life of the
// process, since the functions it registered point into it.
#ifndef DAGD_WORKER_PLUGIN_LOADER_H_
#define DAGD_WORKER_PLUGIN_LOADER_H_

#include <string>

#include "absl/status/status.h"
#include "worker/function_registry.h"

namespace dagd {

inline constexpr char kPluginEntryPoint[] = "dagd_register_functions";
using PluginEntryPoint = int (*)(FunctionRegistry*);

// dlopen()s `path` and calls its entry point with `registry`. Errors name
// the file: FAILED_PRECONDITION with dlerror()'s text when it cannot be
// loaded or lacks the entry point, ABORTED when the entry point returns
// non-zero. Call at startup, before the registry is shared with other
// threads.
absl::Status LoadPlugin(const std::string& path, FunctionRegistry* registry);

}  // namespace dagd

#endif  // DAGD_WORKER_PLUGIN_LOADER_H_
