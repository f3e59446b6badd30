// A small streaming JSON writer for the dashboard's answers. The shapes are
// ours (short keys, times in milliseconds since the epoch) rather than the
// proto3 JSON mapping, so that a page of a 100,000-task job stays small.
#ifndef DAGD_SERVER_DASHBOARD_JSON_WRITER_H_
#define DAGD_SERVER_DASHBOARD_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "google/protobuf/timestamp.pb.h"

namespace dagd {

// Appends to a string; the caller nests Begin/End calls correctly (a
// programmer error otherwise, not checked). Not thread-safe.
class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  // The key of the next value, inside an object.
  JsonWriter& Key(absl::string_view key);
  JsonWriter& String(absl::string_view value);
  JsonWriter& Int(int64_t value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();
  // Milliseconds since the epoch, or null for an unset timestamp.
  JsonWriter& Millis(const google::protobuf::Timestamp& time);

  const std::string& str() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  void BeforeValue();

  std::string out_;
  // Per open container: whether it already holds an element.
  std::vector<bool> has_element_;
  bool after_key_ = false;
};

}  // namespace dagd

#endif  // DAGD_SERVER_DASHBOARD_JSON_WRITER_H_
