#ifndef DAGD_SERVER_SUBMISSION_READER_H_
#define DAGD_SERVER_SUBMISSION_READER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "dagd/v1/job_service.pb.h"
#include "google/protobuf/io/zero_copy_stream.h"
#include "server/job_compiler.h"
#include "storage/task_record_writer.h"

namespace dagd {

// Where a big job's task records go while its request is read: once the
// job has more than `after` tasks, `open` is called for a writer (the
// store's, for a sequence number it was given), which is then handed
// every task compiled so far and each one after. Null from `open`: none.
struct RecordsAhead {
  uint32_t after = kBigJobTasks;
  std::function<std::unique_ptr<TaskRecordWriter>()> open;
};

// A SubmitJob request, read from its encoding.
struct Submission {
  v1::SubmitJobRequest request;  // every field; its job holds no tasks
  CompiledJob job;
  // The writer of the job's task records when they were written ahead, all
  // of them written (Finish); the job is to have its sequence number.
  // Dropped without Keep, it removes them: the job was refused.
  std::unique_ptr<TaskRecordWriter> records;
};

// Reads an encoded SubmitJobRequest, compiling its job's tasks one at a
// time as they are read (JobCompiler): a job of ten million tasks never
// exists as ten million messages (2.7 GB), only as its request's bytes and
// the compiled job. Errors as CompileJob's, and INVALID_ARGUMENT when the
// bytes are not a SubmitJobRequest. The job's size, as --max_job_bytes
// counts it, is its encoding's as sent. With `ahead`, a big job's task
// records are written as its tasks are read (RecordsAhead); a job refused
// here leaves none.
// The request id of an encoded SubmitJobRequest, its other fields skipped
// unparsed (a job of ten million tasks in a few milliseconds); "" when it
// has none or the bytes are no request.
std::string PeekRequestId(google::protobuf::io::ZeroCopyInputStream& in);

absl::StatusOr<Submission> ReadSubmission(
    google::protobuf::io::ZeroCopyInputStream& in, const JobLimits& limits,
    const RecordsAhead* ahead = nullptr);

}  // namespace dagd

#endif  // DAGD_SERVER_SUBMISSION_READER_H_
