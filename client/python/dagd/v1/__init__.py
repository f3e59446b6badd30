"""dagd's API (proto/dagd/v1) as Python messages and gRPC stubs: the build
generates ``types_pb2``, ``job_service_pb2``, ``job_service_pb2_grpc`` and
the rest here with Debian's protoc and grpc_python_plugin."""
