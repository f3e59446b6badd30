#ifndef DAGD_SERVER_SUBMISSION_READER_H_
#define DAGD_SERVER_SUBMISSION_READER_H_

#include "absl/status/statusor.h"
#include "dagd/v1/job_service.pb.h"
#include "google/protobuf/io/zero_copy_stream.h"
#include "server/job_compiler.h"

namespace dagd {

// A SubmitJob request, read from its encoding.
struct Submission {
  v1::SubmitJobRequest request;  // every field; its job holds no tasks
  CompiledJob job;
};

// Reads an encoded SubmitJobRequest, compiling its job's tasks one at a
// time as they are read (JobCompiler): a job of ten million tasks never
// exists as ten million messages (2.7 GB), only as its request's bytes and
// the compiled job. Errors as CompileJob's, and INVALID_ARGUMENT when the
// bytes are not a SubmitJobRequest. The job's size, as --max_job_bytes
// counts it, is its encoding's as sent.
absl::StatusOr<Submission> ReadSubmission(
    google::protobuf::io::ZeroCopyInputStream& in, const JobLimits& limits);

}  // namespace dagd

#endif  // DAGD_SERVER_SUBMISSION_READER_H_
