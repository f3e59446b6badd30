#include "server/submission_reader.h"

#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/wire_format_lite.h"

namespace dagd {
namespace {

using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedInputStream;
using google::protobuf::io::CodedOutputStream;
using google::protobuf::io::StringOutputStream;

bool IsMessageField(uint32_t tag, int field) {
  return WireFormatLite::GetTagFieldNumber(tag) == field &&
         WireFormatLite::GetTagWireType(tag) ==
             WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
}

absl::Status NotARequest(absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("request: not an encoded SubmitJobRequest (", what, ")"));
}

// Where the tasks compiled go besides the compiler: the job's record
// writer, once the job is big enough to have one.
struct RecordSink {
  const RecordsAhead* ahead = nullptr;  // null: no writing ahead
  std::unique_ptr<TaskRecordWriter> records;

  // Hands on the task just compiled, and, when it makes the job big enough,
  // every one before it.
  void Added(const JobTasks& tasks) {
    if (ahead == nullptr) return;
    const uint32_t last = tasks.size() - 1;
    if (records == nullptr) {
      if (tasks.size() <= ahead->after) return;
      if (ahead->open) records = ahead->open();
      if (records == nullptr) {
        ahead = nullptr;
        return;
      }
      for (uint32_t i = 0; i < last; ++i) {
        records->Add(i, tasks.encoded(i), tasks.id(i));
      }
    }
    records->Add(last, tasks.encoded(last), tasks.id(last));
  }
};

// Reads one occurrence of the request's `job` field, up to the limit the
// caller pushed: its tasks go to `compiler`, its other fields, encoded, to
// `header`. A request may hold the field more than once: a parser merges
// the occurrences, and so do these (tasks appended, fields merged).
// `tasks` counts the job's tasks so far; `task_error` keeps the first
// task's error. Each task compiled goes to `sink` too.
absl::Status ReadJob(CodedInputStream& in, const JobLimits& limits,
                     JobCompiler& compiler, RecordSink& sink,
                     CodedOutputStream& header, v1::TaskSpec& task,
                     uint64_t& tasks, absl::Status& task_error) {
  while (const uint32_t tag = in.ReadTag()) {
    if (!IsMessageField(tag, v1::JobSpec::kTasksFieldNumber)) {
      if (!WireFormatLite::SkipField(&in, tag, &header)) {
        return NotARequest("a field of its job is cut short");
      }
      continue;
    }
    uint32_t length = 0;
    // A limit past the job's end would be ignored (PushLimit keeps the
    // tighter one), and the task read to the job's end.
    if (!in.ReadVarint32(&length) ||
        static_cast<int64_t>(length) > in.BytesUntilLimit()) {
      return NotARequest("a task is cut short");
    }
    // Past the first error, and past the limit of tasks, tasks are counted
    // and skipped: a job with too many tasks says so first, as
    // CompileJob's error does.
    if (++tasks > limits.max_tasks_per_job || !task_error.ok()) {
      if (!in.Skip(static_cast<int>(length))) {
        return NotARequest("a task is cut short");
      }
      continue;
    }
    const CodedInputStream::Limit limit =
        in.PushLimit(static_cast<int>(length));
    task.Clear();
    if (!task.MergeFromCodedStream(&in) || !in.ConsumedEntireMessage() ||
        in.BytesUntilLimit() != 0) {
      return NotARequest("a task is not an encoded TaskSpec");
    }
    in.PopLimit(limit);
    task_error = compiler.AddTask(task);
    if (task_error.ok()) sink.Added(compiler.tasks());
  }
  if (!in.ConsumedEntireMessage()) return NotARequest("its job is malformed");
  return absl::OkStatus();
}

}  // namespace

std::string PeekRequestId(google::protobuf::io::ZeroCopyInputStream& stream) {
  CodedInputStream in(&stream);
  std::string id;
  while (const uint32_t tag = in.ReadTag()) {
    // The last occurrence counts, as it does for a parser.
    if (IsMessageField(tag, v1::SubmitJobRequest::kRequestIdFieldNumber)) {
      if (!WireFormatLite::ReadString(&in, &id)) return "";
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      return "";
    }
  }
  return in.ConsumedEntireMessage() ? id : "";
}

absl::StatusOr<Submission> ReadSubmission(
    google::protobuf::io::ZeroCopyInputStream& stream, const JobLimits& limits,
    const RecordsAhead* ahead) {
  JobCompiler compiler(limits);
  RecordSink sink;
  sink.ahead = ahead;
  std::string request_bytes;  // the request's fields but `job`
  std::string header_bytes;   // the job's fields but `tasks`
  uint64_t job_bytes = 0;
  uint64_t tasks = 0;
  absl::Status task_error;
  {
    StringOutputStream request_out(&request_bytes);
    StringOutputStream header_out(&header_bytes);
    CodedOutputStream request(&request_out);
    CodedOutputStream header(&header_out);
    CodedInputStream in(&stream);
    v1::TaskSpec task;  // one, reused for every task
    while (const uint32_t tag = in.ReadTag()) {
      if (!IsMessageField(tag, v1::SubmitJobRequest::kJobFieldNumber)) {
        if (!WireFormatLite::SkipField(&in, tag, &request)) {
          return NotARequest("a field is cut short");
        }
        continue;
      }
      uint32_t length = 0;
      // Over INT_MAX, PushLimit would take the length as negative and set
      // no limit; a shorter job than its length is found at its end.
      if (!in.ReadVarint32(&length) || length > INT32_MAX) {
        return NotARequest("its job is cut short");
      }
      // Checked before any task is read: a job over the limit costs no
      // more than its bytes.
      job_bytes += length;
      if (absl::Status s = compiler.Begin(job_bytes); !s.ok()) return s;
      const CodedInputStream::Limit limit =
          in.PushLimit(static_cast<int>(length));
      if (absl::Status s = ReadJob(in, limits, compiler, sink, header, task,
                                   tasks, task_error);
          !s.ok()) {
        return s;
      }
      if (in.BytesUntilLimit() != 0) return NotARequest("its job is cut short");
      in.PopLimit(limit);
    }
    if (!in.ConsumedEntireMessage()) return NotARequest("it is malformed");
  }
  if (tasks > limits.max_tasks_per_job) return TooManyTasks(tasks, limits);
  if (!task_error.ok()) return task_error;
  Submission out;
  v1::JobSpec header;
  if (!out.request.ParseFromString(request_bytes) ||
      !header.ParseFromString(header_bytes)) {
    return NotARequest("a field does not parse");
  }
  absl::StatusOr<CompiledJob> job =
      std::move(compiler).Finish(std::move(header));
  if (!job.ok()) return job.status();
  out.job = *std::move(job);
  if (sink.records != nullptr) {
    if (absl::Status s = sink.records->Finish(); !s.ok()) return s;
    out.records = std::move(sink.records);
  }
  return out;
}

}  // namespace dagd
