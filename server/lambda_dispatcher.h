// Runs tasks on AWS Lambda: the Dispatcher of one more worker (Spec: pool
// "lambda", --lambda_max_concurrency slots, any function), so that
// assignments, cancellations, timeouts, retries and recovery work as for a
// worker process. Each assignment becomes one synchronous Invoke call
// (POST /2015-03-31/functions/NAME/invocations), signed with SigV4; the
// calls run concurrently on one thread through curl's multi interface, and
// their outcomes come back as the results a worker would report.
//
// Outcomes: 200 is the task's result; 200 with X-Amz-Function-Error is a
// failed attempt carrying the function's errorType and errorMessage; 429
// and 5xx (and network errors) are retried with backoff and jitter,
// honouring Retry-After, without counting as attempts, up to
// `max_retries` times; any other status fails the attempt for good,
// naming the AWS error type.
#ifndef DAGD_SERVER_LAMBDA_DISPATCHER_H_
#define DAGD_SERVER_LAMBDA_DISPATCHER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "dagd/v1/worker_service.pb.h"
#include "server/dispatcher.h"
#include "server/lambda_payloads.h"
#include "storage/aws_credentials.h"
#include "storage/base/clock.h"

namespace dagd {

struct LambdaOptions {
  // Base URL of the Lambda API; empty: https://lambda.REGION.amazonaws.com.
  std::string endpoint;
  std::string region = "us-east-1";
  uint32_t max_concurrency = 100;
  // Throttling (429), service errors (5xx) and network errors.
  absl::Duration retry_initial = absl::Milliseconds(100);
  absl::Duration retry_max = absl::Seconds(20);
  uint32_t max_retries = 10;
  // A task's `timeout` is enforced by the function (dagd-worker ends the
  // task and reports the failure), on the task's run alone: reading its
  // inputs from the object store, writing its output there and a cold
  // start come on top. So dagd waits for the answer as long as Lambda
  // lets any function run, and this much more (a cold start's init, up to
  // 10 s, and the answer's transfer), and never starts another attempt
  // while the invocation may still run.
  absl::Duration timeout_grace = absl::Seconds(60);
  // How often the dispatcher tells the coordinator it is alive.
  absl::Duration heartbeat_interval = absl::Seconds(5);
  // A call whose credentials could not be found (every source of the chain
  // failed: an ECS or IMDS endpoint down for a moment) waits for the next
  // walk of the chain for this long from its start before it fails its
  // attempt.
  absl::Duration credentials_patience = absl::Minutes(1);
  // dagd's object store (no bucket: none) and a client of it (null: none).
  // With one, functions write outputs over the inline limit there, and
  // invocations over Lambda's payload limit send inputs through it.
  v1::ObjectStoreConfig object_store;
  ObjectStore* store = nullptr;  // not owned
};

// The longest a Lambda function runs (AWS's limit).
inline constexpr absl::Duration kLambdaMaxRunTime = absl::Minutes(15);

// How long dagd waits for a call's answer: Lambda's 15 minutes and `grace`,
// whatever the task's timeout (see LambdaOptions::timeout_grace).
absl::Duration LambdaCallLimit(absl::Duration grace);

// When a refused call goes again: after `backoff`, or after what the
// service `asked` (Retry-After) and up to a fifth more by `uniform` in
// [0, 1), so calls throttled together spread out.
absl::Duration LambdaRetryDelay(absl::Duration asked, absl::Duration backoff,
                                double uniform);

class LambdaDispatcher : public InProcessDispatcher {
 public:
  // Where the dispatcher's reports go (the coordinator's WorkerMessage for
  // the dispatcher's worker id). Called on the dispatcher's thread.
  using Report = std::function<void(v1::WorkerMessage)>;

  // `credentials` and `clock` are not owned and must outlive the
  // dispatcher. Every time it reports, and when a retry is due, comes from
  // `clock`, read on the dispatcher's thread. `uniform` returns random
  // numbers in [0, 1), for retry jitter (called on the dispatcher's thread).
  LambdaDispatcher(LambdaOptions options, AwsCredentialsProvider* credentials,
                   Clock* clock, std::function<double()> uniform,
                   Report report);
  ~LambdaDispatcher() override;

  void Start();
  // Abandons calls in flight (their tasks run again as new attempts when
  // the coordinator next starts) and joins the thread.
  void Stop();

  // From the coordinator's outbox: assignments start calls. A cancel is
  // reported (which frees the attempt's slot and group) at once for a call
  // not yet made or waiting to be made again, and for one in flight once
  // Lambda answers it: nothing stops an invocation that has begun.
  void Send(v1::CoordinatorMessage message) override;
  void Close(absl::Status reason) override;
  // Worker "lambda" in pool "lambda" with max_concurrency slots (at least
  // one), running any function: dagd cannot know what the deployed
  // functions offer, and a task of a function they lack fails there.
  WorkerSpec Spec() const override;

  // The URL an invocation of `function` ("NAME" or "NAME:ALIAS") posts to.
  std::string InvokeUrl(absl::string_view function) const;

 private:
  struct Call;

  void Loop();
  void StartCall(std::unique_ptr<Call> call);
  void Finish(void* easy, int curl_code);
  void Retry(std::unique_ptr<Call> call, absl::Duration after, std::string why);
  void Complete(Call& call, v1::TaskResult result);
  // Before a retry: the output key of the next try.
  void MoveOutputKey(Call& call);
  // A cancelled call answered: the output it stored is deleted.
  void DropCancelledOutput(Call& call);
  // An invocation over Lambda's limit: its inputs go to the object store
  // first (off this thread), or it fails for good without one.
  void Shrink(std::unique_ptr<Call> call, v1::LambdaInvocation invocation);
  void StartShrunk();
  absl::Status Prepare(Call& call);

  const LambdaOptions options_;
  AwsCredentialsProvider* const credentials_;
  Clock* const clock_;
  const std::function<double()> uniform_;
  const Report report_;
  // This dispatcher's writer name (WrittenResultObjectKey): random, so that
  // no invocation made before a restart writes where one made after it
  // does.
  const std::string run_;

  absl::Mutex mu_;
  std::vector<v1::Assignment> incoming_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::TaskRef> cancels_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Calls whose inputs went to the object store, ready to start.
  struct ShrunkCall {
    std::unique_ptr<Call> call;
    absl::StatusOr<LambdaPayloads::Shrunk> shrunk;
  };
  std::vector<ShrunkCall> shrunk_ ABSL_GUARDED_BY(mu_);

  // CURLM*: created by Start before the thread starts, destroyed by Stop
  // after it has joined. Other threads only wake it (curl_multi_wakeup is
  // thread-safe), under mu_ and while !stopping_, so never after Stop.
  void* multi_ = nullptr;

  // Owned by the dispatcher's thread.
  std::vector<std::unique_ptr<Call>> running_;
  std::vector<std::unique_ptr<Call>> waiting_;  // retries, by `retry_at`
  // Calls to sign once the credentials being fetched arrive.
  std::vector<std::unique_ptr<Call>> unsigned_;
  // Attempts whose inputs are being written to the store, and those of
  // them cancelled meanwhile.
  std::vector<v1::TaskRef> shrinking_;
  std::vector<v1::TaskRef> cancelled_shrinking_;
  std::thread thread_;
  // Last: destroyed first, while what its callbacks touch still exists.
  LambdaPayloads payloads_;
};

}  // namespace dagd

#endif  // DAGD_SERVER_LAMBDA_DISPATCHER_H_
