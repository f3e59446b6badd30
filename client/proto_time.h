// Conversions between absl time types and the protobuf well-known types.
#ifndef DAGD_CLIENT_PROTO_TIME_H_
#define DAGD_CLIENT_PROTO_TIME_H_

#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace dagd {

// Infinite durations saturate to the largest protobuf Duration.
google::protobuf::Duration ToProtoDuration(absl::Duration d);
absl::Duration FromProtoDuration(const google::protobuf::Duration& d);

// An unset Timestamp (all zero) is the Unix epoch; callers that need "not
// set" check HasTimestamp first.
absl::Time FromProtoTimestamp(const google::protobuf::Timestamp& t);
bool HasTimestamp(const google::protobuf::Timestamp& t);

}  // namespace dagd

#endif  // DAGD_CLIENT_PROTO_TIME_H_
