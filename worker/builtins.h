// The functions every worker offers, registered through the same public API
// plugins use; dagd-worker runs them as its "builtin" runtime
// (worker/function_runtime.h). Outputs are application/json, except
// those of `bytes`.
//   const     args.value (null if absent)
//   add       sum of the numeric inputs plus args.value; integers stay
//             integers
//   sleep     waits args.ms (interruptible), then the sum of its numeric
//             inputs (null if none)
//   identity  its first input unchanged (null if none)
//   fail      fails with args.message (retryable)
//   flaky     fails attempts 1..args.failures, then returns args.value
//   bytes     args.size bytes (application/octet-stream) of a stream set by
//             args.seed (FillBytes): a large result made cheaply, for
//             measuring how results move
//   checksum  the size and CRC-32C of each input:
//             {"bytes": [...], "crc32c": [...]}
// `exec`, which users count among the builtins, is a runtime of its own
// (worker/exec_runtime.h).
#ifndef DAGD_WORKER_BUILTINS_H_
#define DAGD_WORKER_BUILTINS_H_

#include <cstddef>
#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "worker/function_registry.h"

namespace dagd {

// `max_output_bytes` (dagd's --max_result_bytes as the worker last heard
// it; unset or 0: not heard) bounds what `bytes` makes: a larger size is
// refused before any of it is allocated.
absl::Status RegisterBuiltins(
    FunctionRegistry* registry,
    std::function<uint64_t()> max_output_bytes = nullptr);

// The builtins themselves, for tests and for reuse by other functions.
absl::StatusOr<Payload> ConstFunction(TaskContext& context);
absl::StatusOr<Payload> AddFunction(TaskContext& context);
absl::StatusOr<Payload> SleepFunction(TaskContext& context);
absl::StatusOr<Payload> IdentityFunction(TaskContext& context);
absl::StatusOr<Payload> FailFunction(TaskContext& context);
absl::StatusOr<Payload> FlakyFunction(TaskContext& context);
// A size over `max_output_bytes` (if not 0) is refused for good, one over
// the memory this worker may use (MemoryLimitBytes) for this attempt;
// either before anything is allocated.
absl::StatusOr<Payload> BytesFunction(TaskContext& context,
                                      uint64_t max_output_bytes = 0);
absl::StatusOr<Payload> ChecksumFunction(TaskContext& context);

// Bytes [offset, offset + n) of the stream `bytes` makes for `seed`, into
// `out`.
void FillBytes(uint64_t seed, uint64_t offset, char* out, size_t n);

}  // namespace dagd

#endif  // DAGD_WORKER_BUILTINS_H_
