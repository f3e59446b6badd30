// An ObjectStore in an S3 bucket (or anything that speaks S3's REST API
// with SigV4: s3rver in tests, MinIO), with path-style URLs:
// ENDPOINT/BUCKET/PREFIX+KEY.
//
// Every object is written with its CRC-32C, as x-amz-checksum-crc32c (S3
// rejects a body that does not match it) and as x-amz-meta-crc32c (hex),
// which Get checks: a mismatch is DATA_LOSS.
#ifndef DAGD_STORAGE_S3_OBJECT_STORE_H_
#define DAGD_STORAGE_S3_OBJECT_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "dagd/v1/types.pb.h"
#include "storage/aws_credentials.h"
#include "storage/object_store.h"

namespace dagd {

struct S3Options {
  std::string bucket;  // required
  // Prepended to every key as it is ("dagd/results/"); may be empty.
  std::string prefix;
  // "http(s)://host[:port]"; empty: DefaultS3Endpoint(region).
  std::string endpoint;
  std::string region = "us-east-1";
  // Required; not owned, must outlive the store.
  AwsCredentialsProvider* credentials = nullptr;
  absl::Duration connect_timeout = absl::Seconds(5);
  // A request gives up when no byte has moved for this long (there is no
  // overall limit, so large objects are fine on a slow link).
  absl::Duration stall_timeout = absl::Seconds(30);
};

// "https://s3.REGION.amazonaws.com".
std::string DefaultS3Endpoint(absl::string_view region);

// INVALID_ARGUMENT for options that cannot work (no bucket, a bucket name
// S3 would refuse, an endpoint that is not http(s), no credentials). Makes
// no request: a missing bucket or bad credentials show on first use.
// Thread-safe; each call uses a connection of its own.
absl::StatusOr<std::unique_ptr<ObjectStore>> MakeS3ObjectStore(
    S3Options options);

// The same for the store dagd tells its workers about (an empty region:
// us-east-1). `credentials` is not owned and must outlive the store.
absl::StatusOr<std::unique_ptr<ObjectStore>> MakeS3ObjectStore(
    const v1::ObjectStoreConfig& config, AwsCredentialsProvider* credentials);

}  // namespace dagd

#endif  // DAGD_STORAGE_S3_OBJECT_STORE_H_
