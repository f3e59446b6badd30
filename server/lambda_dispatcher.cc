#include "server/lambda_dispatcher.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "dagd/v1/lambda.pb.h"
#include "server/lambda_response.h"
#include "storage/aws_sigv4.h"
#include "storage/base/backoff.h"

namespace dagd {
namespace {

bool SameAttempt(const v1::TaskRef& a, const v1::TaskRef& b) {
  return a.job_id() == b.job_id() && a.task_index() == b.task_index() &&
         a.attempt() == b.attempt();
}

// Lambda answers at most kLambdaPayloadLimit; an endpoint that sends more
// (a broken proxy, a fake) is cut off there, not read into memory whole.
constexpr size_t kMaxAnswerBytes = kLambdaPayloadLimit + (1 << 20);

}  // namespace

absl::Duration LambdaCallLimit(absl::Duration grace) {
  return kLambdaMaxRunTime + grace;
}

absl::Duration LambdaRetryDelay(absl::Duration asked, absl::Duration backoff,
                                double uniform) {
  if (asked <= backoff) return backoff;
  // What the service asked, and up to a fifth more: calls throttled
  // together do not all come back in the same instant.
  return asked + asked * (0.2 * uniform);
}

struct LambdaDispatcher::Call {
  v1::Assignment assignment;
  std::string body;
  std::vector<std::string> temp_keys;  // inputs dagd put in the store
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  InvokeResponse response;  // its status is set once the call is over
  uint32_t retries = 0;
  absl::Time retry_at = absl::InfinitePast();
  int64_t started_ms = 0;
  // Cancelled while its invocation runs: Lambda cannot stop it, so it is
  // reported cancelled only once the invocation has answered, and until
  // then keeps its slot and exclusive group (README, Guarantees).
  bool cancelled = false;

  ~Call() {
    if (headers != nullptr) curl_slist_free_all(headers);
    if (easy != nullptr) curl_easy_cleanup(easy);
  }

  static size_t OnHeader(char* data, size_t size, size_t n, void* self) {
    ReadInvokeHeader(absl::string_view(data, size * n),
                     &static_cast<Call*>(self)->response);
    return size * n;
  }
  static size_t OnBody(char* data, size_t size, size_t n, void* self) {
    Call& call = *static_cast<Call*>(self);
    if (size * n > kMaxAnswerBytes - call.response.body.size()) {
      call.answer_too_large = true;
      return 0;  // curl ends the transfer (CURLE_WRITE_ERROR)
    }
    call.response.body.append(data, size * n);
    return size * n;
  }
  bool answer_too_large = false;
};

LambdaDispatcher::LambdaDispatcher(LambdaOptions options,
                                   AwsCredentialsProvider* credentials,
                                   Clock* clock,
                                   std::function<double()> uniform,
                                   Report report)
    : options_(std::move(options)),
      credentials_(credentials),
      clock_(clock),
      uniform_(std::move(uniform)),
      report_(std::move(report)),
      run_(absl::StrFormat("%016x", absl::Uniform<uint64_t>(absl::BitGen()))),
      payloads_(options_.object_store, options_.store) {}

LambdaDispatcher::~LambdaDispatcher() { Stop(); }

void LambdaDispatcher::Start() {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  absl::MutexLock lock(&mu_);
  multi_ = curl_multi_init();
  thread_ = std::thread([this] { Loop(); });
}

void LambdaDispatcher::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_ && multi_ != nullptr) curl_multi_wakeup(multi_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  for (auto& call : running_) {
    curl_multi_remove_handle(multi_, call->easy);
  }
  running_.clear();
  waiting_.clear();
  unsigned_.clear();
  absl::MutexLock lock(&mu_);
  if (multi_ != nullptr) {
    curl_multi_cleanup(multi_);
    multi_ = nullptr;
  }
}

