#include "client/client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "client/grpc_status.h"

namespace dagd {
namespace {

constexpr int kMaxMessageBytes = 256 << 20;

// A call that waited `waited`, to its deadline, for a connection that
// never came.
absl::Status NoConnection(absl::Duration waited) {
  return absl::UnavailableError(absl::StrCat(
      "no connection within ",
      // Rounded: a 2s deadline reads "2s", not "2.0013s".
      absl::FormatDuration(absl::Trunc(waited + absl::Milliseconds(50),
                                       absl::Milliseconds(100))),
      "; is it running?"));
}

}  // namespace

Client::Client(std::unique_ptr<v1::JobService::StubInterface> stub,
               ClientOptions options,
               std::shared_ptr<grpc::ChannelInterface> channel)
    : stub_(std::move(stub)),
      options_(std::move(options)),
      channel_(std::move(channel)) {}

std::unique_ptr<Client> Client::Connect(const std::string& address,
                                        ClientOptions options) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  // What the client sends is bounded by the dagd it sends to
  // (--max_job_bytes: INVALID_ARGUMENT beyond it, or gRPC's
  // RESOURCE_EXHAUSTED beyond it and 16 MiB more), not here: a dagd raised
  // for bigger jobs takes them.
  args.SetMaxSendMessageSize(-1);
  // gRPC's own pace of reconnecting grows to 120 s by default: a dagd back
  // after a minute would then go unnoticed for another. The minimum
  // connect timeout (GRPC_ARG_MIN_RECONNECT_BACKOFF_MS) stays at its 20 s:
  // a short one cuts handshakes with a dagd that has just started.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(kInitialRetryPause)));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(kMaxRetryPause)));
  // A dagd whose host vanished without closing the connection (power lost,
  // a partition, a node gone under its pod) is noticed within about 40 s,
  // where TCP alone takes some 15 minutes: a Watch then resumes at the
  // dagd that replaced it. dagd accepts pings this often (its port's
  // settings, storage/flow_control.h); a watch only reads, so its pings go
  // on without data of its own.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30'000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10'000);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      grpc::InsecureChannelCredentials();
  if (options.tls) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.tls_root_certs;
    ssl.pem_cert_chain = options.tls_cert_chain;
    ssl.pem_private_key = options.tls_private_key;
    credentials = grpc::SslCredentials(ssl);
  }
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(address, credentials, args);
  return std::make_unique<Client>(v1::JobService::NewStub(channel),
                                  std::move(options), channel);
}

