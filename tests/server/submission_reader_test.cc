#include "server/submission_reader.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace dagd {
namespace {

using google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;

absl::StatusOr<Submission> Read(const std::string& bytes,
                                JobLimits limits = {}) {
  // Pieces of 7 bytes: fields and tasks cross the stream's buffers.
  google::protobuf::io::ArrayInputStream in(bytes.data(),
                                            static_cast<int>(bytes.size()), 7);
  return ReadSubmission(in, limits);
}

v1::SubmitJobRequest Request(int tasks) {
  v1::SubmitJobRequest request;
  request.set_request_id("req-1");
  request.set_wait(true);
  v1::JobSpec* job = request.mutable_job();
  job->set_name("nightly");
  job->set_priority(3);
  job->mutable_deadline()->set_seconds(60);
  for (int i = 0; i < tasks; ++i) {
    v1::TaskSpec* task = job->add_tasks();
    task->set_id(absl::StrCat("t", i));
    task->set_fn("const");
    if (i > 0) task->add_inputs(absl::StrCat("t", i - 1));
    task->set_priority(i);
  }
  return request;
}

// What CompileJob makes of the parsed request's job, the reader makes of
// its bytes.
void ExpectSameJob(const Submission& read, v1::SubmitJobRequest parsed) {
  EXPECT_EQ(read.request.request_id(), parsed.request_id());
  EXPECT_EQ(read.request.wait(), parsed.wait());
  EXPECT_EQ(read.request.job().tasks_size(), 0);
  absl::StatusOr<CompiledJob> want = CompileJob(parsed.job(), {});
  ASSERT_TRUE(want.ok()) << want.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*read.job.header, *want->header));
  ASSERT_EQ(read.job.size(), want->size());
  for (uint32_t i = 0; i < want->size(); ++i) {
    EXPECT_EQ(read.job.tasks->encoded(i), want->tasks->encoded(i)) << i;
  }
  EXPECT_EQ(read.job.inputs, want->inputs);
  EXPECT_EQ(read.job.input_begin, want->input_begin);
  EXPECT_EQ(read.job.succ, want->succ);
  EXPECT_EQ(read.job.succ_begin, want->succ_begin);
  EXPECT_EQ(read.job.dep_count, want->dep_count);
  EXPECT_EQ(read.job.kind_of, want->kind_of);
  EXPECT_EQ(read.job.kinds.size(), want->kinds.size());
  EXPECT_EQ(read.job.executors.size(), want->executors.size());
  EXPECT_EQ(read.job.rank, want->rank);
  EXPECT_EQ(read.job.priority, want->priority);
}

TEST(SubmissionReaderTest, ReadsTheJobAParserReads) {
  const v1::SubmitJobRequest request = Request(50);
  const std::string bytes = request.SerializeAsString();
  absl::StatusOr<Submission> read = Read(bytes);
  ASSERT_TRUE(read.ok()) << read.status();
  ExpectSameJob(*read, request);
  EXPECT_EQ(read->job.header->name(), "nightly");
  EXPECT_EQ(read->job.spec_bytes, request.job().ByteSizeLong());
}

TEST(SubmissionReaderTest, AJobSentInTwoPartsIsMergedAsAParserMergesIt) {
  // Encodings concatenate to the merge of their messages: the job's fields
  // from both, its tasks one list.
  v1::SubmitJobRequest first = Request(3);
  v1::SubmitJobRequest second;
  second.mutable_job()->set_name("renamed");
  v1::TaskSpec* task = second.mutable_job()->add_tasks();
  task->set_id("last");
  task->set_fn("identity");
  task->add_inputs("t2");
  const std::string bytes =
      first.SerializeAsString() + second.SerializeAsString();
  v1::SubmitJobRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  absl::StatusOr<Submission> read = Read(bytes);
  ASSERT_TRUE(read.ok()) << read.status();
  ExpectSameJob(*read, parsed);
  EXPECT_EQ(read->job.header->name(), "renamed");
  EXPECT_EQ(read->job.header->priority(), 3);
  EXPECT_EQ(read->job.size(), 4u);
}

TEST(SubmissionReaderTest, AJobOverTheByteLimitIsRefusedBeforeItsTasks) {
  JobLimits limits;
  limits.max_job_bytes = 100;
  v1::SubmitJobRequest request = Request(50);
  // A task's own error would be found if the tasks were read first.
  request.mutable_job()->mutable_tasks(0)->clear_fn();
  absl::StatusOr<Submission> read = Read(request.SerializeAsString(), limits);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(read.status().message(),
              HasSubstr("bytes encoded, over the limit of 100"));
}