void LambdaDispatcher::Send(v1::CoordinatorMessage message) {
  if (!message.has_batch()) return;
  absl::MutexLock lock(&mu_);
  // The coordinator's outbox may still send after Stop (it stops later).
  if (stopping_) return;
  for (v1::Assignment& a : *message.mutable_batch()->mutable_assignments()) {
    incoming_.push_back(std::move(a));
  }
  for (v1::TaskRef& ref : *message.mutable_batch()->mutable_cancels()) {
    cancels_.push_back(std::move(ref));
  }
  if (multi_ != nullptr) curl_multi_wakeup(multi_);
}

void LambdaDispatcher::Close(absl::Status) {
  absl::MutexLock lock(&mu_);
  if (!stopping_ && multi_ != nullptr) curl_multi_wakeup(multi_);
  stopping_ = true;
}

WorkerSpec LambdaDispatcher::Spec() const {
  WorkerSpec spec;
  spec.name = "lambda";
  spec.slots = std::max<uint32_t>(1, options_.max_concurrency);
  spec.pool = std::string(kLambdaPool);
  spec.any_function = true;
  spec.lambda = true;
  return spec;
}

std::string LambdaDispatcher::InvokeUrl(absl::string_view function) const {
  const std::string base =
      options_.endpoint.empty()
          ? absl::StrCat("https://lambda.", options_.region, ".amazonaws.com")
          : options_.endpoint;
  // curl signs plain names only: an alias travels as ?Qualifier=.
  std::pair<absl::string_view, absl::string_view> parts =
      absl::StrSplit(function, absl::MaxSplits(':', 1));
  std::string url =
      absl::StrCat(base, "/2015-03-31/functions/",
                   AwsUriEncode(parts.first, true), "/invocations");
  if (!parts.second.empty()) {
    absl::StrAppend(
        &url, "?",
        AwsCanonicalQueryString({{"Qualifier", std::string(parts.second)}}));
  }
  return url;
}

absl::Status LambdaDispatcher::Prepare(Call& call) {
  // Never waits for a credentials endpoint (seconds per source): the calls
  // in flight, cancels and heartbeats go on meanwhile.
  absl::StatusOr<AwsCredentials> creds = credentials_->GetWithoutWaiting();
  if (!creds.ok()) return creds.status();
  if (call.easy != nullptr) {
    curl_slist_free_all(call.headers);
    call.headers = nullptr;
    curl_easy_cleanup(call.easy);
  }
  call.response = InvokeResponse();
  call.answer_too_large = false;
  call.easy = curl_easy_init();
  CURL* easy = call.easy;
  const std::string url = InvokeUrl(call.assignment.lambda_function());
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_POST, 1L);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, call.body.data());
  curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                   static_cast<curl_off_t>(call.body.size()));
  call.headers =
      curl_slist_append(call.headers, "Content-Type: application/json");
  call.headers =
      curl_slist_append(call.headers, "X-Amz-Invocation-Type: RequestResponse");
  if (absl::Status s = PrepareSignedRequest(easy, *creds, options_.region,
                                            "lambda", call.body, &call.headers);
      !s.ok()) {
    return s;
  }
  // A deployment's own CA bundle (the Lambda zip carries one).
  if (const char* ca = std::getenv("CURL_CA_BUNDLE"); ca != nullptr) {
    curl_easy_setopt(easy, CURLOPT_CAINFO, ca);
  }
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Call::OnBody);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &call);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &Call::OnHeader);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &call);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  // Every call ends: Lambda answers within its 15 minutes at most. And the
  // connection is kept alive meanwhile: a NAT gateway forgets a flow idle
  // for 350 s without telling either end, and the answer would never come.
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(
                       LambdaCallLimit(options_.timeout_grace))));
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPIDLE, 60L);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPINTVL, 30L);
  curl_easy_setopt(easy, CURLOPT_PRIVATE, &call);
  return absl::OkStatus();
}

