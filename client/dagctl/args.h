// dagctl's command line: commands, flags and the help text.
//
// Hand-rolled rather than absl flags: flags are values in an Invocation, not
// process globals, so the parser is a pure function that tests call
// directly, and `-o json` (a short flag with a separate value) works.
#ifndef DAGD_CLIENT_DAGCTL_ARGS_H_
#define DAGD_CLIENT_DAGCTL_ARGS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace dagd::dagctl {

inline constexpr absl::string_view kDefaultServer = "127.0.0.1:7700";

struct Options {
  // Global flags.
  std::string server;  // --server, else $DAGD_SERVER, else kDefaultServer
  std::string token;   // --token (main falls back to $DAGD_TOKEN)
  std::string tls_ca;  // --tls_ca: a PEM file; set, dagctl speaks TLS
  // --tls_cert, --tls_key: a client certificate instead of a token
  std::string tls_cert;
  std::string tls_key;
  bool json = false;  // -o json / --output=json
  bool help = false;  // -h / --help
  // --timeout: the deadline of a request, waiting for an unreachable dagd
  // included.
  absl::Duration timeout = absl::Seconds(30);
  // Command flags; ParseArgs rejects them on commands they do not apply to.
  bool wait = false;       // submit --wait
  std::string request_id;  // submit --request_id
  // watch, submit --reconnect_timeout: how long to wait for a lost dagd.
  absl::Duration reconnect_timeout = absl::Seconds(60);
  uint32_t page_size = 0;  // jobs --page_size (0: the server's default)
  std::string page_token;  // jobs --page_token
  bool all_pages = false;  // jobs --all
};

struct Invocation {
  std::string command;            // empty when only --help was given
  std::vector<std::string> args;  // positional arguments after the command
  Options options;
};

// Parses the arguments after the program name. Flags may come anywhere
// ("dagctl submit job.json --wait"), as --name=value, --name value, or for
// booleans --name; "-" is a positional (stdin); "--" ends the flags. Errors
// (INVALID_ARGUMENT) say what is wrong and show the command's usage.
absl::StatusOr<Invocation> ParseArgs(const std::vector<std::string>& args,
                                     absl::string_view env_server);

// True for `dagctl help ...` and any --help.
bool WantsHelp(const Invocation& invocation);
// The overview ("dagctl --help"), or one command's help ("dagctl help
// submit", "dagctl submit --help").
std::string HelpText(const Invocation& invocation);

}  // namespace dagd::dagctl

#endif  // DAGD_CLIENT_DAGCTL_ARGS_H_
