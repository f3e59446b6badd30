// Where a result that does not travel inline lives, read off its ObjectRef
// in one place for every layer (scheduler, coordinator, stores, workers).
#ifndef DAGD_PROTO_OBJECT_LOCATION_H_
#define DAGD_PROTO_OBJECT_LOCATION_H_

#include "dagd/v1/types.pb.h"

namespace dagd {

enum class ObjectLocation {
  kBucket,  // the object store (S3): `bucket` and `key`
  kHeld,    // the worker that made it: `holder` and `key`
  kStored,  // dagd's own store, in chunks: `stored`
};

inline ObjectLocation LocationOf(const v1::ObjectRef& ref) {
  if (ref.stored()) return ObjectLocation::kStored;
  if (ref.has_holder()) return ObjectLocation::kHeld;
  return ObjectLocation::kBucket;
}

inline bool IsHeld(const v1::ObjectRef& ref) {
  return LocationOf(ref) == ObjectLocation::kHeld;
}

}  // namespace dagd

#endif  // DAGD_PROTO_OBJECT_LOCATION_H_
