// dagctl's commands: one function per command, each a Client call followed
// by formatting. main() only parses arguments and wires in the real
// streams, clock and connection, so tests run every command against the
// generated mock stub.
#ifndef DAGD_CLIENT_DAGCTL_COMMANDS_H_
#define DAGD_CLIENT_DAGCTL_COMMANDS_H_

#include <functional>
#include <iosfwd>
#include <string>

#include "absl/time/time.h"
#include "client/client.h"
#include "client/dagctl/args.h"

namespace dagd::dagctl {

// What the outside world supplies to a command. Pointers are not owned.
struct Io {
  std::ostream* out;  // results: tables, ids, result bytes
  std::ostream* err;  // "dagctl: ..." errors and hints
  std::istream* in;   // the job for `submit -`
  // On a terminal, `watch` redraws one line, a progress bar with an ETA;
  // otherwise it prints a line per change, which reads well in logs.
  bool out_is_terminal = false;
  std::function<absl::Time()> now;
  // A fresh request id for a submission given no --request_id, so that
  // sending it again after a lost connection cannot make a second job.
  // Null: such submissions go without one (and are not sent again).
  std::function<std::string()> new_request_id;
};

// Runs `invocation` (already parsed; not help) and returns the exit code
// (see exit_code.h).
int RunCommand(const Invocation& invocation, Client& client, const Io& io);

}  // namespace dagd::dagctl

#endif  // DAGD_CLIENT_DAGCTL_COMMANDS_H_
