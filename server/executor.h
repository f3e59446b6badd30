// Where a task runs, as a type. The job file spells it as a string
// (TaskSpec.executor); the job compiler parses it once, and nothing after
// it reads the string.
#ifndef DAGD_SERVER_EXECUTOR_H_
#define DAGD_SERVER_EXECUTOR_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dagd {

struct Executor {
  enum class Kind : uint8_t {
    kAnyWorker,  // "": any worker that offers the function
    kPool,       // "pool:NAME": workers started with --pool=NAME
    kLambda,     // "lambda" or "lambda:NAME": dagd's Lambda dispatcher
  };
  Kind kind = Kind::kAnyWorker;
  // The pool, or the Lambda function ("" for "lambda": dagd's
  // --lambda_function).
  std::string name;

  // INVALID_ARGUMENT, naming the problem, for anything but the spellings
  // above.
  static absl::StatusOr<Executor> Parse(absl::string_view text);
  // The job file's spelling.
  std::string ToString() const;
  bool operator==(const Executor& o) const {
    return kind == o.kind && name == o.name;
  }
};

// The pool that tasks of executor kLambda (and Lambda bursts) are placed
// in, served by dagd's Lambda dispatcher; workers cannot join it.
inline constexpr absl::string_view kLambdaPool = "lambda";

}  // namespace dagd

#endif  // DAGD_SERVER_EXECUTOR_H_
