// What "finished" means for a job and for a task, written once for every
// layer (scheduler, store, retention, clients) that must agree on it.
#ifndef DAGD_PROTO_STATES_H_
#define DAGD_PROTO_STATES_H_

#include "dagd/v1/types.pb.h"

namespace dagd {

// A final job state never changes again: the job can be deleted, retention
// may sweep it, and its tasks are read from the store rather than memory.
inline bool IsFinal(v1::JobState state) {
  return state == v1::JOB_SUCCEEDED || state == v1::JOB_FAILED ||
         state == v1::JOB_CANCELLED;
}

// A final task state: the task will not run again in this job.
inline bool IsFinal(v1::TaskState state) {
  return state == v1::TASK_SUCCEEDED || state == v1::TASK_FAILED ||
         state == v1::TASK_UPSTREAM_FAILED || state == v1::TASK_CANCELLED;
}

}  // namespace dagd

#endif  // DAGD_PROTO_STATES_H_
