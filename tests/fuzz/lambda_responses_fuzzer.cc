// What dagd reads from Lambda (server/lambda_response.h): the header lines
// of an Invoke answer as libcurl hands them over, then its status and body
// (the function's LambdaResult, with its payload in base64, or its error
// document, or anything else) read into the attempt's result or a retry;
// and what it sends: an assignment's invocation as JSON
// (server/lambda_payloads.h), which the function must read back as sent.
//
// Checks: 429 and 5xx are retried, after a bounded wait, and nothing else
// is; a refused call fails for good; a function error fails the attempt;
// every result survives the wire (dagd stores it and sends it to clients);
// an invocation's body reads back as the invocation.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "dagd/v1/lambda.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "server/job_compiler.h"
#include "server/lambda_payloads.h"
#include "server/lambda_response.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/proto_strings.h"

namespace dagd {
namespace {

constexpr long kStatuses[] = {200, 200, 200, 200, 400, 403,  // NOLINT
                              404, 413, 429, 500, 502, 503};

void Answer(FuzzedDataProvider& in) {
  InvokeResponse response;
  const size_t lines = in.ConsumeIntegralInRange<size_t>(0, 4);
  for (size_t i = 0; i < lines; ++i) {
    const std::string line = in.ConsumeRandomLengthString(96);
    ReadInvokeHeader(line, &response);
    const size_t colon = line.find(':');
    if (colon != std::string::npos &&
        absl::EqualsIgnoreCase(line.substr(0, colon), "X-Amz-Function-Error")) {
      FUZZ_CHECK(response.function_error ==
                     absl::StripAsciiWhitespace(
                         absl::string_view(line).substr(colon + 1)),
                 "X-Amz-Function-Error read wrongly");
    }
  }
  response.status = in.ConsumeBool()
                        ? in.PickValueInArray(kStatuses)
                        : in.ConsumeIntegralInRange<long>(0, 999);  // NOLINT
  response.body = in.ConsumeRemainingBytesAsString();
  const InvokeOutcome outcome = ReadInvokeResponse(response, "fn-x");
  const bool retryable = response.status == 429 || response.status >= 500;
  FUZZ_CHECK(
      outcome.retry == retryable,
      absl::StrCat("HTTP ", response.status, " retried: ", outcome.retry));
  if (outcome.retry) {
    FUZZ_CHECK(outcome.retry_after >= absl::ZeroDuration() &&
                   outcome.retry_after <= kMaxRetryAfter,
               absl::StrCat("a retry after ",
                            absl::FormatDuration(outcome.retry_after)));
    FUZZ_CHECK(FitsAStringField(outcome.retry_reason),
               "the reason is not text");
    return;
  }
  const v1::TaskResult& result = outcome.result;
  if (response.status != 200) {
    FUZZ_CHECK(!result.ok() && result.permanent() && !result.error().empty(),
               "a refused call that does not fail for good");
  } else if (!response.function_error.empty()) {
    FUZZ_CHECK(!result.ok() && !result.error().empty(),
               "a function error that does not fail");
  }
  FUZZ_CHECK(SurvivesTheWire(result),
             absl::StrCat("a result that does not survive the wire: ",
                          result.ShortDebugString()));
}

// An assignment as dagd would send it (the bytes as one, like a gRPC
// peer's), through its invocation's JSON and back.
void Invocation(FuzzedDataProvider& in) {
  v1::ObjectStoreConfig store;
  if (in.ConsumeBool()) {
    store.set_bucket("bucket");
    store.set_inline_max_bytes(in.ConsumeIntegral<uint32_t>());
  }
  const std::string bytes = in.ConsumeRemainingBytesAsString();
  v1::Assignment assignment;
  // dagd's assignments carry no fields it does not know, and only UTF-8
  // in their strings (gRPC checked what they were made of).
  if (!assignment.ParseFromString(bytes) || !SurvivesTheWire(assignment)) {
    return;
  }
  assignment.DiscardUnknownFields();
  // Nor args the job compiler refuses.
  v1::JobSpec spec;
  v1::TaskSpec* task = spec.add_tasks();
  task->set_id("a");
  task->set_fn("f");
  if (assignment.has_args()) *task->mutable_args() = assignment.args();
  if (!CompileJob(std::move(spec), JobLimits{}).ok()) return;
  v1::LambdaInvocation invocation = MakeInvocation(assignment, store);
  const std::string body = InvocationBody(invocation);
  v1::LambdaInvocation back;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;  // as the function reads it
  const auto parsed =
      google::protobuf::util::JsonStringToMessage(body, &back, options);
  FUZZ_CHECK(parsed.ok(), absl::StrCat("the body does not parse (",
                                       parsed.ToString(), "): ", body));
  // JSON reads "args": null as no args; functions take both alike.
  for (v1::LambdaInvocation* side : {&invocation, &back}) {
    const google::protobuf::Value& args = side->assignment().args();
    if (args.kind_case() == google::protobuf::Value::KIND_NOT_SET ||
        args.has_null_value()) {
      side->mutable_assignment()->clear_args();
    }
  }
  FUZZ_CHECK(
      google::protobuf::util::MessageDifferencer::Equals(back, invocation),
      absl::StrCat("the body reads back as another invocation: ", body));
}

}  // namespace
}  // namespace dagd

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  if (in.ConsumeIntegralInRange<int>(0, 3) != 0) {
    dagd::Answer(in);
  } else {
    dagd::Invocation(in);
  }
  return 0;
}
