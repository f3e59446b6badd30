// A successful task result's output as the scheduler fuzzer reports it,
// decoded from the input: every form a worker may send, and the forms dagd
// must refuse.
#ifndef DAGD_TESTS_FUZZ_FUZZED_OUTPUT_H_
#define DAGD_TESTS_FUZZ_FUZZED_OUTPUT_H_

#include <fuzzer/FuzzedDataProvider.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "dagd/v1/worker_service.pb.h"
#include "storage/object_store.h"

namespace dagd {

// Sets `result`'s output: inline; held by the reporter (whose instance is
// `instance`, empty for none) under the attempt's key; held elsewhere or
// under another key; in `bucket` under the attempt's key, a writer's key
// under it, a try of that, or a key that only looks like one; marked as
// only dagd marks results; or in another bucket.
inline void SetFuzzedOutput(FuzzedDataProvider& in, absl::string_view bucket,
                            absl::string_view instance,
                            v1::TaskResult& result) {
  const v1::TaskRef& ref = result.task();
  const std::string key =
      ResultObjectKey(ref.job_id(), ref.task_index(), ref.attempt());
  const std::string content_type =
      in.ConsumeBool() ? "application/json" : in.ConsumeRandomLengthString(8);
  const int kind = in.ConsumeIntegralInRange<int>(0, 5);
  if (kind == 0) {
    result.mutable_output()->set_data(in.ConsumeRandomLengthString(24));
    result.mutable_output()->set_content_type(content_type);
    return;
  }
  v1::ObjectRef& out = *result.mutable_output_ref();
  out.set_size(in.ConsumeIntegralInRange<uint64_t>(0, 100));
  out.set_crc32c(in.ConsumeIntegral<uint32_t>());
  out.set_content_type(content_type);
  switch (kind) {
    case 1:  // held by the reporter, as a worker reports its output
      out.mutable_holder()->set_instance(std::string(instance));
      out.mutable_holder()->set_address("addr");
      out.set_key(key);
      break;
    case 2:  // held elsewhere, or under another key
      out.mutable_holder()->set_instance(
          absl::StrCat("inst-", in.ConsumeIntegralInRange<int>(0, 4)));
      out.mutable_holder()->set_address("addr");
      out.set_key(in.ConsumeBool() ? key : absl::StrCat(key, "0"));
      break;
    case 3: {  // in the bucket
      constexpr const char* kSuffixes[] = {
          "", "/5f0c2a9e41d7b388", "/5f0c2a9e41d7b388/try2", "/", "5f0c"};
      out.set_bucket(std::string(bucket));
      out.set_key(
          absl::StrCat(key, kSuffixes[in.ConsumeIntegralInRange<int>(0, 4)]));
      break;
    }
    case 4:  // marked as only dagd marks results
      out.set_key(key);
      if (in.ConsumeBool()) {
        out.set_stored(true);
      } else {
        out.set_output(true);
        out.mutable_holder()->set_instance(std::string(instance));
      }
      break;
    default:  // another bucket
      out.set_bucket("other");
      out.set_key(key);
      break;
  }
}

}  // namespace dagd

#endif  // DAGD_TESTS_FUZZ_FUZZED_OUTPUT_H_