absl::Status CheckToken(absl::string_view token) {
  for (size_t i = 0; i < token.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(token[i]);
    if (c < 0x20 || c > 0x7e) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the token holds byte 0x", absl::Hex(c, absl::kZeroPad2),
          " at position ", i, ": a header carries printable ASCII only (",
          c == '\n' || c == '\r' ? "a line break read with the token?"
                                 : "not a token dagd made?",
          ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status Client::Prepare(grpc::ClientContext& context,
                             absl::Time deadline) const {
  if (deadline != absl::InfiniteFuture()) {
    context.set_deadline(absl::ToChronoTime(deadline));
  }
  if (options_.token.empty()) return absl::OkStatus();
  // gRPC aborts the process on a header value it cannot send.
  if (absl::Status s = CheckToken(options_.token); !s.ok()) return s;
  context.AddMetadata("authorization", "Bearer " + options_.token);
  return absl::OkStatus();
}

absl::Time Client::DeadlineAfter(absl::Duration timeout) const {
  if (timeout == absl::InfiniteDuration()) return absl::InfiniteFuture();
  return options_.now() + timeout;
}

Outage Client::NewOutage(absl::Duration budget, absl::Time deadline,
                         const ConnectionCallback& on_connection) const {
  return Outage(budget, deadline, options_.now, options_.sleep, on_connection);
}

template <typename Request, typename Response>
absl::StatusOr<Response> Client::Call(UnaryMethod<Request, Response> method,
                                      const Request& request) {
  return CallUntil(method, request, DeadlineAfter(options_.call_timeout));
}

template <typename Request, typename Response>
absl::StatusOr<Response> Client::CallUntil(
    UnaryMethod<Request, Response> method, const Request& request,
    absl::Time deadline) {
  grpc::ClientContext context;
  if (absl::Status s = Prepare(context, deadline); !s.ok()) return s;
  context.set_wait_for_ready(options_.wait_for_ready);
  const absl::Time start = options_.now();
  Response response;
  const grpc::Status status =
      (stub_.get()->*method)(&context, request, &response);
  if (status.ok()) return response;
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED &&
      channel_ != nullptr &&
      channel_->GetState(/*try_to_connect=*/false) != GRPC_CHANNEL_READY) {
    // Waited for a connection that never came: unreachable, not slow.
    return NoConnection(deadline - start);
  }
  return FromGrpcStatus(status);
}

absl::Status Client::AwaitChannel() {
  if (!options_.wait_for_ready || channel_ == nullptr) return absl::OkStatus();
  const absl::Time start = options_.now();
  const absl::Time deadline = DeadlineAfter(options_.call_timeout);
  // InfiniteFuture() becomes time_point::max(), which gRPC reads as none.
  if (channel_->WaitForConnected(absl::ToChronoTime(deadline))) {
    return absl::OkStatus();
  }
  return NoConnection(deadline - start);
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
    const v1::SubmitJobRequest& request,
    const ConnectionCallback& on_connection) {
  const absl::Time deadline = DeadlineAfter(options_.call_timeout);
  if (request.request_id().empty()) {
    return CallUntil(&v1::JobService::StubInterface::SubmitJob, request,
                     deadline);
  }
  // The whole call's deadline bounds the retries: a submission is a unary
  // call, however many tries it takes.
  Outage outage = NewOutage(absl::InfiniteDuration(), deadline, on_connection);
  return SubmitRetrying(request, deadline, outage);
}

absl::StatusOr<v1::SubmitJobResponse> Client::SubmitRetrying(
    const v1::SubmitJobRequest& request, absl::Time deadline, Outage& outage) {
  while (true) {
    const absl::Time until = std::min(deadline, outage.give_up_at());
    absl::StatusOr<v1::SubmitJobResponse> response =
        CallUntil(&v1::JobService::StubInterface::SubmitJob, request, until);
    if (response.ok()) {
      outage.Reached();
      return response;
    }
    if (!IsConnectionLoss(response.status())) return response.status();
    if (options_.now() >= until) {
      // Out of time: a first try says why itself ("no connection within
      // 30s"); after a loss, the outage says what began it.
      return outage.lost() ? outage.GiveUp() : response.status();
    }
    // The try may have reached dagd before the connection broke; the same
    // request_id makes the next one return that job rather than a second.
    outage.Lost(response.status());
    if (!outage.Pause()) return outage.GiveUp();
  }
}

absl::StatusOr<v1::SubmitJobResponse> Client::SubmitAndWait(
    const v1::JobSpec& job, const std::string& request_id,
    const ConnectionCallback& on_connection) {
  v1::SubmitJobRequest request;
  *request.mutable_job() = job;
  request.set_request_id(request_id);
  request.set_wait(true);
  const absl::Time deadline = DeadlineAfter(options_.watch_timeout);
  absl::StatusOr<v1::SubmitJobResponse> response;
  {
    // Fail-fast, as a watch is: waiting for readiness would have no bound
    // but the job's own (none by default).
    grpc::ClientContext context;
    if (absl::Status s = Prepare(context, deadline); !s.ok()) return s;
    v1::SubmitJobResponse answer;
    const grpc::Status status = stub_->SubmitJob(&context, request, &answer);
    if (status.ok()) return answer;
    response = FromGrpcStatus(status);
  }
  if (request_id.empty() || !IsConnectionLoss(response.status()) ||
      options_.reconnect_timeout <= absl::ZeroDuration()) {
    return response;
  }
  // Lost before the job's end, maybe after dagd took the job: submit again
  // with the same request_id, without waiting (it returns the job the lost
  // try made, if it made one), then wait for that job.
  Outage outage =
      NewOutage(options_.reconnect_timeout, deadline, on_connection);
  outage.Lost(response.status());
  request.set_wait(false);
  absl::StatusOr<v1::SubmitJobResponse> submitted =
      SubmitRetrying(request, deadline, outage);
  if (!submitted.ok()) return submitted.status();
  absl::StatusOr<v1::JobStatus> final_status =
      Follow(submitted->job_id(), nullptr, on_connection, deadline);
  if (!final_status.ok()) return final_status.status();
  *submitted->mutable_final_status() = *std::move(final_status);
  return submitted;
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

absl::StatusOr<v1::JobStatus> Client::Watch(
    const std::string& job_id, const EventCallback& on_event,
    const ConnectionCallback& on_connection) {
  return Follow(job_id, on_event, on_connection,
                DeadlineAfter(options_.watch_timeout));
}

absl::StatusOr<v1::JobStatus> Client::Wait(
    const std::string& job_id, const ConnectionCallback& on_connection) {
  return Follow(job_id, nullptr, on_connection,
                DeadlineAfter(options_.watch_timeout));
}

absl::StatusOr<v1::JobStatus> Client::Follow(
    const std::string& job_id, const EventCallback& on_event,
    const ConnectionCallback& on_connection, absl::Time deadline) {
  Outage outage =
      NewOutage(options_.reconnect_timeout, deadline, on_connection);
  bool delivered = false;  // the stream under way brought an event
  const EventCallback reached = [&](const v1::JobEvent& event) {
    delivered = true;
    // A snapshot alone does not show the link holds: a proxy that passes
    // calls but breaks streams lets it through too.
    if (event.has_snapshot()) {
      outage.Answered();
    } else {
      outage.Reached();
    }
    if (on_event) on_event(event);
  };
  while (true) {
    delivered = false;
    const absl::Time opened = options_.now();
    // Without a callback nobody looks at task events: ask for the end only.
    absl::StatusOr<v1::JobStatus> final_status =
        WatchOnce(job_id, /*end_only=*/!on_event, reached, deadline);
    // RESOURCE_EXHAUSTED: dagd closed a stream read too far behind, or had
    // too many reads waiting; a new watch starts from a fresh snapshot.
    if (final_status.ok() ||
        !(IsConnectionLoss(final_status.status()) ||
          absl::IsResourceExhausted(final_status.status()))) {
      return final_status;
    }
    // A stream that held kMaxRetryPause ended the outage, whatever it
    // brought (a Wait's streams bring the snapshot alone).
    if (delivered && options_.now() - opened >= kMaxRetryPause) {
      outage.Reached();
    }
    // The first loss is probed at once. Within an outage, each new watch
    // waits its pause first (a dagd stopping, a proxy that passes calls
    // but breaks streams, a reader that falls behind at once).
    const bool again = outage.lost();
    outage.Lost(final_status.status());
    if (again && !outage.Pause()) return outage.GiveUp();
    if (absl::Status back = AwaitCoordinator(job_id, deadline, outage);
        !back.ok()) {
      return back;
    }
  }
}

absl::StatusOr<v1::JobStatus> Client::WatchOnce(const std::string& job_id,
                                                bool end_only,
                                                const EventCallback& on_event,
                                                absl::Time deadline) {
  grpc::ClientContext context;
  if (absl::Status s = Prepare(context, deadline); !s.ok()) return s;
  v1::WatchJobRequest request;
  request.set_job_id(job_id);
  request.set_end_only(end_only);
  std::unique_ptr<grpc::ClientReaderInterface<v1::JobEvent>> reader =
      stub_->WatchJob(&context, request);
  v1::JobEvent event;
  while (reader->Read(&event)) {
    on_event(event);
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

absl::Status Client::AwaitCoordinator(const std::string& job_id,
                                      absl::Time deadline, Outage& outage) {
  // Zero reconnect_timeout: no retry at all, not even one probe.
  if (options_.reconnect_timeout <= absl::ZeroDuration()) {
    return outage.GiveUp();
  }
  v1::GetJobRequest request;
  request.set_job_id(job_id);
  while (true) {
    // A unary call that waits for the channel: it returns the moment dagd
    // answers, where a stream could not be bounded by the outage alone.
    absl::StatusOr<v1::JobStatus> job =
        CallUntil(&v1::JobService::StubInterface::GetJob, request,
                  std::min(deadline, outage.give_up_at()));
    // dagd answers: watch again. The outage ends when the new stream
    // delivers its first event (Follow), not here.
    if (job.ok()) return absl::OkStatus();
    // Out of time (the call waited to the end), or the pause would be.
    if (options_.now() >= outage.give_up_at()) return outage.GiveUp();
    // A job dagd no longer knows, or any other answer, ends the wait.
    if (!IsConnectionLoss(job.status()) &&
        !absl::IsDeadlineExceeded(job.status())) {
      return job.status();
    }
    if (!outage.Pause()) return outage.GiveUp();
  }
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
  request.set_page_size(kTasksPageSize);
  v1::ListTasksResponse all;
  do {
    absl::StatusOr<v1::ListTasksResponse> page =
        Call(&v1::JobService::StubInterface::ListTasks, request);
    if (!page.ok()) return page.status();
    for (v1::TaskStatus& task : *page->mutable_tasks()) {
      *all.add_tasks() = std::move(task);
    }
    request.set_page_token(page->next_page_token());
  } while (!request.page_token().empty());
  return all;
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
  if (absl::Status connected = AwaitChannel(); !connected.ok()) {
    return connected;
  }
  grpc::ClientContext context;
  // A large result takes as long as it takes to move: the watch timeout
  // (long by default) rather than the call timeout.
  if (absl::Status s = Prepare(context, DeadlineAfter(options_.watch_timeout));
      !s.ok()) {
    return s;
  }
  v1::GetResultRequest request;
  request.set_job_id(job_id);
  request.set_task_id(task_id);
  std::unique_ptr<grpc::ClientReaderInterface<v1::ResultChunk>> reader =
      stub_->ReadResult(&context, request);
  v1::ResultChunk chunk;
  // The first chunk announces the size (0: not said): a stream that ends
  // short of it, or runs past it, is not the result.
  uint64_t announced = 0;
  uint64_t received = 0;
  bool first = true;
  auto wrong_size = [&] {
    return absl::DataLossError(absl::StrCat(
        "the result of task '", task_id, "' of job ", job_id, " is ", announced,
        " bytes, but ", received,
        received > announced ? " came" : " came before the stream ended"));
  };
  while (reader->Read(&chunk)) {
    if (first) announced = chunk.size_bytes();
    first = false;
    received += chunk.data().size();
    absl::Status s =
        announced > 0 && received > announced ? wrong_size() : on_chunk(chunk);
    if (!s.ok()) {
      context.TryCancel();
      reader->Finish().IgnoreError();
      return s;
    }
  }
  absl::Status finished = FromGrpcStatus(reader->Finish());
  if (finished.ok() && announced > 0 && received != announced) {
    return wrong_size();
  }
  return finished;
}

absl::StatusOr<v1::ListWorkersResponse> Client::ListWorkers() {
  return Call(&v1::JobService::StubInterface::ListWorkers,
              v1::ListWorkersRequest());
}

}  // namespace dagd