void LambdaDispatcher::StartCall(std::unique_ptr<Call> call) {
  const absl::Status s = Prepare(*call);
  // Credentials on their way, or none found by the last walk of the chain,
  // which is walked again every few seconds.
  const bool patient = absl::IsUnauthenticated(s) &&
                       clock_->Now() - absl::FromUnixMillis(call->started_ms) <
                           options_.credentials_patience;
  if (absl::IsUnavailable(s) || patient) {
    unsigned_.push_back(std::move(call));
    return;
  } else if (!s.ok()) {
    v1::TaskResult result;
    result.set_error(
        absl::StrCat("cannot sign the Lambda invocation: ", s.message()));
    Complete(*call, std::move(result));
    return;
  }
  curl_multi_add_handle(multi_, call->easy);
  running_.push_back(std::move(call));
}

void LambdaDispatcher::Retry(std::unique_ptr<Call> call, absl::Duration after,
                             std::string why) {
  if (++call->retries > options_.max_retries) {
    v1::TaskResult result;
    result.set_error(absl::StrCat("Lambda did not take the invocation after ",
                                  options_.max_retries, " retries: ", why));
    Complete(*call, std::move(result));
    return;
  }
  MoveOutputKey(*call);
  // Exponential backoff with jitter, or what the service asked for if that
  // is longer.
  const absl::Duration backoff = BackoffDelay(
      {options_.retry_initial, options_.retry_max}, call->retries, uniform_());
  call->retry_at = clock_->Now() + LambdaRetryDelay(after, backoff, uniform_());
  waiting_.push_back(std::move(call));
}

void LambdaDispatcher::MoveOutputKey(Call& call) {
  // A failed call (a 5xx, a broken connection) may have run all the same
  // and may still write its output: each try writes under a key of its own
  // (the scheduler accepts any under the attempt's), so a late writer can
  // never replace the output that was recorded.
  if (options_.object_store.bucket().empty()) return;
  const v1::TaskRef& t = call.assignment.task();
  const std::string base =
      WrittenResultObjectKey(t.job_id(), t.task_index(), t.attempt(), run_);
  const std::string from = absl::StrCat(
      "\"", base,
      call.retries > 1 ? absl::StrCat("/try", call.retries - 1) : std::string(),
      "\"");
  const std::string to = absl::StrCat("\"", base, "/try", call.retries, "\"");
  // The body is proto3 JSON, output_ref after the assignment: the key is
  // looked for after the last "outputRef" name, past the task's args,
  // which may hold the same text (a job's ids are predictable).
  const size_t field = call.body.rfind("\"outputRef\":");
  if (field == std::string::npos) return;
  if (size_t at = call.body.find(from, field); at != std::string::npos) {
    call.body.replace(at, from.size(), to);
  }
}

void LambdaDispatcher::Complete(Call& call, v1::TaskResult result) {
  payloads_.DeleteLater(std::move(call.temp_keys));
  *result.mutable_task() = call.assignment.task();
  result.set_started_unix_ms(call.started_ms);
  result.set_finished_unix_ms(UnixMillis(clock_->Now()));
  v1::WorkerMessage message;
  *message.mutable_batch()->add_results() = std::move(result);
  report_(std::move(message));
}

