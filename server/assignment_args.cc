#include "server/assignment_args.h"

#include "google/protobuf/unknown_field_set.h"

namespace dagd {

void SetEncodedArgs(v1::Assignment& assignment, absl::string_view encoded) {
  assignment.GetReflection()
      ->MutableUnknownFields(&assignment)
      ->AddLengthDelimited(v1::Assignment::kArgsFieldNumber)
      ->assign(encoded.data(), encoded.size());
}

bool ParseEncodedArgs(v1::Assignment& assignment) {
  google::protobuf::UnknownFieldSet* unknown =
      assignment.GetReflection()->MutableUnknownFields(&assignment);
  bool ok = true;
  for (int i = 0; i < unknown->field_count(); ++i) {
    const google::protobuf::UnknownField& field = unknown->field(i);
    if (field.number() != v1::Assignment::kArgsFieldNumber ||
        field.type() != google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED) {
      continue;
    }
    // As a parser would: a field seen twice merges into the first.
    ok = ok &&
         assignment.mutable_args()->MergeFromString(field.length_delimited());
    unknown->DeleteSubrange(i--, 1);
  }
  if (!ok) assignment.clear_args();
  return ok;
}

}  // namespace dagd
