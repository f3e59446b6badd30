#include "worker/exec_function.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "worker/json_util.h"
#include "worker/subprocess.h"
#include "worker/temp_dir.h"

extern char** environ;

namespace dagd {
namespace {

// The files of one attempt, all inside its private temp dir.
struct AttemptFiles {
  std::unique_ptr<TempDir> dir;
  std::string inputs_dir;
  std::string work_dir;
  std::string output_path;
  std::string stdout_path;
  std::string stderr_path;
  std::vector<std::string> input_paths;  // input i is in input_paths[i]
};

// Gives the attempt's files to the user the program runs as: the folder
// stays 0700, private to that user. The folder goes last: until then the
// user cannot reach what is in it, so nothing there can have been swapped
// for a link (and lchown would change a link, not what it points at).
absl::Status GiveFiles(const AttemptFiles& files, const RunAs& user) {
  std::vector<std::string> paths = files.input_paths;
  paths.insert(paths.end(),
               {files.inputs_dir, files.work_dir, files.dir->path()});
  for (const std::string& path : paths) {
    if (lchown(path.c_str(), user.uid, user.gid) != 0) {
      return absl::InternalError(absl::StrCat(
          "exec: cannot give ", path, " to --exec_user ", user.name, ": ",
          strerror(errno), " (the worker must run as root to use it)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<AttemptFiles> PrepareFiles(const std::vector<Payload>& inputs) {
  auto dir = TempDir::Create("dagd-exec-");
  if (!dir.ok()) return dir.status();
  AttemptFiles files;
  const std::string& root = (*dir)->path();
  files.inputs_dir = absl::StrCat(root, "/inputs");
  files.work_dir = absl::StrCat(root, "/work");
  files.output_path = absl::StrCat(root, "/output");
  files.stdout_path = absl::StrCat(root, "/stdout");
  files.stderr_path = absl::StrCat(root, "/stderr");
  files.dir = *std::move(dir);
  for (const std::string& sub : {files.inputs_dir, files.work_dir}) {
    if (mkdir(sub.c_str(), 0700) != 0) {
      return absl::InternalError(absl::StrCat("cannot create ", sub));
    }
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::string path = absl::StrCat(files.inputs_dir, "/", i);
    if (auto status = WriteFile(path, inputs[i].bytes()); !status.ok()) {
      return status;
    }
    files.input_paths.push_back(std::move(path));
  }
  return files;
}

// What a task inherits of the worker's environment: what programs need
// to run, never the worker's credentials (AWS_*, tokens) or anything else
// the operator gave the worker alone.
constexpr absl::string_view kInherited[] = {
    "PATH", "HOME",   "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE",
    "TZ",   "TMPDIR", "USER", "LOGNAME",  "SHELL",  "PYTHONPATH"};

bool Inherited(absl::string_view name) {
  for (absl::string_view allowed : kInherited) {
    if (name == allowed) return true;
  }
  return false;
}

// The worker's environment as far as kInherited allows, overridden by
// args.env, then by the DAGD_ names (in one map, so a stale DAGD_OUTPUT
// cannot shadow ours).
std::vector<std::string> BuildEnv(const ExecArgs& args,
                                  const TaskContext& context,
                                  const AttemptFiles& files) {
  std::map<std::string, std::string> merged;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string text(*entry);
    size_t eq = text.find('=');
    if (eq != std::string::npos && Inherited(text.substr(0, eq))) {
      merged[text.substr(0, eq)] = text.substr(eq + 1);
    }
  }
  for (const auto& [name, value] : args.env) merged[name] = value;
  merged["DAGD_JOB_ID"] = context.job_id();
  merged["DAGD_TASK_ID"] = context.task_id();
  merged["DAGD_ATTEMPT"] = absl::StrCat(context.attempt());
  merged["DAGD_INPUTS_DIR"] = files.inputs_dir;
  merged["DAGD_OUTPUT"] = files.output_path;
  merged["DAGD_WORK_DIR"] = files.work_dir;
  for (size_t i = 0; i < files.input_paths.size(); ++i) {
    merged[absl::StrCat("DAGD_INPUT_", i)] = files.input_paths[i];
  }
  std::vector<std::string> env;
  for (const auto& [name, value] : merged) {
    env.push_back(absl::StrCat(name, "=", value));
  }
  return env;
}

absl::Status ExitError(const SubprocessExit& exit,
                       const std::string& stderr_path) {
  std::string what = exit.exited
                         ? absl::StrCat("exit status ", exit.exit_code)
                         : absl::StrCat("killed by signal ", exit.signal, " (",
                                        SignalName(exit.signal), ")");
  std::string tail = ReadFileTail(stderr_path, kStderrTailBytes);
  if (tail.empty()) return absl::UnknownError(what);
  return absl::UnknownError(absl::StrCat(what, "; stderr: ", tail));
}

absl::StatusOr<Payload> CollectOutput(const AttemptFiles& files,
                                      uint64_t max_bytes) {
  auto data = ReadFile(files.output_path, max_bytes);
  // Not written: stdout is the output. There but no regular file: the
  // task fails, naming it.
  if (absl::IsNotFound(data.status())) {
    data = ReadFile(files.stdout_path, max_bytes);
  }
  if (absl::IsOutOfRange(data.status())) {
    // Over dagd's limit it would be dropped after the read; not read.
    return MakePermanent(absl::ResourceExhaustedError(
        absl::StrCat("exec: the output: ", data.status().message(),
                     " bytes (dagd's --max_result_bytes)")));
  }
  if (!data.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("exec: the output: ", data.status().message()));
  }
  bool is_json = ParseJson(*data).ok();
  return Payload{*std::move(data),
                 is_json ? kJsonContentType : kOctetStreamContentType};
}

absl::StatusOr<std::string> StringField(const google::protobuf::Value& value,
                                        absl::string_view what) {
  if (!value.has_string_value()) {
    return PermanentError(absl::StrCat(
        "exec: ", what, " must be a string, got ", ValueToJson(value)));
  }
  return value.string_value();
}

}  // namespace

absl::StatusOr<ExecArgs> ParseExecArgs(const google::protobuf::Value& args) {
  ExecArgs parsed;
  const google::protobuf::Value* argv = FindField(args, "argv");
  if (argv == nullptr || !argv->has_list_value() ||
      argv->list_value().values_size() == 0) {
    return PermanentError(
        "exec: args.argv must be a non-empty array of strings, e.g. "
        "{\"argv\": [\"echo\", \"hi\"]}");
  }
  for (int i = 0; i < argv->list_value().values_size(); ++i) {
    auto arg = StringField(argv->list_value().values(i),
                           absl::StrCat("args.argv[", i, "]"));
    if (!arg.ok()) return arg.status();
    parsed.argv.push_back(*std::move(arg));
  }
  if (const google::protobuf::Value* env = FindField(args, "env")) {
    if (!env->has_struct_value()) {
      return PermanentError("exec: args.env must be an object of strings");
    }
    for (const auto& [name, value] : env->struct_value().fields()) {
      auto text = StringField(value, absl::StrCat("args.env.", name));
      if (!text.ok()) return text.status();
      // "NAME=x" would set NAME, past the checks below, and a NUL would
      // cut the entry where the program reads it.
      if (name.empty() ||
          name.find_first_of(std::string("=\0", 2)) != std::string::npos) {
        return PermanentError(
            absl::StrCat("exec: args.env has a name '", absl::CHexEscape(name),
                         "' that is empty or holds '=' or a NUL"));
      }
      // The dynamic loader's variables would put code of the job's choice
      // into programs it did not choose (a setuid one, a shell's helpers).
      if (absl::StartsWith(name, "LD_") || name == "GCONV_PATH") {
        return PermanentError(
            absl::StrCat("exec: args.env.", name,
                         " is refused: variables of the dynamic loader (LD_*, "
                         "GCONV_PATH) are not passed to programs"));
      }
      parsed.env[name] = *std::move(text);
    }
  }
  return parsed;
}

absl::StatusOr<Payload> ExecFunction(TaskContext& context,
                                     const ExecOptions& options) {
  auto args = ParseExecArgs(context.args());
  if (!args.ok()) return args.status();
  auto files = PrepareFiles(context.inputs());
  if (!files.ok()) return files.status();
  if (options.run_as) {
    if (absl::Status s = GiveFiles(*files, *options.run_as); !s.ok()) return s;
  }
  SubprocessSpec spec{args->argv,         BuildEnv(*args, context, *files),
                      files->stdout_path, files->stderr_path,
                      options.run_as,     options.cgroups.get()};
  auto exit = RunSubprocess(spec, context);
  if (!exit.ok()) return exit.status();
  if (exit->cancelled) return absl::CancelledError("exec: cancelled");
  if (!exit->exited || exit->exit_code != 0) {
    return ExitError(*exit, files->stderr_path);
  }
  return CollectOutput(
      *files, options.max_output_bytes ? options.max_output_bytes() : 0);
}

}  // namespace dagd
