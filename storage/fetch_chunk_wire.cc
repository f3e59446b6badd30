#include "storage/fetch_chunk_wire.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"

namespace dagd {
namespace {

// Field numbers and wire types of FetchChunk.
constexpr uint32_t kDataField = 1;
constexpr uint32_t kSizeField = 2;
constexpr uint32_t kContentTypeField = 3;
constexpr uint32_t kVarint = 0;
constexpr uint32_t kFixed64 = 1;
constexpr uint32_t kLengthDelimited = 2;
constexpr uint32_t kFixed32 = 5;

void AppendVarint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

void AppendTag(std::string& out, uint32_t field, uint32_t wire_type) {
  AppendVarint(out, (field << 3) | wire_type);
}

// Reads a message laid out in several slices, front to back.
class SliceReader {
 public:
  explicit SliceReader(std::vector<grpc::Slice> slices)
      : slices_(std::move(slices)) {
    Skip();
  }

  bool done() const { return index_ == slices_.size(); }

  bool ReadByte(uint8_t& byte) {
    if (done()) return false;
    byte = slices_[index_].begin()[at_];
    Advance(1);
    return true;
  }

  bool ReadVarint(uint64_t& value) {
    value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t byte = 0;
      if (!ReadByte(byte)) return false;
      value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return false;
  }

  // Passes the next `n` bytes to `piece` in contiguous pieces; false when
  // fewer are left (nothing passed then is complete).
  template <typename Piece>
  bool Read(uint64_t n, Piece&& piece) {
    while (n > 0) {
      if (done()) return false;
      const grpc::Slice& slice = slices_[index_];
      const size_t take = std::min<uint64_t>(n, slice.size() - at_);
      if (!piece(absl::string_view(
              reinterpret_cast<const char*>(slice.begin()) + at_, take))) {
        return true;  // the caller stops; its own error says why
      }
      Advance(take);
      n -= take;
    }
    return true;
  }

 private:
  void Advance(size_t n) {
    at_ += n;
    Skip();
  }
  // Moves past the end of the current slice and any empty ones.
  void Skip() {
    while (index_ < slices_.size() && at_ >= slices_[index_].size()) {
      ++index_;
      at_ = 0;
    }
  }

  std::vector<grpc::Slice> slices_;
  size_t index_ = 0;
  size_t at_ = 0;
};

absl::Status NotAChunk(absl::string_view why) {
  return absl::InternalError(
      absl::StrCat("the holder sent a chunk that is not a FetchChunk: ", why));
}

}  // namespace

std::string EncodeFetchChunkHeader(const FetchChunkHeader& header,
                                   uint64_t data_size) {
  std::string out;
  if (header.first) {
    if (header.size != 0) {
      AppendTag(out, kSizeField, kVarint);
      AppendVarint(out, header.size);
    }
    if (!header.content_type.empty()) {
      AppendTag(out, kContentTypeField, kLengthDelimited);
      AppendVarint(out, header.content_type.size());
      out.append(header.content_type);
    }
  }
  if (data_size > 0) {
    AppendTag(out, kDataField, kLengthDelimited);
    AppendVarint(out, data_size);
  }
  return out;
}

absl::Status ReadFetchChunk(
    const grpc::ByteBuffer& buffer, FetchChunkHeader& header,
    const std::function<absl::Status(absl::string_view piece)>& data) {
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) return NotAChunk("unreadable buffer");
  SliceReader reader(std::move(slices));
  while (!reader.done()) {
    uint64_t tag = 0;
    if (!reader.ReadVarint(tag)) return NotAChunk("a bad tag");
    const uint32_t field = static_cast<uint32_t>(tag >> 3);
    const uint32_t wire_type = static_cast<uint32_t>(tag & 7);
    uint64_t value = 0;
    switch (wire_type) {
      case kVarint:
        if (!reader.ReadVarint(value)) return NotAChunk("a bad number");
        if (field == kSizeField) {
          header.first = true;
          header.size = value;
        }
        break;
      case kLengthDelimited: {
        if (!reader.ReadVarint(value)) return NotAChunk("a bad length");
        absl::Status status;
        bool read = false;
        if (field == kDataField) {
          read = reader.Read(value, [&](absl::string_view piece) {
            status = data(piece);
            return status.ok();
          });
        } else if (field == kContentTypeField) {
          header.first = true;
          header.content_type.clear();
          read = reader.Read(value, [&](absl::string_view piece) {
            header.content_type.append(piece.data(), piece.size());
            return true;
          });
        } else {
          read = reader.Read(value, [](absl::string_view) { return true; });
        }
        if (!status.ok()) return status;
        if (!read) return NotAChunk("a field longer than the chunk");
        break;
      }
      case kFixed64:
      case kFixed32:
        if (!reader.Read(wire_type == kFixed64 ? 8 : 4,
                         [](absl::string_view) { return true; })) {
          return NotAChunk("a field longer than the chunk");
        }
        break;
      default:
        return NotAChunk(absl::StrCat("wire type ", wire_type));
    }
  }
  return absl::OkStatus();
}

}  // namespace dagd
