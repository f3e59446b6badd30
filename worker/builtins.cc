#include "worker/builtins.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "storage/base/large_buffer.h"
#include "storage/crc32c.h"
#include "worker/json_util.h"

namespace dagd {
namespace {

const google::protobuf::Value& NullValue() {
  static const auto* null = [] {
    auto* value = new google::protobuf::Value();
    value->set_null_value(google::protobuf::NULL_VALUE);
    return value;
  }();
  return *null;
}

// args[field], or null when absent.
const google::protobuf::Value& ArgOrNull(const TaskContext& context,
                                         absl::string_view field) {
  const google::protobuf::Value* value = FindField(context.args(), field);
  return value != nullptr ? *value : NullValue();
}

// A non-negative number argument; `fallback` when absent.
absl::StatusOr<double> NumberArg(const TaskContext& context,
                                 absl::string_view fn, absl::string_view field,
                                 double fallback) {
  const google::protobuf::Value* value = FindField(context.args(), field);
  if (value == nullptr) return fallback;
  if (!value->has_number_value() || value->number_value() < 0) {
    return PermanentError(absl::StrCat(fn, ": args.", field,
                                       " must be a non-negative number, got ",
                                       ValueToJson(*value)));
  }
  return value->number_value();
}

// Adds every input that is a JSON number. With `strict`, any other input is
// a permanent error naming its index; otherwise it is skipped.
absl::Status SumInputs(const TaskContext& context, absl::string_view fn,
                       bool strict, NumberSum* sum, int* count) {
  const std::vector<Payload>& inputs = context.inputs();
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto value = PayloadToValue(inputs[i]);
    if (value.ok() && value->has_number_value()) {
      sum->Add(value->number_value());
      ++*count;
    } else if (strict) {
      std::string got =
          value.ok() ? ValueToJson(*value) : std::string(inputs[i].bytes());
      if (got.size() > 100) got = absl::StrCat(got.substr(0, 100), "...");
      return PermanentError(
          absl::StrCat(fn, ": input ", i, " is not a number: ", got));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Payload> SumPayload(const NumberSum& sum) {
  auto json = sum.ToJson();
  if (!json.ok()) return MakePermanent(json.status());
  return JsonTextPayload(*std::move(json));
}

// A non-negative integer argument (up to 2^53, which a JSON number holds
// exactly); `fallback` when absent.
absl::StatusOr<uint64_t> CountArg(const TaskContext& context,
                                  absl::string_view fn, absl::string_view field,
                                  uint64_t fallback) {
  const google::protobuf::Value* value = FindField(context.args(), field);
  if (value == nullptr) return fallback;
  constexpr double kMax = 9007199254740992.0;  // 2^53
  if (!value->has_number_value() || value->number_value() < 0 ||
      value->number_value() > kMax ||
      value->number_value() != std::floor(value->number_value())) {
    return PermanentError(absl::StrCat(fn, ": args.", field,
                                       " must be a whole number from 0 to "
                                       "2^53, got ",
                                       ValueToJson(*value)));
  }
  return static_cast<uint64_t>(value->number_value());
}

// Compilers make this one store on little-endian machines.
inline void StoreLittleEndian(char* out, uint64_t word) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(word >> (8 * i));
}

}  // namespace

void FillBytes(uint64_t seed, uint64_t offset, char* out, size_t n) {
  // Word k of the stream is start + k * kStep, little-endian: one add per
  // word, so making the bytes costs little beside moving them, and every
  // word differs from its neighbours (a CRC sees any misplaced one).
  constexpr uint64_t kStep = 0x9E3779B97F4A7C15ull;
  const uint64_t start = (seed + 1) * 0xBF58476D1CE4E5B9ull;
  uint64_t word_index = offset / 8;
  if (const size_t skip = offset % 8; skip != 0 && n > 0) {
    char bytes[8];
    StoreLittleEndian(bytes, start + word_index * kStep);
    const size_t take = std::min<size_t>(8 - skip, n);
    std::memcpy(out, bytes + skip, take);
    out += take;
    n -= take;
    ++word_index;
  }
  uint64_t word = start + word_index * kStep;
  for (; n >= 8; n -= 8, out += 8, word += kStep) {
    StoreLittleEndian(out, word);
  }
  if (n > 0) {
    char bytes[8];
    StoreLittleEndian(bytes, word);
    std::memcpy(out, bytes, n);
  }
}

absl::StatusOr<Payload> BytesFunction(TaskContext& context,
                                      uint64_t max_output_bytes) {
  absl::StatusOr<uint64_t> size = CountArg(context, "bytes", "size", 0);
  if (!size.ok()) return size.status();
  absl::StatusOr<uint64_t> seed = CountArg(context, "bytes", "seed", 0);
  if (!seed.ok()) return seed.status();
  // Checked before the buffer is made: one the machine cannot hold would
  // end the worker (and every task on it) rather than this attempt.
  if (max_output_bytes > 0 && *size > max_output_bytes) {
    return PermanentError(absl::StrCat("bytes: args.size ", *size,
                                       " is over dagd's --max_result_bytes (",
                                       max_output_bytes, ")"));
  }
  // This worker's limit, not dagd's: not failed for good (a worker with
  // more memory may make it).
  if (const uint64_t memory = MemoryLimitBytes(); *size > memory) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "bytes: args.size ", *size,
        " is more than the memory this worker may use (", memory, " bytes)"));
  }
  // Made a block at a time and appended: the large buffer is written once.
  constexpr size_t kBlock = 64 << 10;
  char block[kBlock];
  std::string data = LargeString(*size);
  for (uint64_t at = 0; at < *size; at += kBlock) {
    if ((at & ((uint64_t{64} << 20) - 1)) == 0 && context.cancelled()) {
      return absl::CancelledError("bytes: cancelled");
    }
    const size_t n = std::min<uint64_t>(kBlock, *size - at);
    FillBytes(*seed, at, block, n);
    data.append(block, n);
  }
  return Payload{std::move(data), "application/octet-stream"};
}

