#include "worker/lambda_store.h"

#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "storage/s3_object_store.h"

namespace dagd {

std::string EnvOrEmpty(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

absl::StatusOr<LambdaStore> LambdaObjectStore() {
  LambdaStore result;
  v1::ObjectStoreConfig config;
  config.set_bucket(EnvOrEmpty("DAGD_S3_BUCKET"));
  if (config.bucket().empty()) return result;
  config.set_prefix(EnvOrEmpty("DAGD_S3_PREFIX"));
  config.set_endpoint(EnvOrEmpty("DAGD_S3_ENDPOINT"));
  for (const char* name : {"AWS_REGION", "AWS_DEFAULT_REGION"}) {
    if (std::string region = EnvOrEmpty(name); !region.empty()) {
      config.set_region(region);
      break;
    }
  }
  result.credentials = MakeDefaultCredentialsChain();
  auto store = MakeS3ObjectStore(config, result.credentials.get());
  if (!store.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the object store from DAGD_S3_BUCKET, DAGD_S3_PREFIX, "
                     "DAGD_S3_ENDPOINT and AWS_REGION: ",
                     store.status().message()));
  }
  result.store = *std::move(store);
  return result;
}

}  // namespace dagd
