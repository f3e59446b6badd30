#include "server/submission_reader.h"

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

// Reads one occurrence of the request's `job` field, up to the limit the
// caller pushed: its tasks go to `compiler`, its other fields, encoded, to
// `header`. A request may hold the field more than once: a parser merges
// the occurrences, and so do these (tasks appended, fields merged).
// Past the limit of tasks, the rest are counted, not read: the error says
// how many the job has, as CompileJob's does.
absl::Status ReadJob(CodedInputStream& in, const JobLimits& limits,
                     JobCompiler& compiler, CodedOutputStream& header,
                     v1::TaskSpec& task, uint64_t& tasks) {
  while (const uint32_t tag = in.ReadTag()) {
    if (!IsMessageField(tag, v1::JobSpec::kTasksFieldNumber)) {
      if (!WireFormatLite::SkipField(&in, tag, &header)) {
        return NotARequest("a field of its job is cut short");
      }
      continue;
    }
    uint32_t length = 0;
    if (!in.ReadVarint32(&length)) return NotARequest("a task is cut short");
    if (++tasks > limits.max_tasks_per_job) {
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
    if (absl::Status s = compiler.AddTask(task); !s.ok()) return s;
  }
  if (!in.ConsumedEntireMessage()) return NotARequest("its job is malformed");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Submission> ReadSubmission(
    google::protobuf::io::ZeroCopyInputStream& stream,
    const JobLimits& limits) {
  JobCompiler compiler(limits);
  std::string request_bytes;  // the request's fields but `job`
  std::string header_bytes;   // the job's fields but `tasks`
  uint64_t job_bytes = 0;
  uint64_t tasks = 0;
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
      if (!in.ReadVarint32(&length)) return NotARequest("its job is cut short");
      // Checked before any task is read: a job over the limit costs no
      // more than its bytes.
      job_bytes += length;
      if (absl::Status s = compiler.Begin(job_bytes); !s.ok()) return s;
      const CodedInputStream::Limit limit =
          in.PushLimit(static_cast<int>(length));
      if (absl::Status s = ReadJob(in, limits, compiler, header, task, tasks);
          !s.ok()) {
        return s;
      }
      if (in.BytesUntilLimit() != 0) return NotARequest("its job is cut short");
      in.PopLimit(limit);
    }
    if (!in.ConsumedEntireMessage()) return NotARequest("it is malformed");
  }
  if (tasks > limits.max_tasks_per_job) return TooManyTasks(tasks, limits);
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
  return out;
}

}  // namespace dagd