absl::StatusOr<Payload> ChecksumFunction(TaskContext& context) {
  std::vector<uint64_t> sizes;
  std::vector<uint32_t> crcs;
  for (const Payload& input : context.inputs()) {
    sizes.push_back(input.bytes().size());
    crcs.push_back(crc32c::Value(input.bytes()));
  }
  return JsonTextPayload(
      absl::StrCat(R"({"bytes":[)", absl::StrJoin(sizes, ","),
                   R"(],"crc32c":[)", absl::StrJoin(crcs, ","), "]}"));
}

absl::StatusOr<Payload> ConstFunction(TaskContext& context) {
  return JsonPayload(ArgOrNull(context, "value"));
}

absl::StatusOr<Payload> AddFunction(TaskContext& context) {
  NumberSum sum;
  int count = 0;
  absl::Status status =
      SumInputs(context, "add", /*strict=*/true, &sum, &count);
  if (!status.ok()) return status;
  if (const google::protobuf::Value* value =
          FindField(context.args(), "value")) {
    if (!value->has_number_value()) {
      return PermanentError(absl::StrCat(
          "add: args.value must be a number, got ", ValueToJson(*value)));
    }
    sum.Add(value->number_value());
  }
  return SumPayload(sum);
}

absl::StatusOr<Payload> SleepFunction(TaskContext& context) {
  auto ms = NumberArg(context, "sleep", "ms", 0);
  if (!ms.ok()) return ms.status();
  if (!context.WaitFor(absl::Milliseconds(*ms))) {
    return absl::CancelledError("sleep: cancelled");
  }
  NumberSum sum;
  int count = 0;
  absl::Status status =
      SumInputs(context, "sleep", /*strict=*/false, &sum, &count);
  if (!status.ok()) return status;
  if (count == 0) return JsonPayload(NullValue());
  return SumPayload(sum);
}

absl::StatusOr<Payload> IdentityFunction(TaskContext& context) {
  if (context.inputs().empty()) return JsonPayload(NullValue());
  // A held input passed on as it is: the runner copies it into the result.
  return context.inputs().front();
}

absl::StatusOr<Payload> FailFunction(TaskContext& context) {
  const google::protobuf::Value& message = ArgOrNull(context, "message");
  if (message.has_string_value()) {
    return absl::UnknownError(message.string_value());
  }
  return absl::UnknownError(message.has_null_value() ? "fail: failed as asked"
                                                     : ValueToJson(message));
}

absl::StatusOr<Payload> FlakyFunction(TaskContext& context) {
  auto failures = NumberArg(context, "flaky", "failures", 1);
  if (!failures.ok()) return failures.status();
  if (context.attempt() <= *failures) {
    return absl::UnavailableError(absl::StrCat(
        "flaky: attempt ", context.attempt(), " fails (args.failures is ",
        static_cast<int64_t>(*failures), ")"));
  }
  return JsonPayload(ArgOrNull(context, "value"));
}

absl::Status RegisterBuiltins(FunctionRegistry* registry,
                              std::function<uint64_t()> max_output_bytes) {
  TaskFunction bytes = [max_output_bytes =
                            std::move(max_output_bytes)](TaskContext& context) {
    return BytesFunction(context, max_output_bytes ? max_output_bytes() : 0);
  };
  const std::pair<const char*, TaskFunction> builtins[] = {
      {"const", ConstFunction}, {"add", AddFunction},
      {"sleep", SleepFunction}, {"identity", IdentityFunction},
      {"fail", FailFunction},   {"flaky", FlakyFunction},
      {"bytes", bytes},         {"checksum", ChecksumFunction},
  };
  for (const auto& [name, fn] : builtins) {
    if (absl::Status status = registry->Register(name, fn); !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

}  // namespace dagd
