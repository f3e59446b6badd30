#include "storage/job_tasks.h"

#include <algorithm>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/wire_format_lite.h"

namespace dagd {

using google::protobuf::internal::WireFormatLite;

void JobTasks::Add(const v1::TaskSpec& task) {
  task.AppendToString(Room(task.ByteSizeLong()));
}

void JobTasks::AddEncoded(absl::string_view encoded) {
  Room(encoded.size())->append(encoded.data(), encoded.size());
}

std::string* JobTasks::Room(size_t size) {
  // A new block when the task does not fit the last one's room: a block
  // never grows, so views of its tasks stay valid. A task larger than a
  // block gets one of its own.
  if (blocks_.empty() ||
      blocks_.back().size() + size > blocks_.back().capacity()) {
    const size_t room =
        blocks_.empty() ? kFirstBlockBytes
                        : std::min(kBlockBytes, 2 * blocks_.back().capacity());
    blocks_.emplace_back().reserve(std::max(room, size));
  }
  std::string& block = blocks_.back();
  pos_.push_back((uint64_t{blocks_.size() - 1} << 32) | block.size());
  bytes_ += size;
  return &block;
}

absl::string_view JobTasks::encoded(uint32_t i) const {
  const uint64_t pos = pos_[i];
  const std::string& block = blocks_[pos >> 32];
  const size_t begin = static_cast<uint32_t>(pos);
  size_t end = block.size();
  if (i + 1 < pos_.size() && (pos_[i + 1] >> 32) == (pos >> 32)) {
    end = static_cast<uint32_t>(pos_[i + 1]);
  }
  return absl::string_view(block).substr(begin, end - begin);
}

v1::TaskSpec JobTasks::Get(uint32_t i) const {
  v1::TaskSpec task;
  const absl::string_view bytes = encoded(i);
  // Add wrote these bytes from a message: they parse.
  task.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
  return task;
}

v1::TaskSpec JobTasks::GetFields(uint32_t i,
                                 std::initializer_list<uint32_t> fields) const {
  // The chosen fields, encoded again, parse as a message of those alone.
  std::string chosen;
  {
    google::protobuf::io::StringOutputStream stream(&chosen);
    google::protobuf::io::CodedOutputStream out(&stream);
    ForEachLengthDelimited(encoded(i), [&](uint32_t field,
                                           absl::string_view value) {
      if (std::find(fields.begin(), fields.end(), field) == fields.end()) {
        return;
      }
      WireFormatLite::WriteBytes(static_cast<int>(field), std::string(value),
                                 &out);
    }).IgnoreError();  // Add wrote the bytes from a message
  }
  v1::TaskSpec task;
  task.ParseFromString(chosen);
  return task;
}

absl::string_view JobTasks::id(uint32_t i) const {
  absl::string_view id;
  // Add wrote the bytes from a message: they scan.
  ForEachLengthDelimited(encoded(i), [&](uint32_t field,
                                         absl::string_view value) {
    if (field == v1::TaskSpec::kIdFieldNumber) id = value;
  }).IgnoreError();
  return id;
}

size_t TaskIdIndex::Hash::operator()(absl::string_view id) const {
  return absl::Hash<absl::string_view>()(id);
}

TaskIdIndex::TaskIdIndex(const JobTasks& tasks)
    : set_(0, Hash{&tasks}, Eq{&tasks}) {
  // Reserved: growing would hash every id again, reading each task.
  set_.reserve(tasks.size());
  for (uint32_t i = 0; i < tasks.size(); ++i) {
    auto [it, inserted] = set_.insert(i);
    if (!inserted && duplicate_ == kNone) {
      duplicate_ = i;
      duplicate_of_ = *it;
    }
  }
}

uint32_t TaskIdIndex::Find(absl::string_view id) const {
  auto it = set_.find(id);
  return it == set_.end() ? kNone : *it;
}

uint32_t TaskIdIndex::FirstDuplicate(uint32_t* earlier) const {
  *earlier = duplicate_of_;
  return duplicate_;
}

absl::Status ForEachLengthDelimited(
    absl::string_view encoded,
    absl::FunctionRef<void(uint32_t field, absl::string_view value)> visit) {
  const auto* data = reinterpret_cast<const uint8_t*>(encoded.data());
  google::protobuf::io::CodedInputStream in(data,
                                            static_cast<int>(encoded.size()));
  while (const uint32_t tag = in.ReadTag()) {
    if (WireFormatLite::GetTagWireType(tag) !=
        WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      if (!WireFormatLite::SkipField(&in, tag)) {
        return absl::InvalidArgumentError("not an encoded message");
      }
      continue;
    }
    uint32_t length = 0;
    if (!in.ReadVarint32(&length)) {
      return absl::InvalidArgumentError("not an encoded message");
    }
    const int at = in.CurrentPosition();
    if (length > encoded.size() - at || !in.Skip(static_cast<int>(length))) {
      return absl::InvalidArgumentError("not an encoded message");
    }
    visit(WireFormatLite::GetTagFieldNumber(tag), encoded.substr(at, length));
  }
  if (!in.ConsumedEntireMessage()) {
    return absl::InvalidArgumentError("not an encoded message");
  }
  return absl::OkStatus();
}

}  // namespace dagd
