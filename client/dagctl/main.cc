// dagctl: the command-line client of a dagd coordinator. See `dagctl --help`.
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "client/client.h"
#include "client/dagctl/args.h"
#include "client/dagctl/commands.h"
#include "client/dagctl/exit_code.h"

int main(int argc, char** argv) {
  using namespace dagd::dagctl;  // NOLINT(build/namespaces): main only
  const std::vector<std::string> args(argv + 1, argv + argc);
  const char* env_server = std::getenv("DAGD_SERVER");
  absl::StatusOr<Invocation> invocation =
      ParseArgs(args, env_server != nullptr ? env_server : "");
  if (!invocation.ok()) {
    std::cerr << "dagctl: " << invocation.status().message() << "\n";
    return kExitUsage;
  }
  if (WantsHelp(*invocation)) {
    std::cout << HelpText(*invocation);
    return kExitOk;
  }
  dagd::ClientOptions client_options;
  client_options.call_timeout = invocation->options.timeout;
  std::unique_ptr<dagd::Client> client =
      dagd::Client::Connect(invocation->options.server, client_options);
  Io io;
  io.out = &std::cout;
  io.err = &std::cerr;
  io.in = &std::cin;
  io.out_is_terminal = isatty(STDOUT_FILENO) == 1;
  io.now = [] { return absl::Now(); };
  return RunCommand(*invocation, *client, io);
}
