// A task's args travel to its worker as the bytes its submission held.
// dagd never reads them, and parsing each into a google.protobuf.Value (a
// Struct: a map of Values) only to serialize it again was dear: with
// 10,000 tasks placed in one turn on 1,000 workers, the Structs' parsing,
// sizing (three times: splitting, queueing, gRPC) and freeing took 8% of dagd's
// CPU samples in their own code alone (1.5% after, most of it checking
// submissions). The encoded Value goes into the assignment as an unknown field
// of args' number: a worker parses it as the args field, as if dagd had set it.
#ifndef DAGD_SERVER_ASSIGNMENT_ARGS_H_
#define DAGD_SERVER_ASSIGNMENT_ARGS_H_

#include "absl/strings/string_view.h"
#include "dagd/v1/worker_service.pb.h"

namespace dagd {

// Sets `assignment`'s args to the encoded google.protobuf.Value `encoded`,
// without parsing it.
void SetEncodedArgs(v1::Assignment& assignment, absl::string_view encoded);

// Parses args set by SetEncodedArgs into `assignment`'s args field, for
// code in dagd that reads them (Lambda's payloads are JSON). False if the
// bytes are not a Value; args are then left unset.
bool ParseEncodedArgs(v1::Assignment& assignment);

}  // namespace dagd

#endif  // DAGD_SERVER_ASSIGNMENT_ARGS_H_
