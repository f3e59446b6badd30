// FetchChunk (proto/dagd/v1/data_service.proto) on the wire, written and
// read without a protobuf message in between, so that a chunk's bytes are
// never copied into a message and out again: a holder sends the header
// below followed by the bytes where they lie (its own memory), and a
// reader copies the bytes once, from gRPC's buffers to where they belong.
// What is written is the protobuf encoding, so any FetchChunk parser
// reads it; what is read is any protobuf encoding of a FetchChunk (fields
// in any order, unknown fields skipped).
#ifndef DAGD_STORAGE_FETCH_CHUNK_WIRE_H_
#define DAGD_STORAGE_FETCH_CHUNK_WIRE_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "grpcpp/support/byte_buffer.h"

namespace dagd {

// The fields a chunk carries besides its bytes; only the first chunk of a
// stream sets them.
struct FetchChunkHeader {
  bool first = false;
  uint64_t size = 0;  // of the whole object
  std::string content_type;
};

// The encoding of a FetchChunk up to its bytes: `header`'s fields (when
// first), then the tag and length of `data_size` bytes of data, which
// must follow it.
std::string EncodeFetchChunkHeader(const FetchChunkHeader& header,
                                   uint64_t data_size);

// Reads one FetchChunk from `buffer`: its size and content type into
// `header` (first is set when the chunk has either field), and its data,
// in the pieces gRPC received it in, to `data` (not called for no data).
// INTERNAL when the buffer is not a FetchChunk; an error from `data` is
// returned as it is.
absl::Status ReadFetchChunk(
    const grpc::ByteBuffer& buffer, FetchChunkHeader& header,
    const std::function<absl::Status(absl::string_view piece)>& data);

}  // namespace dagd

#endif  // DAGD_STORAGE_FETCH_CHUNK_WIRE_H_