void LambdaDispatcher::Finish(void* easy, int curl_code) {
  auto it = std::find_if(running_.begin(), running_.end(),
                         [easy](const auto& c) { return c->easy == easy; });
  if (it == running_.end()) return;
  std::unique_ptr<Call> call = std::move(*it);
  running_.erase(it);
  curl_multi_remove_handle(multi_, call->easy);
  const v1::Assignment& a = call->assignment;
  if (call->cancelled) {
    if (curl_code == CURLE_OK) DropCancelledOutput(*call);
    v1::TaskResult result;
    result.set_error("cancelled");
    return Complete(*call, std::move(result));
  }
  if (call->answer_too_large) {
    v1::TaskResult result;
    result.set_error(absl::StrCat("Lambda's answer is over ", kMaxAnswerBytes,
                                  " bytes (Lambda's own limit is ",
                                  kLambdaPayloadLimit, ")"));
    return Complete(*call, std::move(result));
  }
  // No answer within LambdaCallLimit, past the longest Lambda runs a
  // function, is a network error like any other: the invocation is over.
  if (curl_code != CURLE_OK) {
    return Retry(std::move(call), absl::ZeroDuration(),
                 curl_easy_strerror(static_cast<CURLcode>(curl_code)));
  }
  curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &call->response.status);
  InvokeOutcome outcome =
      ReadInvokeResponse(call->response, a.lambda_function());
  if (outcome.retry) {
    return Retry(std::move(call), outcome.retry_after,
                 std::move(outcome.retry_reason));
  }
  Complete(*call, std::move(outcome.result));
}

void LambdaDispatcher::DropCancelledOutput(Call& call) {
  curl_easy_getinfo(call.easy, CURLINFO_RESPONSE_CODE, &call.response.status);
  const InvokeOutcome outcome =
      ReadInvokeResponse(call.response, call.assignment.lambda_function());
  if (outcome.retry || !outcome.result.has_output_ref()) return;
  // Nobody will read it: deleted, if it is where this call was told to
  // write (an answer naming any other key is not trusted with a delete).
  const v1::ObjectRef& ref = outcome.result.output_ref();
  const v1::TaskRef& t = call.assignment.task();
  const std::string own =
      WrittenResultObjectKey(t.job_id(), t.task_index(), t.attempt(), run_);
  if (!options_.object_store.bucket().empty() &&
      ref.bucket() == options_.object_store.bucket() &&
      IsKeyWithin(ref.key(), own)) {
    payloads_.DeleteLater({ref.key()});
  }
}

void LambdaDispatcher::Shrink(std::unique_ptr<Call> call,
                              v1::LambdaInvocation invocation) {
  if (!payloads_.can_shrink()) {
    v1::TaskResult result;
    result.set_permanent(true);
    result.set_error(absl::StrCat(
        "the invocation is ", call->body.size(),
        " bytes, over Lambda's limit of ", kLambdaPayloadLimit,
        " bytes for a synchronous call; with an object store (--s3_bucket) "
        "its inputs would travel by reference"));
    return Complete(*call, std::move(result));
  }
  shrinking_.push_back(call->assignment.task());
  payloads_.Shrink(
      std::move(invocation),
      [this, call = std::move(call)](
          absl::StatusOr<LambdaPayloads::Shrunk> shrunk) mutable {
        absl::MutexLock lock(&mu_);
        shrunk_.push_back(ShrunkCall{std::move(call), std::move(shrunk)});
        if (!stopping_ && multi_ != nullptr) curl_multi_wakeup(multi_);
      });
}

void LambdaDispatcher::StartShrunk() {
  std::vector<ShrunkCall> ready;
  {
    absl::MutexLock lock(&mu_);
    ready.swap(shrunk_);
  }
  for (ShrunkCall& r : ready) {
    const v1::TaskRef& task = r.call->assignment.task();
    auto same = [&task](const v1::TaskRef& ref) {
      return SameAttempt(ref, task);
    };
    shrinking_.erase(std::remove_if(shrinking_.begin(), shrinking_.end(), same),
                     shrinking_.end());
    auto cancelled = std::find_if(cancelled_shrinking_.begin(),
                                  cancelled_shrinking_.end(), same);
    if (r.shrunk.ok()) r.call->temp_keys = std::move(r.shrunk->temp_keys);
    if (cancelled != cancelled_shrinking_.end()) {
      cancelled_shrinking_.erase(cancelled);
      v1::TaskResult result;
      result.set_error("cancelled");
      Complete(*r.call, std::move(result));
      continue;
    }
    if (!r.shrunk.ok()) {
      v1::TaskResult result;
      // As for workers: only what the store says is passing is retried
      // (args too large for Lambda never shrink).
      result.set_permanent(!absl::IsUnavailable(r.shrunk.status()) &&
                           !absl::IsDeadlineExceeded(r.shrunk.status()));
      result.set_error(std::string(r.shrunk.status().message()));
      Complete(*r.call, std::move(result));
      continue;
    }
    r.call->body = std::move(r.shrunk->body);
    StartCall(std::move(r.call));
  }
}

