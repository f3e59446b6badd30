#include "client/dagctl/args.h"

#include <algorithm>
#include <functional>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace dagd::dagctl {
namespace {

struct FlagSpec {
  absl::string_view name;
  char short_name;  // 0: none
  bool takes_value;
  absl::string_view value_name;  // for the help text
  absl::string_view help;
  std::function<absl::Status(absl::string_view value, Options&)> set;
};

struct CommandSpec {
  absl::string_view name;
  absl::string_view arguments;  // as shown in usage, e.g. "JOB TASK"
  size_t min_args;
  size_t max_args;
  std::vector<absl::string_view> flags;  // command flags, beyond the globals
  absl::string_view summary;
  // Set for a command with a single output format: why -o json is a usage
  // error (rather than silently ignored) and what to run instead.
  absl::string_view no_json = "";
  // More for `dagctl help COMMAND`, after the summary.
  absl::string_view details = "";
};

absl::StatusOr<bool> ParseBool(absl::string_view name,
                               absl::string_view value) {
  bool result = false;
  if (value.empty()) return true;  // a bare --wait
  if (!absl::SimpleAtob(value, &result)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " takes true or false, not \"", value, "\""));
  }
  return result;
}

const std::vector<FlagSpec>& GlobalFlags() {
  static const auto* const kFlags = new std::vector<FlagSpec>{
      {"server", 0, true, "HOST:PORT",
       "the coordinator ($DAGD_SERVER, else 127.0.0.1:7700)",
       [](absl::string_view v, Options& o) {
         o.server = std::string(v);
         return absl::OkStatus();
       }},
      {"token", 0, true, "TOKEN",
       "a token of dagd's --tokens_file ($DAGD_TOKEN)",
       [](absl::string_view v, Options& o) {
         o.token = std::string(v);
         return absl::OkStatus();
       }},
      {"tls_ca", 0, true, "FILE",
       "connect over TLS, trusting the CA certificates (PEM) in FILE",
       [](absl::string_view v, Options& o) {
         o.tls_ca = std::string(v);
         return absl::OkStatus();
       }},
      {"tls_cert", 0, true, "FILE",
       "with --tls_ca: present this PEM client certificate (one dagd's "
       "--tokens_file names as cert:COMMON-NAME) instead of a token",
       [](absl::string_view v, Options& o) {
         o.tls_cert = std::string(v);
         return absl::OkStatus();
       }},
      {"tls_key", 0, true, "FILE", "the private key (PEM) of --tls_cert",
       [](absl::string_view v, Options& o) {
         o.tls_key = std::string(v);
         return absl::OkStatus();
       }},
      {"output", 'o', true, "FORMAT",
       "text (default) or json (proto3 JSON, one per line; not for graph)",
       [](absl::string_view v, Options& o) {
         if (v != "json" && v != "text") {
           return absl::InvalidArgumentError(
               absl::StrCat("--output takes json or text, not \"", v, "\""));
         }
         o.json = v == "json";
         return absl::OkStatus();
       }},
      {"timeout", 0, true, "DURATION",
       "per-request deadline, waiting for an unreachable dagd included "
       "(default 30s; watch has none)",
       [](absl::string_view v, Options& o) {
         if (!absl::ParseDuration(v, &o.timeout) ||
             o.timeout <= absl::ZeroDuration()) {
           return absl::InvalidArgumentError(absl::StrCat(
               "--timeout takes a positive duration like 30s, not \"", v,
               "\""));
         }
         return absl::OkStatus();
       }},
      {"help", 'h', false, "", "show help",
       [](absl::string_view v, Options& o) {
         absl::StatusOr<bool> b = ParseBool("help", v);
         if (b.ok()) o.help = *b;
         return b.status();
       }},
  };
  return *kFlags;
}

