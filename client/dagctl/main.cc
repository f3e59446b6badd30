// dagctl: the command-line client of a dagd coordinator. See `dagctl --help`.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
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
  client_options.reconnect_timeout = invocation->options.reconnect_timeout;
  client_options.token = invocation->options.token;
  // A client certificate is an identity of its own: $DAGD_TOKEN, sent with
  // it, would be what counts.
  if (const char* env_token = std::getenv("DAGD_TOKEN");
      client_options.token.empty() && invocation->options.tls_cert.empty() &&
      env_token != nullptr) {
    client_options.token = env_token;
  }
  if (absl::Status s = dagd::CheckToken(client_options.token); !s.ok()) {
    std::cerr << "dagctl: "
              << (invocation->options.token.empty() ? "$DAGD_TOKEN" : "--token")
              << ": " << s.message() << "\n";
    return kExitUsage;
  }
  // The PEM file a flag names; false (after saying why) when unreadable.
  auto read_pem = [](const char* flag, const std::string& path,
                     std::string* pem) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    *pem = text.str();
    if (in && !pem->empty()) return true;
    std::cerr << "dagctl: --" << flag << ": cannot read '" << path << "'\n";
    return false;
  };
  const Options& flags = invocation->options;
  if (!flags.tls_ca.empty()) {
    if (!read_pem("tls_ca", flags.tls_ca, &client_options.tls_root_certs)) {
      return kExitUsage;
    }
    client_options.tls = true;
  }
  if (flags.tls_cert.empty() != flags.tls_key.empty() ||
      (!flags.tls_cert.empty() && flags.tls_ca.empty())) {
    std::cerr << "dagctl: --tls_cert and --tls_key go together, with "
                 "--tls_ca\n";
    return kExitUsage;
  }
  if (!flags.tls_cert.empty() &&
      (!read_pem("tls_cert", flags.tls_cert, &client_options.tls_cert_chain) ||
       !read_pem("tls_key", flags.tls_key, &client_options.tls_private_key))) {
    return kExitUsage;
  }
  std::unique_ptr<dagd::Client> client =
      dagd::Client::Connect(invocation->options.server, client_options);
  Io io;
  io.out = &std::cout;
  io.err = &std::cerr;
  io.in = &std::cin;
  io.out_is_terminal = isatty(STDOUT_FILENO) == 1;
  io.now = [] { return absl::Now(); };
  io.new_request_id = [] {
    // 128 random bits: no two submissions anywhere share an id.
    std::random_device random;
    std::uniform_int_distribution<uint64_t> bits;
    return absl::StrFormat("dagctl-%016x%016x", bits(random), bits(random));
  };
  return RunCommand(*invocation, *client, io);
}