void LambdaDispatcher::Loop() {
  absl::Time next_heartbeat = clock_->Now();
  while (true) {
    std::vector<v1::Assignment> incoming;
    std::vector<v1::TaskRef> cancels;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      incoming.swap(incoming_);
      cancels.swap(cancels_);
    }
    const absl::Time now = clock_->Now();
    if (now >= next_heartbeat) {
      v1::WorkerMessage heartbeat;
      heartbeat.mutable_heartbeat()->set_busy_slots(
          running_.size() + waiting_.size() + unsigned_.size());
      report_(std::move(heartbeat));
      next_heartbeat = now + options_.heartbeat_interval;
    }
    for (v1::Assignment& a : incoming) {
      auto call = std::make_unique<Call>();
      call->started_ms = UnixMillis(now);
      v1::LambdaInvocation invocation =
          MakeInvocation(std::move(a), options_.object_store, run_);
      call->body = InvocationBody(invocation);
      v1::WorkerMessage started;
      v1::TaskStarted* s = started.mutable_batch()->add_started();
      *s->mutable_task() = invocation.assignment().task();
      s->set_started_unix_ms(call->started_ms);
      report_(std::move(started));
      if (call->body.size() > kLambdaPayloadLimit) {
        call->assignment = invocation.assignment();  // the inputs go on
        Shrink(std::move(call), std::move(invocation));
        continue;
      }
      call->assignment = std::move(*invocation.mutable_assignment());
      StartCall(std::move(call));
    }
    StartShrunk();
    for (std::unique_ptr<Call>& call : std::exchange(unsigned_, {})) {
      StartCall(std::move(call));
    }
    for (const v1::TaskRef& ref : cancels) {
      if (std::any_of(
              shrinking_.begin(), shrinking_.end(),
              [&ref](const v1::TaskRef& t) { return SameAttempt(t, ref); })) {
        cancelled_shrinking_.push_back(ref);
        continue;
      }
      for (auto* list : {&running_, &waiting_, &unsigned_}) {
        auto it = std::find_if(list->begin(), list->end(), [&](const auto& c) {
          return SameAttempt(c->assignment.task(), ref);
        });
        if (it == list->end()) continue;
        if (list == &running_) {
          (*it)->cancelled = true;  // reported once Lambda answers
          continue;
        }
        std::unique_ptr<Call> call = std::move(*it);
        list->erase(it);
        v1::TaskResult result;
        result.set_error("cancelled");
        Complete(*call, std::move(result));
      }
    }
    // Retries that are due.
    absl::Time next_wakeup = next_heartbeat;
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      if ((*it)->retry_at <= now) {
        std::unique_ptr<Call> call = std::move(*it);
        it = waiting_.erase(it);
        StartCall(std::move(call));
      } else {
        next_wakeup = std::min(next_wakeup, (*it)->retry_at);
        ++it;
      }
    }
    int still_running = 0;
    curl_multi_perform(multi_, &still_running);
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_, &queued)) {
      if (msg->msg == CURLMSG_DONE) Finish(msg->easy_handle, msg->data.result);
    }
    // Calls waiting for credentials ask again every 20 ms.
    const int64_t wait_ms = std::clamp<int64_t>(
        absl::ToInt64Milliseconds(next_wakeup - clock_->Now()), 0,
        unsigned_.empty() ? 1000 : 20);
    curl_multi_poll(multi_, nullptr, 0, static_cast<int>(wait_ms), nullptr);
  }
}

}  // namespace dagd
