// Conversion of gRPC statuses to absl statuses.
#ifndef DAGD_CLIENT_GRPC_STATUS_H_
#define DAGD_CLIENT_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace dagd {

// Keeps the code and the message. The server's messages name the task and
// the problem, so they are passed on untouched; an out-of-range code (which
// a well-behaved server never sends) becomes UNKNOWN.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace dagd

#endif  // DAGD_CLIENT_GRPC_STATUS_H_