const std::vector<FlagSpec>& CommandFlags() {
  static const auto* const kFlags = new std::vector<FlagSpec>{
      {"wait", 0, false, "",
       "submit: wait for the job to end; exit 1 if it failed",
       [](absl::string_view v, Options& o) {
         absl::StatusOr<bool> b = ParseBool("wait", v);
         if (b.ok()) o.wait = *b;
         return b.status();
       }},
      {"request_id", 0, true, "ID",
       "submit: a retry with the same ID returns the same job "
       "(default: a new random ID)",
       [](absl::string_view v, Options& o) {
         o.request_id = std::string(v);
         return absl::OkStatus();
       }},
      {"reconnect_timeout", 0, true, "DURATION",
       "watch, submit --wait: how long to wait for a lost dagd to come "
       "back (default 60s; 0s: not at all)",
       [](absl::string_view v, Options& o) {
         if (!absl::ParseDuration(v, &o.reconnect_timeout) ||
             o.reconnect_timeout < absl::ZeroDuration()) {
           return absl::InvalidArgumentError(absl::StrCat(
               "--reconnect_timeout takes a duration like 60s, not \"", v,
               "\""));
         }
         return absl::OkStatus();
       }},
      {"page_size", 0, true, "N", "jobs: jobs per page (server default 100)",
       [](absl::string_view v, Options& o) {
         if (!absl::SimpleAtoi(v, &o.page_size)) {
           return absl::InvalidArgumentError(
               absl::StrCat("--page_size takes a number, not \"", v, "\""));
         }
         return absl::OkStatus();
       }},
      {"page_token", 0, true, "TOKEN", "jobs: continue from an earlier page",
       [](absl::string_view v, Options& o) {
         o.page_token = std::string(v);
         return absl::OkStatus();
       }},
      {"all", 0, false, "", "jobs: follow the pages to the last",
       [](absl::string_view v, Options& o) {
         absl::StatusOr<bool> b = ParseBool("all", v);
         if (b.ok()) o.all_pages = *b;
         return b.status();
       }},
  };
  return *kFlags;
}

const std::vector<CommandSpec>& Commands() {
  static const auto* const kCommands = new std::vector<CommandSpec>{
      {"submit",
       "FILE|-",
       1,
       1,
       {"wait", "request_id", "reconnect_timeout"},
       "submit a JSON job (- reads stdin); print its id",
       /*no_json=*/"",
       "A submission whose connection breaks (dagd restarting) is sent again,\n"
       "with the same request id, until --timeout: dagd keeps one job per "
       "id,\n"
       "so it is never submitted twice. --wait then follows that job, "
       "through\n"
       "restarts of dagd, as watch does.\n"},
      {"status", "JOB", 1, 1, {}, "state, progress, failed and waiting tasks"},
      {"watch",
       "JOB",
       1,
       1,
       {"reconnect_timeout"},
       "live progress until the job ends",
       /*no_json=*/"",
       "On a terminal, one line redrawn in place:\n"
       "  [#########-----------] 45% 920/2047 done  12 running  1 failed  "
       "elapsed 3.2s  ETA 3.9s\n"
       "The ETA comes from the rate tasks finished since the watch began\n"
       "(\"ETA -\" until one has). Piped, a plain line per change; with -o "
       "json,\n"
       "each event as JSON on its own line. The exit code is that of "
       "status.\n\n"
       "When dagd goes away (killed, restarting), watch says so on stderr,\n"
       "waits for it up to --reconnect_timeout and goes on from the job's\n"
       "state then (with -o json, a new snapshot event); it says so again\n"
       "when dagd is back.\n"},
      {"cancel", "JOB", 1, 1, {}, "cancel a job"},
      {"delete",
       "JOB",
       1,
       1,
       {},
       "delete a finished job, its tasks and results",
       /*no_json=*/"",
       "Removes the job from dagd for good: its status, tasks, results and\n"
       "request id (a later submit with that id makes a new job). Its id is\n"
       "not reused. Only a finished job can be deleted; cancel a running one\n"
       "first. dagd also deletes finished jobs by itself once they have\n"
       "been finished for its --retention (default 7 days).\n"},
      {"result", "JOB TASK", 2, 2, {}, "print a task's result bytes, exactly"},
      {"jobs",
       "",
       0,
       0,
       {"page_size", "page_token", "all"},
       "list jobs, newest first"},
      {"tasks",
       "JOB",
       1,
       1,
       {},
       "each task's state, why it waits, and its attempts"},
      {"graph",
       "JOB",
       1,
       1,
       {},
       "the task graph as Graphviz DOT, states as colours",
       /*no_json=*/
       "graph prints Graphviz DOT only; for the tasks as JSON, "
       "run 'dagctl tasks JOB -o json'",
       "example: dagctl graph j1 | dot -Tsvg > j1.svg\n\n"
       "A node per task, labelled with its id and fn and filled by state:\n"
       "PENDING lightgrey, READY lightyellow, ASSIGNED and RUNNING "
       "lightblue,\n"
       "SUCCEEDED palegreen, FAILED salmon, UPSTREAM_FAILED orange, "
       "CANCELLED grey.\n"
       "Edges run from a task's inputs (solid) and its `after` dependencies\n"
       "(dashed) to the task. The output is always DOT: -o json is an error\n"
       "(dagctl tasks JOB -o json lists the tasks as JSON). Rendering needs\n"
       "Graphviz (Debian: apt-get install graphviz); for jobs of many\n"
       "thousands of tasks, sfdp -Tsvg lays out faster than dot.\n"},
      {"workers", "", 0, 0, {}, "list connected workers"},
      {"help", "[COMMAND]", 0, 1, {}, "show help"},
  };
  return *kCommands;
}

