// Keeps every message to a worker under a size bound. A turn's batch for
// one worker can carry thousands of assignments, each with inline inputs;
// one protobuf message past 2 GiB cannot even be serialized, and a large
// one holds up the stream. Splitting keeps each message small.
#ifndef DAGD_SERVER_BATCH_SPLIT_H_
#define DAGD_SERVER_BATCH_SPLIT_H_

#include <cstddef>
#include <vector>

#include "dagd/v1/worker_service.pb.h"

namespace dagd {

// `batch` as batches of at most `max_bytes` serialized bytes each, in
// order: the cancels first (a worker applies a batch's cancels before its
// assignments, so they stay ahead of every assignment), then the
// assignments in their order (one alone may exceed the bound: it cannot be
// cut; nor is a chain of grants: an assignment with `after` stays in the
// piece of the one before it), and the releases and acknowledgement with the
// last. A batch within the bound is returned as it is.
std::vector<v1::CoordinatorBatch> SplitBatch(v1::CoordinatorBatch batch,
                                             size_t max_bytes);

}  // namespace dagd

#endif  // DAGD_SERVER_BATCH_SPLIT_H_
