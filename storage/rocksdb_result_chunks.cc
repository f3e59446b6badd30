// RocksMetaStore's stored results in chunks (MetaStore::PutResultChunk,
// ReadResultChunks): jobs' outputs copied from their workers.
#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "rocksdb/options.h"
#include "storage/rocksdb_keys.h"
#include "storage/rocksdb_meta_store.h"

namespace dagd {

using rocks::ChunkKey;
using rocks::FromRocks;

absl::Status RocksMetaStore::PutResultChunk(uint64_t seq, uint32_t index,
                                            uint32_t chunk,
                                            absl::string_view bytes) {
  return FromRocks(db_->Put(rocksdb::WriteOptions(), handles_[kResultChunks],
                            ChunkKey(seq, index, chunk),
                            rocksdb::Slice(bytes.data(), bytes.size())),
                   "writing a chunk of a stored result");
}

absl::StatusOr<std::string> RocksMetaStore::ReadResultChunks(uint64_t seq,
                                                             uint32_t index,
                                                             uint64_t size,
                                                             uint64_t offset,
                                                             uint64_t length) {
  if (offset > size) {
    return absl::OutOfRangeError(absl::StrCat(
        "offset ", offset, " is past the end of the ", size, "-byte result"));
  }
  const uint64_t end = length == 0 ? size : std::min(size, offset + length);
  std::string out;
  out.reserve(end - offset);
  for (uint64_t at = offset; at < end;) {
    const uint32_t chunk = static_cast<uint32_t>(at / kResultChunkBytes);
    const uint64_t chunk_start = uint64_t{chunk} * kResultChunkBytes;
    const uint64_t want = std::min(size - chunk_start, kResultChunkBytes);
    rocksdb::PinnableSlice value;
    rocksdb::Status s =
        db_->Get(rocksdb::ReadOptions(), handles_[kResultChunks],
                 ChunkKey(seq, index, chunk), &value);
    if (s.IsNotFound() || (s.ok() && value.size() != want)) {
      return absl::DataLossError(absl::StrCat(
          "chunk ", chunk, " of the stored result of task ", index, " of ",
          JobIdFromSeq(seq), " is ", s.ok() ? "short" : "missing"));
    }
    if (!s.ok()) return FromRocks(s, "reading a stored result");
    const uint64_t from = at - chunk_start;
    const uint64_t take = std::min(end - at, want - from);
    out.append(value.data() + from, take);
    at += take;
  }
  return out;
}

}  // namespace dagd
