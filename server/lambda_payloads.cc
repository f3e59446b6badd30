#include "server/lambda_payloads.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "server/assignment_args.h"
#include "server/log.h"
#include "storage/crc32c.h"

namespace dagd {
namespace {

// Makes every value of no kind (a protobuf client may send one) null:
// protobuf's JSON leaves such a value out, which would move the list items
// after it and drop the object member, so the function would see other
// args than a worker does.
void NullForNoKind(google::protobuf::Value& value) {
  switch (value.kind_case()) {
    case google::protobuf::Value::KIND_NOT_SET:
      value.set_null_value(google::protobuf::NULL_VALUE);
      break;
    case google::protobuf::Value::kStructValue:
      for (auto& [key, field] :
           *value.mutable_struct_value()->mutable_fields()) {
        NullForNoKind(field);
      }
      break;
    case google::protobuf::Value::kListValue:
      for (google::protobuf::Value& item :
           *value.mutable_list_value()->mutable_values()) {
        NullForNoKind(item);
      }
      break;
    default:
      break;
  }
}

}  // namespace

v1::LambdaInvocation MakeInvocation(v1::Assignment assignment,
                                    const v1::ObjectStoreConfig& store,
                                    absl::string_view writer) {
  // NullForNoKind reads them. Bytes dagd encoded from a parsed TaskSpec
  // always parse; if not, the function runs without args, and says so.
  if (!ParseEncodedArgs(assignment)) {
    LOG(WARNING).Job(assignment.task().job_id())
        << "task " << assignment.task_id()
        << ": its args do not parse; it is invoked without them";
  }
  if (assignment.has_args()) NullForNoKind(*assignment.mutable_args());
  v1::LambdaInvocation invocation;
  invocation.mutable_input_refs()->swap(*assignment.mutable_input_refs());
  if (!store.bucket().empty()) {
    v1::ObjectRef* output = invocation.mutable_output_ref();
    output->set_bucket(store.bucket());
    const v1::TaskRef& task = assignment.task();
    output->set_key(WrittenResultObjectKey(task.job_id(), task.task_index(),
                                           task.attempt(), writer));
    uint64_t limit = store.inline_max_bytes();
    if (limit == 0 || limit > kLambdaInlineOutputMax) {
      limit = kLambdaInlineOutputMax;
    }
    invocation.set_inline_max_bytes(limit);
  }
  *invocation.mutable_assignment() = std::move(assignment);
  return invocation;
}

std::string InvocationBody(const v1::LambdaInvocation& invocation) {
  std::string body;
  // Cannot fail: the message holds no Any and no invalid UTF-8 in strings
  // that came through gRPC's own checks. Faithful for args the job
  // compiler takes (no NaN or infinities) once MakeInvocation made values
  // of no kind null.
  (void)google::protobuf::util::MessageToJsonString(invocation, &body);
  return body;
}

LambdaPayloads::LambdaPayloads(const v1::ObjectStoreConfig& config,
                               ObjectStore* store)
    : config_(config), store_(store), queue_(1) {}

void LambdaPayloads::Shrink(v1::LambdaInvocation invocation, ShrinkDone done) {
  queue_.Post([this, invocation = std::move(invocation),
               done = std::move(done)](bool abandoned) mutable {
    if (abandoned) return done(absl::UnavailableError("dagd is stopping"));
    done(DoShrink(invocation));
  });
}

absl::StatusOr<LambdaPayloads::Shrunk> LambdaPayloads::DoShrink(
    v1::LambdaInvocation& invocation) {
  Shrunk shrunk;
  v1::Assignment& a = *invocation.mutable_assignment();
  std::vector<uint32_t> order;
  for (int i = 0; i < a.inputs_size(); ++i) {
    if (!a.inputs(i).data().empty()) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(), [&a](uint32_t x, uint32_t y) {
    return a.inputs(x).data().size() > a.inputs(y).data().size();
  });
  shrunk.body = InvocationBody(invocation);
  for (uint32_t position : order) {
    if (shrunk.body.size() <= kLambdaPayloadLimit) break;
    v1::Payload& input = *a.mutable_inputs(position);
    const std::string key = InputObjectKey(
        a.task().job_id(), a.task().task_index(), a.task().attempt(), position);
    if (absl::Status s = store_->Put(key, input.data(), input.content_type());
        !s.ok()) {
      // The ones written so far go with the failure.
      DeleteNow(shrunk.temp_keys);
      return absl::Status(s.code(),
                          absl::StrCat("cannot write input #", position, " (",
                                       input.data().size(), " bytes) to ",
                                       store_->Describe(), ": ", s.message()));
    }
    shrunk.temp_keys.push_back(key);
    v1::ObjectRef& ref = (*invocation.mutable_input_refs())[position];
    ref.set_bucket(config_.bucket());
    ref.set_key(key);
    ref.set_size(input.data().size());
    ref.set_crc32c(crc32c::Value(input.data()));
    ref.set_content_type(input.content_type());
    input.clear_data();
    shrunk.body = InvocationBody(invocation);
  }
  if (shrunk.body.size() > kLambdaPayloadLimit) {
    DeleteNow(shrunk.temp_keys);
    return absl::InvalidArgumentError(absl::StrCat(
        "the invocation is ", shrunk.body.size(),
        " bytes even with every input in the object store, over Lambda's "
        "limit of ",
        kLambdaPayloadLimit, " bytes: the task's args are too large"));
  }
  return shrunk;
}

void LambdaPayloads::DeleteLater(std::vector<std::string> keys) {
  if (keys.empty()) return;
  queue_.Post([this, keys = std::move(keys)](bool abandoned) {
    if (!abandoned) DeleteNow(keys);
  });
}

void LambdaPayloads::DeleteNow(const std::vector<std::string>& keys) {
  // A failure leaves an object behind, which an S3 lifecycle rule on the
  // prefix removes; nothing refers to it.
  for (const std::string& key : keys) {
    if (absl::Status s = store_->Delete(key); !s.ok()) {
      LOG(WARNING) << "could not delete the Lambda call's object '" << key
                   << "' from " << store_->Describe()
                   << ", left behind: " << s.message();
    }
  }
}

}  // namespace dagd
