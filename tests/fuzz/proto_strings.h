// Whether a message survives the wire: protobuf writes a string field
// that is not valid UTF-8 (logging an error) but refuses to read it back,
// so such text in a result or status breaks the gRPC answer or stored
// record that carries it.
#ifndef DAGD_TESTS_FUZZ_PROTO_STRINGS_H_
#define DAGD_TESTS_FUZZ_PROTO_STRINGS_H_

#include <string>

#include "dagd/v1/worker_service.pb.h"

namespace dagd {

template <typename Message>
bool SurvivesTheWire(const Message& message) {
  std::string wire;
  if (!message.SerializeToString(&wire)) return false;
  Message back;
  return back.ParseFromString(wire);
}

// `text` as a TaskResult's error, which is where errors from the network
// end up.
inline bool FitsAStringField(const std::string& text) {
  v1::TaskResult result;
  result.set_error(text);
  return SurvivesTheWire(result);
}

}  // namespace dagd

#endif  // DAGD_TESTS_FUZZ_PROTO_STRINGS_H_
