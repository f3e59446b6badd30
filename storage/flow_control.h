// HTTP/2 flow control of dagd's gRPC port: the coordinator's server and
// the channels its workers open to it.
//
// By default gRPC starts a stream at a 64 KiB window and grows it from
// bandwidth-delay probes: after data is read it sends a PING, which the
// peer answers. A coordinator reads a little from each of many connections
// (a worker's results, a heartbeat), and each read brought a probe and its
// answer: over five wide jobs on 1,000 simulated workers dagd made 12,415
// socket reads and 14,198 writes with them, 6,781 and 11,644 without
// (strace; README "Measured"). Both ends turn them off and start every
// stream at a fixed window of 8 MiB instead, as the data plane's channels
// do (storage/data_client.cc, where 8 MiB carried a stream at 1.1-1.3 GB/s
// on loopback against 0.2-0.7 GB/s grown from 64 KiB). A large SubmitJob
// then has up to 8 MiB in flight per round trip; the probes grew windows
// to 4 MiB and more, but could also shrink them when memory ran short.
#ifndef DAGD_STORAGE_FLOW_CONTROL_H_
#define DAGD_STORAGE_FLOW_CONTROL_H_

#include "grpcpp/grpcpp.h"

namespace dagd {

inline constexpr int kStreamWindowBytes = 8 << 20;

// Channels to dagd (workers', clients') ping it when they have not heard
// from it for this long, and give up on it when a ping goes unanswered for
// kKeepaliveTimeoutMs: a dagd whose host vanished without closing its
// connections (power lost, a partition, a node gone under its pod) is
// noticed within about 40 s, where TCP alone takes some 15 minutes, and a
// worker reconnects to the dagd that replaces it, a watch resumes there.
inline constexpr int kKeepaliveMs = 30'000;
inline constexpr int kKeepaliveTimeoutMs = 10'000;

// For dagd's server.
inline void SetFlowControl(grpc::ServerBuilder& builder) {
  builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES,
                             kStreamWindowBytes);
  // The channels' pings, with room: gRPC's default (5 minutes) takes more
  // for abuse and closes the connection.
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, kKeepaliveMs / 3);
}

// For a channel to dagd (client/client.cc sets the same).
inline void SetKeepalive(grpc::ChannelArguments& args) {
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveMs);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveTimeoutMs);
  // A watch only reads: its pings go on without data of its own.
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
}

// For a worker's channel to dagd.
inline void SetFlowControl(grpc::ChannelArguments& args) {
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, kStreamWindowBytes);
  SetKeepalive(args);
}

}  // namespace dagd

#endif  // DAGD_STORAGE_FLOW_CONTROL_H_
