// HTTP/2 flow control of dagd's gRPC port: the coordinator's server and
// the channels its workers open to it.
//
// By default gRPC sizes a connection's flow-control window from
// bandwidth-delay probes: after data is read it sends a PING, which the
// peer answers, and widens the window as the answers show. A coordinator
// reads a little from each of many connections (a worker's results, a
// heartbeat), and each read brought a probe and its answer: over five
// wide jobs on 1,000 simulated workers dagd made 12,415 socket reads and
// 14,198 writes with them, 6,781 and 11,644 without (strace; README
// "Measured"). Both ends turn them off and keep a fixed window of 1 MiB
// per stream instead, which covers a worker's messages and the start of
// any bigger one; gRPC still widens a stream's window to fit the message
// it is reading, so a large SubmitJob or result is not held to it.
#ifndef DAGD_STORAGE_FLOW_CONTROL_H_
#define DAGD_STORAGE_FLOW_CONTROL_H_

#include "grpcpp/grpcpp.h"

namespace dagd {

inline constexpr int kStreamWindowBytes = 1 << 20;

// For dagd's server.
inline void SetFlowControl(grpc::ServerBuilder& builder) {
  builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES,
                             kStreamWindowBytes);
}

// For a worker's channel to dagd.
inline void SetFlowControl(grpc::ChannelArguments& args) {
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, kStreamWindowBytes);
}

}  // namespace dagd

#endif  // DAGD_STORAGE_FLOW_CONTROL_H_