TEST(SubmissionReaderTest, TooManyTasksAreCountedNotParsed) {
  JobLimits limits;
  limits.max_tasks_per_job = 3;
  // A fourth task whose bytes are no TaskSpec (a cut-short tag), sent as a
  // second occurrence of the job: past the limit, it is counted only.
  const std::string bytes = Request(3).SerializeAsString() +
                            std::string("\x0a\x04\x1a\x02\xff\xff", 6);
  absl::StatusOr<Submission> read = Read(bytes, limits);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(read.status().message(),
            "job: has 4 tasks, over the limit of 3 (--max_tasks_per_job)");
  // Within the limit, the same bytes are parsed, and refused.
  limits.max_tasks_per_job = 4;
  EXPECT_THAT(Read(bytes, limits).status().message(),
              HasSubstr("a task is not an encoded TaskSpec"));
}

TEST(SubmissionReaderTest, TooManyTasksIsSaidBeforeAnErrorOfAnEarlyTask) {
  JobLimits limits;
  limits.max_tasks_per_job = 2;
  v1::SubmitJobRequest request = Request(5);
  request.mutable_job()->mutable_tasks(0)->clear_fn();
  absl::StatusOr<Submission> read = Read(request.SerializeAsString(), limits);
  EXPECT_EQ(read.status().message(),
            "job: has 5 tasks, over the limit of 2 (--max_tasks_per_job)");
  EXPECT_EQ(read.status().message(),
            CompileJob(request.job(), limits).status().message());
}

TEST(SubmissionReaderTest, ATaskErrorNamesTheTaskAsCompileJobDoes) {
  v1::SubmitJobRequest request = Request(3);
  request.mutable_job()->mutable_tasks(1)->clear_fn();
  request.mutable_job()->mutable_tasks(2)->add_inputs("nowhere");
  absl::StatusOr<Submission> read = Read(request.SerializeAsString());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(read.status().message(),
            CompileJob(request.job(), {}).status().message());
  EXPECT_THAT(read.status().message(), HasSubstr("task 't1': fn is empty"));
}

TEST(SubmissionReaderTest, BytesThatAreNoRequestAreRefused) {
  const std::string good = Request(3).SerializeAsString();
  const std::vector<std::string> bad_requests = {
      // Cut inside the request's last field, and inside the job's last task.
      good.substr(0, good.size() - 3), good.substr(0, good.size() - 20),
      // A job field longer than the request.
      std::string("\x0a\x05"
                  "ab",
                  4),
      // A task cut inside a tag.
      std::string("\x0a\x03\x1a\x01\xff", 5),
      // A task longer than its job: read to the job's end, it would parse
      // (id "a", fn "f").
      std::string("\x0a\x08\x1a\x10\x0a\x01\x61\x12\x01\x66", 10)};
  for (const std::string& bad : bad_requests) {
    absl::StatusOr<Submission> read = Read(bad);
    EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(read.status().message(),
                HasSubstr("not an encoded SubmitJobRequest"));
  }
  // No job at all: a job without tasks.
  EXPECT_THAT(Read("").status().message(), HasSubstr("job: has no tasks"));
}

// A TaskRecordWriter that remembers what it was given and whether it was
// kept, for the tests of writing ahead.
struct WriterLog {
  int opened = 0;
  std::vector<std::pair<uint32_t, std::string>> added;  // index, encoding
  std::vector<std::string> ids;
  bool finished = false;
  bool dropped_unkept = false;
  absl::Status finish_status;  // what Finish returns
};

class LoggingWriter : public TaskRecordWriter {
 public:
  explicit LoggingWriter(WriterLog* log) : log_(log) {}
  ~LoggingWriter() override {
    if (!kept_) log_->dropped_unkept = true;
  }
  uint64_t seq() const override { return 7; }
  void Add(uint32_t index, absl::string_view encoded,
           absl::string_view id) override {
    log_->added.emplace_back(index, std::string(encoded));
    log_->ids.emplace_back(id);
  }
  absl::Status Finish() override {
    log_->finished = true;
    return log_->finish_status;
  }
  void Keep() override { kept_ = true; }

 private:
  WriterLog* log_;
  bool kept_ = false;
};

RecordsAhead Ahead(WriterLog* log, uint32_t after) {
  RecordsAhead ahead;
  ahead.after = after;
  ahead.open = [log] {
    ++log->opened;
    return std::make_unique<LoggingWriter>(log);
  };
  return ahead;
}

absl::StatusOr<Submission> ReadAhead(const std::string& bytes,
                                     const RecordsAhead& ahead) {
  google::protobuf::io::ArrayInputStream in(bytes.data(),
                                            static_cast<int>(bytes.size()), 7);
  return ReadSubmission(in, {}, &ahead);
}

