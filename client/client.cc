#include "client/client.h"

#include <grpcpp/grpcpp.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "client/grpc_status.h"

namespace dagd {
namespace {

constexpr int kMaxMessageBytes = 256 << 20;

void SetDeadline(grpc::ClientContext& context, absl::Duration timeout) {
  if (timeout == absl::InfiniteDuration()) return;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

}  // namespace

Client::Client(std::unique_ptr<v1::JobService::StubInterface> stub,
               ClientOptions options)
    : stub_(std::move(stub)), options_(options) {}

std::unique_ptr<Client> Client::Connect(const std::string& address,
                                        ClientOptions options) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(
      address, grpc::InsecureChannelCredentials(), args);
  return std::make_unique<Client>(v1::JobService::NewStub(channel), options);
}

template <typename Request, typename Response>
absl::StatusOr<Response> Client::Call(UnaryMethod<Request, Response> method,
                                      const Request& request) {
  grpc::ClientContext context;
  SetDeadline(context, options_.call_timeout);
  Response response;
  const grpc::Status status =
      (stub_.get()->*method)(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

absl::StatusOr<std::string> Client::Submit(const v1::JobSpec& job,
                                           const std::string& request_id) {
  v1::SubmitJobRequest request;
  *request.mutable_job() = job;
  request.set_request_id(request_id);
  absl::StatusOr<v1::SubmitJobResponse> response = SubmitJob(request);
  if (!response.ok()) return response.status();
  return response->job_id();
}

absl::StatusOr<v1::SubmitJobResponse> Client::SubmitJob(
    const v1::SubmitJobRequest& request) {
  return Call(&v1::JobService::StubInterface::SubmitJob, request);
}

absl::StatusOr<v1::SubmitJobResponse> Client::SubmitAndWait(
    const v1::JobSpec& job, const std::string& request_id) {
  v1::SubmitJobRequest request;
  *request.mutable_job() = job;
  request.set_request_id(request_id);
  request.set_wait(true);
  grpc::ClientContext context;
  SetDeadline(context, options_.watch_timeout);
  v1::SubmitJobResponse response;
  const grpc::Status status = stub_->SubmitJob(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

absl::StatusOr<v1::JobStatus> Client::Get(const std::string& job_id) {
  v1::GetJobRequest request;
  request.set_job_id(job_id);
  return Call(&v1::JobService::StubInterface::GetJob, request);
}

absl::StatusOr<v1::ListJobsResponse> Client::ListJobs(
    uint32_t page_size, const std::string& page_token) {
  v1::ListJobsRequest request;
  request.set_page_size(page_size);
  request.set_page_token(page_token);
  return Call(&v1::JobService::StubInterface::ListJobs, request);
}

absl::StatusOr<v1::JobStatus> Client::Watch(const std::string& job_id,
                                            const EventCallback& on_event) {
  grpc::ClientContext context;
  SetDeadline(context, options_.watch_timeout);
  v1::WatchJobRequest request;
  request.set_job_id(job_id);
  // Without a callback nobody looks at task events: ask for the end only.
  request.set_end_only(!on_event);
  std::unique_ptr<grpc::ClientReaderInterface<v1::JobEvent>> reader =
      stub_->WatchJob(&context, request);
  v1::JobEvent event;
  while (reader->Read(&event)) {
    if (on_event) on_event(event);
    if (event.has_finished()) {
      // `finished` is the last event by contract. Cancelling instead of
      // reading on means a server that keeps the stream open cannot hang
      // us; the CANCELLED status Finish() then returns is expected.
      context.TryCancel();
      reader->Finish().IgnoreError();
      return event.finished();
    }
  }
  const grpc::Status status = reader->Finish();
  if (!status.ok()) return FromGrpcStatus(status);
  return absl::UnavailableError(
      absl::StrCat("the server closed the watch of job ", job_id,
                   " before the job finished; watch again to continue"));
}

absl::StatusOr<v1::JobStatus> Client::Wait(const std::string& job_id) {
  return Watch(job_id, nullptr);
}

absl::StatusOr<v1::CancelJobResponse> Client::Cancel(
    const std::string& job_id) {
  v1::CancelJobRequest request;
  request.set_job_id(job_id);
  return Call(&v1::JobService::StubInterface::CancelJob, request);
}

absl::Status Client::DeleteJob(const std::string& job_id) {
  v1::DeleteJobRequest request;
  request.set_job_id(job_id);
  return Call(&v1::JobService::StubInterface::DeleteJob, request).status();
}

absl::StatusOr<v1::TaskStatus> Client::Task(const std::string& job_id,
                                            const std::string& task_id) {
  v1::GetTaskRequest request;
  request.set_job_id(job_id);
  request.set_task_id(task_id);
  return Call(&v1::JobService::StubInterface::GetTask, request);
}

absl::StatusOr<v1::ListTasksResponse> Client::ListTasks(
    const std::string& job_id) {
  v1::ListTasksRequest request;
  request.set_job_id(job_id);
  return Call(&v1::JobService::StubInterface::ListTasks, request);
}

absl::StatusOr<v1::GetResultResponse> Client::Result(
    const std::string& job_id, const std::string& task_id) {
  v1::GetResultRequest request;
  request.set_job_id(job_id);
  request.set_task_id(task_id);
  return Call(&v1::JobService::StubInterface::GetResult, request);
}

absl::Status Client::ReadResult(const std::string& job_id,
                                const std::string& task_id,
                                const ChunkCallback& on_chunk) {
  grpc::ClientContext context;
  // A large result takes as long as it takes to move: the watch timeout
  // (long by default) rather than the call timeout.
  SetDeadline(context, options_.watch_timeout);
  v1::GetResultRequest request;
  request.set_job_id(job_id);
  request.set_task_id(task_id);
  std::unique_ptr<grpc::ClientReaderInterface<v1::ResultChunk>> reader =
      stub_->ReadResult(&context, request);
  v1::ResultChunk chunk;
  while (reader->Read(&chunk)) {
    if (absl::Status s = on_chunk(chunk); !s.ok()) {
      context.TryCancel();
      reader->Finish().IgnoreError();
      return s;
    }
  }
  return FromGrpcStatus(reader->Finish());
}

absl::StatusOr<v1::ListWorkersResponse> Client::ListWorkers() {
  return Call(&v1::JobService::StubInterface::ListWorkers,
              v1::ListWorkersRequest());
}

}  // namespace dagd