const CommandSpec* FindCommand(absl::string_view name) {
  for (const CommandSpec& command : Commands()) {
    if (command.name == name) return &command;
  }
  return nullptr;
}

// Looks a flag up by long name (with '-' accepted for '_') or short name.
const FlagSpec* FindFlag(absl::string_view name, bool is_short) {
  const std::string normalized = absl::StrReplaceAll(name, {{"-", "_"}});
  for (const auto* flags : {&GlobalFlags(), &CommandFlags()}) {
    for (const FlagSpec& flag : *flags) {
      if (is_short ? name.size() == 1 && flag.short_name == name[0]
                   : flag.name == normalized) {
        return &flag;
      }
    }
  }
  return nullptr;
}

bool IsGlobal(const FlagSpec& flag) {
  return std::any_of(GlobalFlags().begin(), GlobalFlags().end(),
                     [&](const FlagSpec& f) { return f.name == flag.name; });
}

std::string FlagUsage(const FlagSpec& flag) {
  return flag.takes_value ? absl::StrCat("--", flag.name, "=", flag.value_name)
                          : absl::StrCat("--", flag.name);
}

std::string CommandUsage(const CommandSpec& command) {
  std::string usage = absl::StrCat("dagctl ", command.name);
  if (!command.arguments.empty())
    absl::StrAppend(&usage, " ", command.arguments);
  for (absl::string_view name : command.flags) {
    absl::StrAppend(&usage, " [", FlagUsage(*FindFlag(name, false)), "]");
  }
  return usage;
}

absl::Status UsageError(absl::string_view problem, const CommandSpec* command) {
  return absl::InvalidArgumentError(absl::StrCat(
      problem, "\nusage: ",
      command != nullptr ? CommandUsage(*command)
                         : "dagctl [--server=HOST:PORT] [-o json] COMMAND ...",
      "\nrun 'dagctl --help' for more"));
}

// Consumes the flag at args[*i] (and its value, if separate).
absl::Status ParseFlag(const std::vector<std::string>& args, size_t* i,
                       std::vector<const FlagSpec*>& seen, Options& options) {
  absl::string_view arg = args[*i];
  const bool is_short = !absl::StartsWith(arg, "--");
  arg.remove_prefix(is_short ? 1 : 2);
  absl::string_view name = arg;
  absl::string_view value;
  const size_t eq = arg.find('=');
  const bool has_value = eq != absl::string_view::npos;
  if (has_value) {
    name = arg.substr(0, eq);
    value = arg.substr(eq + 1);
  }
  const FlagSpec* flag = FindFlag(name, is_short);
  if (flag == nullptr) {
    return UsageError(absl::StrCat("unknown flag ", args[*i]), nullptr);
  }
  if (flag->takes_value && !has_value) {
    if (*i + 1 >= args.size()) {
      return UsageError(absl::StrCat(args[*i], " needs a value"), nullptr);
    }
    value = args[++*i];
  }
  seen.push_back(flag);
  return flag->set(value, options);
}

}  // namespace

