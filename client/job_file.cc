#include "client/job_file.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <sys/stat.h>

#include <cerrno>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client/json_syntax.h"

namespace dagd {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

// Protobuf 3.21 words its schema errors as
//   "(tasks[0].retry) maxAttemptz: Cannot find field."
//   "(tasks[1].timeout): invalid value ..."
//   "name: Cannot find field."              (top level)
// These are the pieces of such a message.
struct SchemaError {
  std::string path;           // "tasks[0].retry"; empty at the top level
  std::string unknown_field;  // set for "Cannot find field."
  std::string detail;         // the rest of the message otherwise
};

SchemaError SplitSchemaError(absl::string_view message) {
  SchemaError error;
  if (absl::ConsumePrefix(&message, "(")) {
    const size_t close = message.find(')');
    if (close != absl::string_view::npos) {
      error.path = std::string(message.substr(0, close));
      message.remove_prefix(close + 1);
    }
  }
  absl::ConsumePrefix(&message, ":");
  message = absl::StripLeadingAsciiWhitespace(message);
  absl::string_view field = message;
  if (absl::ConsumeSuffix(&field, ": Cannot find field.")) {
    error.unknown_field = std::string(field);
  } else {
    error.detail = std::string(message);
  }
  return error;
}

// The message type that `path` (proto field names, "[i]" on repeated
// fields) leads to from JobSpec, or null if it leaves the schema.
const Descriptor* DescriptorAt(absl::string_view path) {
  const Descriptor* descriptor = v1::JobSpec::descriptor();
  if (path.empty()) return descriptor;
  for (absl::string_view part : absl::StrSplit(path, '.')) {
    const FieldDescriptor* field = descriptor->FindFieldByName(
        std::string(part.substr(0, part.find('['))));
    if (field == nullptr || field->message_type() == nullptr) return nullptr;
    descriptor = field->message_type();
  }
  return descriptor;
}

// Users know tasks by id, not by index: "tasks[3]" becomes
// "tasks[3] (task \"sum\")" when the text (already known to be well-formed)
// gives that task an id.
std::string NameTasks(absl::string_view path, absl::string_view text) {
  absl::string_view rest = path;
  size_t index = 0;
  if (!absl::ConsumePrefix(&rest, "tasks[")) return std::string(path);
  const size_t close = rest.find(']');
  if (close == absl::string_view::npos ||
      !absl::SimpleAtoi(rest.substr(0, close), &index)) {
    return std::string(path);
  }
  google::protobuf::Value root;
  if (!google::protobuf::util::JsonStringToMessage(
           google::protobuf::StringPiece(text.data(), text.size()), &root)
           .ok()) {
    return std::string(path);
  }
  const auto& fields = root.struct_value().fields();
  const auto tasks = fields.find("tasks");
  if (tasks == fields.end() ||
      index >= static_cast<size_t>(tasks->second.list_value().values_size())) {
    return std::string(path);
  }
  const auto& task =
      tasks->second.list_value().values(static_cast<int>(index)).struct_value();
  const auto id = task.fields().find("id");
  if (id == task.fields().end() || id->second.string_value().empty()) {
    return std::string(path);
  }
  const size_t task_end = path.size() - rest.size() + close + 1;
  return absl::StrCat(path.substr(0, task_end), " (task \"",
                      id->second.string_value(), "\")", path.substr(task_end));
}

absl::Status DescribeSchemaError(absl::string_view text,
                                 absl::string_view protobuf_message) {
  const SchemaError error = SplitSchemaError(protobuf_message);
  const std::string where = NameTasks(error.path, text);
  if (error.unknown_field.empty()) {
    if (error.detail == "Root element must be a message.") {
      return absl::InvalidArgumentError(
          "a job file must be a JSON object ({\"name\": ..., \"tasks\": "
          "[...]})");
    }
    return absl::InvalidArgumentError(
        where.empty() ? error.detail : absl::StrCat(where, ": ", error.detail));
  }
  std::string message = absl::StrCat("unknown field \"", error.unknown_field,
                                     "\"", where.empty() ? "" : " in ", where);
  if (const Descriptor* descriptor = DescriptorAt(error.path)) {
    std::vector<std::string> known;
    for (int i = 0; i < descriptor->field_count(); ++i) {
      known.push_back(descriptor->field(i)->name());
    }
    absl::StrAppend(&message, "; known fields: ", absl::StrJoin(known, ", "));
  }
  return absl::InvalidArgumentError(message);
}

}  // namespace

absl::StatusOr<v1::JobSpec> ParseJobSpecJson(absl::string_view text) {
  v1::JobSpec spec;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(text.data(), text.size()), &spec, options);
  // Protobuf cannot say where a syntax error is (see json_syntax.h), so a
  // syntax-only pass locates it; only if the text is well-formed JSON is the
  // error about the schema. The pass is strict RFC 8259, while protobuf
  // 3.21 tolerates trailing commas, single quotes and bare keys: a text with
  // both gets the first standard violation reported, a real mistake if not
  // the one protobuf tripped on. An accepted text is passed too, for a key
  // given twice (a task's "inputs" twice would run it on the last list
  // only); what else protobuf tolerates is still taken, as it always was.
  const std::optional<JsonSyntaxError> syntax = FindJsonSyntaxError(text);
  if (syntax && syntax->duplicate_key) {
    return absl::InvalidArgumentError(
        absl::StrCat("ambiguous JSON: ", FormatJsonSyntaxError(*syntax)));
  }
  if (status.ok()) return spec;
  if (syntax) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed JSON: ", FormatJsonSyntaxError(*syntax)));
  }
  return DescribeSchemaError(text, std::string(status.message()));
}

absl::StatusOr<v1::JobSpec> ReadJobFile(const std::string& path,
                                        std::istream& stdin_stream) {
  std::string text;
  std::string name = path;
  if (path == "-") {
    name = "<stdin>";
    text.assign(std::istreambuf_iterator<char>(stdin_stream),
                std::istreambuf_iterator<char>());
    if (stdin_stream.bad()) {
      return absl::UnavailableError("<stdin>: cannot read the job");
    }
  } else {
    std::ifstream file(path, std::ios::binary);
    if (!file) {
      return absl::ErrnoToStatus(errno,
                                 absl::StrCat("cannot open job file ", path));
    }
    // A directory opens, then reads as nothing: "malformed JSON" would
    // say nothing of why.
    struct stat info;
    if (stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) {
      return absl::InvalidArgumentError(
          absl::StrCat("job file ", path, " is a directory"));
    }
    std::ostringstream buffer;
    buffer << file.rdbuf();
    if (file.bad()) {
      return absl::ErrnoToStatus(errno,
                                 absl::StrCat("cannot read job file ", path));
    }
    text = std::move(buffer).str();
  }
  absl::StatusOr<v1::JobSpec> spec = ParseJobSpecJson(text);
  if (!spec.ok()) {
    return absl::Status(spec.status().code(),
                        absl::StrCat(name, ": ", spec.status().message()));
  }
  return spec;
}

absl::StatusOr<v1::JobSpec> ReadJobFile(const std::string& path) {
  return ReadJobFile(path, std::cin);
}

}  // namespace dagd
