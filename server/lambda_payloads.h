// What travels through the object store on the way to and from a Lambda
// function: inputs and outputs too large for an invocation's payload.
//
// Lambda takes at most 6 MB per synchronous request and response. Results
// over dagd's inline limit are in the store already (their producers wrote
// them there) and travel as references. What can still make an invocation
// too large is many inline inputs together, or a worker's inline result of
// a dagd running without a store limit that suits Lambda: those inputs are
// written to the store by dagd for the one call, and deleted after it.
#ifndef DAGD_SERVER_LAMBDA_PAYLOADS_H_
#define DAGD_SERVER_LAMBDA_PAYLOADS_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "dagd/v1/lambda.pb.h"
#include "server/background_queue.h"
#include "storage/object_store.h"

namespace dagd {

// Lambda's limit for a synchronous invocation's request and response.
inline constexpr size_t kLambdaPayloadLimit = 6 * 1024 * 1024;
// The largest output a function returns inline when dagd has a store:
// bytes travel base64-encoded in the JSON answer (4/3 of their size), and
// the answer must stay under kLambdaPayloadLimit.
inline constexpr uint64_t kLambdaInlineOutputMax = 4 * 1024 * 1024;

// The invocation for `assignment`: inputs in the store named in
// input_refs, and where an output over the inline limit goes (when
// `store` has a bucket: WrittenResultObjectKey for `writer`, or the
// attempt's key itself for none). Args values of no kind become null, so
// that the invocation's JSON carries the args as they are.
v1::LambdaInvocation MakeInvocation(v1::Assignment assignment,
                                    const v1::ObjectStoreConfig& store,
                                    absl::string_view writer = "");

// An invocation as the JSON body of an Invoke request.
std::string InvocationBody(const v1::LambdaInvocation& invocation);

// Moves inputs of invocations over kLambdaPayloadLimit to the object store,
// on a thread of its own. Thread-safe.
class LambdaPayloads {
 public:
  struct Shrunk {
    std::string body;                    // under the limit
    std::vector<std::string> temp_keys;  // to delete once the call ends
  };
  using ShrinkDone = absl::AnyInvocable<void(absl::StatusOr<Shrunk>)>;

  // `store` (not owned) may be null: then nothing can be shrunk.
  // Destruction finishes the request in progress; queued shrinks answer
  // UNAVAILABLE, queued deletes are skipped.
  LambdaPayloads(const v1::ObjectStoreConfig& config, ObjectStore* store);

  bool can_shrink() const { return store_ != nullptr; }

  // Writes inline inputs, largest first, to the store until the body fits.
  // `done` runs on this object's thread: with the new body, or
  // INVALID_ARGUMENT when even without inline inputs it does not fit (its
  // args are too large), or the store's error.
  void Shrink(v1::LambdaInvocation invocation, ShrinkDone done);
  // Deletes the temporary objects of a call that ended (its inputs, or
  // the output of a call cancelled while it ran).
  void DeleteLater(std::vector<std::string> keys);

 private:
  absl::StatusOr<Shrunk> DoShrink(v1::LambdaInvocation& invocation);
  void DeleteNow(const std::vector<std::string>& keys);

  const v1::ObjectStoreConfig config_;
  ObjectStore* const store_;
  BackgroundQueue queue_;  // one thread: uploads are rare
};

}  // namespace dagd

#endif  // DAGD_SERVER_LAMBDA_PAYLOADS_H_