absl::StatusOr<Invocation> ParseArgs(const std::vector<std::string>& args,
                                     absl::string_view env_server) {
  Invocation invocation;
  invocation.options.server =
      std::string(env_server.empty() ? kDefaultServer : env_server);
  std::vector<std::string> positional;
  std::vector<const FlagSpec*> seen;
  bool flags_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (!flags_done && arg == "--") {
      flags_done = true;
    } else if (!flags_done && arg.size() > 1 && arg[0] == '-') {
      if (absl::Status s = ParseFlag(args, &i, seen, invocation.options);
          !s.ok()) {
        return s;
      }
    } else {
      positional.push_back(arg);
    }
  }
  if (positional.empty()) {
    if (invocation.options.help) return invocation;
    return UsageError("no command given", nullptr);
  }
  invocation.command = positional.front();
  invocation.args.assign(positional.begin() + 1, positional.end());
  const CommandSpec* command = FindCommand(invocation.command);
  if (command == nullptr) {
    return UsageError(
        absl::StrCat("unknown command \"", invocation.command, "\""), nullptr);
  }
  if (invocation.options.help) return invocation;
  for (const FlagSpec* flag : seen) {
    if (!IsGlobal(*flag) &&
        std::find(command->flags.begin(), command->flags.end(), flag->name) ==
            command->flags.end()) {
      return UsageError(
          absl::StrCat("--", flag->name, " does not apply to ", command->name),
          command);
    }
  }
  if (invocation.options.json && !command->no_json.empty()) {
    return UsageError(
        absl::StrCat("-o json does not apply: ", command->no_json), command);
  }
  if (invocation.args.size() < command->min_args ||
      invocation.args.size() > command->max_args) {
    return UsageError(
        invocation.args.size() < command->min_args
            ? absl::StrCat(command->name, " needs ", command->arguments)
            : absl::StrCat("too many arguments for ", command->name),
        command);
  }
  // gRPC takes a port past 65535 modulo 65536: another dagd's, maybe.
  const std::string& server = invocation.options.server;
  if (const absl::string_view port =
          absl::string_view(server).substr(server.rfind(':') + 1);
      server.find(':') != std::string::npos && !port.empty() &&
      std::all_of(port.begin(), port.end(), absl::ascii_isdigit)) {
    uint64_t number = 0;
    if (!absl::SimpleAtoi(port, &number) || number == 0 || number > 65535) {
      return UsageError(absl::StrCat("--server (or $DAGD_SERVER) '", server,
                                     "': the port must be 1 to 65535"),
                        nullptr);
    }
  }
  return invocation;
}

bool WantsHelp(const Invocation& invocation) {
  return invocation.options.help || invocation.command == "help";
}

std::string HelpText(const Invocation& invocation) {
  absl::string_view topic = invocation.command;
  if (topic == "help") {
    // Both arms as string_views: a std::string arm would make the result a
    // temporary that `topic` would outlive.
    topic = invocation.args.empty()
                ? absl::string_view()
                : absl::string_view(invocation.args.front());
  }
  if (const CommandSpec* command = FindCommand(topic)) {
    std::string text = absl::StrCat("usage: ", CommandUsage(*command), "\n\n",
                                    command->summary, "\n");
    if (!command->details.empty()) {
      absl::StrAppend(&text, "\n", command->details);
    }
    for (absl::string_view name : command->flags) {
      const FlagSpec& flag = *FindFlag(name, false);
      absl::StrAppendFormat(&text, "  %-22s %s\n", FlagUsage(flag), flag.help);
    }
    return text;
  }
  std::string text =
      "dagctl: submit, watch and inspect jobs on a dagd coordinator\n\n"
      "usage: dagctl [global flags] COMMAND [arguments] [flags]\n\n"
      "commands:\n";
  for (const CommandSpec& command : Commands()) {
    absl::StrAppendFormat(&text, "  %-22s %s\n",
                          absl::StrCat(command.name, " ", command.arguments),
                          command.summary);
  }
  absl::StrAppend(&text, "\nglobal flags:\n");
  for (const FlagSpec& flag : GlobalFlags()) {
    const std::string usage =
        flag.short_name != 0
            ? absl::StrCat("-", std::string(1, flag.short_name), ", ",
                           FlagUsage(flag))
            : FlagUsage(flag);
    absl::StrAppendFormat(&text, "  %-22s %s\n", usage, flag.help);
  }
  absl::StrAppend(&text, "\ncommand flags:\n");
  for (const FlagSpec& flag : CommandFlags()) {
    absl::StrAppendFormat(&text, "  %-22s %s\n", FlagUsage(flag), flag.help);
  }
  absl::StrAppend(
      &text,
      "\nexit codes:\n"
      "  0  success\n"
      "  1  the job failed or was cancelled (submit --wait, status, watch)\n"
      "  2  bad usage, an invalid or unreadable job, an unknown job or task\n"
      "  3  the server is unreachable (or did not answer in time)\n"
      "  4  any other error the server reported\n"
      "  5  no or an unknown token, or a role that does not allow it\n");
  return text;
}

}  // namespace dagd::dagctl
