// What dagd-worker --lambda reads from its environment: the object store
// that inputs and outputs too large for an invocation go through. Defined
// here to keep worker/main.cc small.
#ifndef DAGD_WORKER_LAMBDA_STORE_H_
#define DAGD_WORKER_LAMBDA_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "storage/aws_credentials.h"
#include "storage/object_store.h"

namespace dagd {

// The variable `name`, or "" when it is unset.
std::string EnvOrEmpty(const char* name);

// The object store, and what it needs to live.
struct LambdaStore {
  std::unique_ptr<AwsCredentialsProvider> credentials;
  std::unique_ptr<ObjectStore> store;  // null: none
};

// The S3 store configured by DAGD_S3_BUCKET, DAGD_S3_PREFIX,
// DAGD_S3_ENDPOINT and AWS_REGION (which Lambda sets), with the execution
// role's credentials from the environment; no store when DAGD_S3_BUCKET is
// unset. INVALID_ARGUMENT naming the variables for a bad configuration.
absl::StatusOr<LambdaStore> LambdaObjectStore();

}  // namespace dagd

#endif  // DAGD_WORKER_LAMBDA_STORE_H_