// Past `after` tasks, every task goes to one writer, in order and as the
// compiled job holds it, and the submission carries the finished writer.
TEST(SubmissionReaderTest, ABigJobsTasksGoToItsRecordWriterAsTheyAreRead) {
  WriterLog log;
  const RecordsAhead ahead = Ahead(&log, 20);
  absl::StatusOr<Submission> read =
      ReadAhead(Request(50).SerializeAsString(), ahead);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(log.opened, 1);
  ASSERT_EQ(log.added.size(), 50u);
  for (uint32_t i = 0; i < 50; ++i) {
    EXPECT_EQ(log.added[i].first, i);
    EXPECT_EQ(log.added[i].second, read->job.tasks->encoded(i)) << i;
    EXPECT_EQ(log.ids[i], absl::StrCat("t", i));
  }
  EXPECT_TRUE(log.finished);
  ASSERT_NE(read->records, nullptr);
  EXPECT_EQ(read->records->seq(), 7u);
  read->records->Keep();
  read->records.reset();
  EXPECT_FALSE(log.dropped_unkept);
}

TEST(SubmissionReaderTest, AJobOfNoMoreThanAfterTasksHasNoRecordWriter) {
  WriterLog log;
  const RecordsAhead ahead = Ahead(&log, 50);
  absl::StatusOr<Submission> read =
      ReadAhead(Request(50).SerializeAsString(), ahead);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(log.opened, 0);
  EXPECT_EQ(read->records, nullptr);
}

// Refused after its writer opened (a task's error; a dependency on no task,
// found at the end), the job's writer is dropped unkept: it removes what it
// wrote.
TEST(SubmissionReaderTest, ARefusedBigJobDropsItsRecordWriterUnkept) {
  for (bool late : {false, true}) {
    SCOPED_TRACE(late ? "an input that names no task" : "a task without fn");
    v1::SubmitJobRequest request = Request(50);
    if (late) {
      request.mutable_job()->mutable_tasks(40)->add_inputs("nowhere");
    } else {
      request.mutable_job()->mutable_tasks(40)->clear_fn();
    }
    WriterLog log;
    const RecordsAhead ahead = Ahead(&log, 20);
    absl::StatusOr<Submission> read =
        ReadAhead(request.SerializeAsString(), ahead);
    ASSERT_FALSE(read.ok());
    EXPECT_THAT(read.status().message(), HasSubstr("t40"));
    EXPECT_EQ(log.opened, 1);
    // Every task compiled went to the writer as it was read: up to the
    // broken one, or all when the error is found at the end.
    EXPECT_EQ(log.added.size(), late ? 50u : 40u);
    EXPECT_TRUE(log.dropped_unkept);
  }
}

// A record the writer could not store refuses the job with its error.
TEST(SubmissionReaderTest, ARecordWriteThatFailedRefusesTheJob) {
  WriterLog log;
  log.finish_status = absl::UnavailableError("storing the tasks: disk full");
  const RecordsAhead ahead = Ahead(&log, 20);
  absl::StatusOr<Submission> read =
      ReadAhead(Request(50).SerializeAsString(), ahead);
  EXPECT_EQ(read.status(), log.finish_status);
  EXPECT_TRUE(log.dropped_unkept);
}

// A store that writes records at its commit only gives no writer: the job
// is read as without one.
TEST(SubmissionReaderTest, AJobWhoseStoreGivesNoWriterIsReadWhole) {
  RecordsAhead ahead;
  ahead.after = 20;
  int opened = 0;
  ahead.open = [&opened]() -> std::unique_ptr<TaskRecordWriter> {
    ++opened;
    return nullptr;
  };
  const v1::SubmitJobRequest request = Request(50);
  absl::StatusOr<Submission> read =
      ReadAhead(request.SerializeAsString(), ahead);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(opened, 1);  // asked once, not again for each later task
  EXPECT_EQ(read->records, nullptr);
  ExpectSameJob(*read, request);
}

std::string Peek(const std::string& bytes) {
  google::protobuf::io::ArrayInputStream in(bytes.data(),
                                            static_cast<int>(bytes.size()), 7);
  return PeekRequestId(in);
}

TEST(SubmissionReaderTest, PeeksTheRequestIdPastTheJob) {
  v1::SubmitJobRequest request = Request(50);
  EXPECT_EQ(Peek(request.SerializeAsString()), "req-1");
  // Sent twice, the last counts, as for a parser.
  v1::SubmitJobRequest later = Request(1);
  later.set_request_id("req-2");
  EXPECT_EQ(Peek(request.SerializeAsString() + later.SerializeAsString()),
            "req-2");
  request.clear_request_id();
  EXPECT_EQ(Peek(request.SerializeAsString()), "");
  // Bytes that are no request have none.
  const std::string bytes = Request(50).SerializeAsString();
  EXPECT_EQ(Peek(bytes.substr(0, bytes.size() - 3)), "");
  EXPECT_EQ(Peek("\xff\xff\xff"), "");
}

}  // namespace
}  // namespace dagd
