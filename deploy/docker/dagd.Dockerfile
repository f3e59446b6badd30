# The dagd coordinator image: dagd, plus dagd-worker (for --local_workers) and
# dagctl (docker exec ... dagctl jobs). Build from the repository root:
#   docker build -f deploy/docker/dagd.Dockerfile -t dagd:0.1.0 .
# (dagd.Dockerfile.dockerignore beside this file keeps build trees out of the
# context; BuildKit, Docker's default builder since 23.0, reads it.)
# Not built in this project's CI, which has no Docker engine: tests/deploy/
# checks instead that the runtime stage below installs the Debian package of
# every shared library the binaries link (ldd), and that the flags used here
# are ones the binaries accept.

# ---- build: the same scripts as a developer's checkout ----
FROM debian:bookworm AS build
WORKDIR /src
COPY . .
RUN ./deploy/install-deps.sh \
 && rm -rf /var/lib/apt/lists/*
RUN BUILD_DIR=/src/build TARGETS="dagd dagd-worker dagctl" ./deploy/build.sh \
 && strip --strip-debug build/bin/dagd build/bin/dagd-worker build/bin/dagctl

# ---- runtime: shared libraries and the binaries, nothing else ----
FROM debian:bookworm-slim AS runtime
# Runtime libraries (from `ldd build/bin/*` mapped to packages with dpkg -S;
# tests/deploy/docker_test.py keeps this list complete), plus tini as PID 1
# (forwards SIGTERM, reaps exec tasks' orphans), curl for the HEALTHCHECK
# and ca-certificates.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libabsl20220623 libbz2-1.0 libc-ares2 libc6 libcivetweb1 libgcc-s1 \
      libjemalloc2 \
      libgrpc++1.51 libgrpc29 liblz4-1 libprometheus-cpp-core1.0 \
      libprometheus-cpp-pull1.0 libprotobuf32 libre2-9 \
      libsnappy1v5 libssl3 libstdc++6 libzstd1 zlib1g \
      libcurl4 libbrotli1 libcom-err2 libffi8 libgmp10 libgnutls30 \
      libgssapi-krb5-2 libhogweed6 libidn2-0 libk5crypto3 libkeyutils1 \
      libkrb5-3 libkrb5support0 libldap-2.5-0 libnettle8 libnghttp2-14 \
      libp11-kit0 libpsl5 librtmp1 libsasl2-2 libssh2-1 libtasn1-6 \
      libunistring2 \
      tini curl ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 dagd \
 && useradd --system --uid 10001 --gid dagd --home-dir /var/lib/dagd \
      --no-create-home --shell /usr/sbin/nologin dagd \
 && install -d -o dagd -g dagd -m 0750 /var/lib/dagd \
 && install -d -o dagd -g dagd -m 0700 /run/dagd
COPY --from=build /src/build/bin/dagd /src/build/bin/dagd-worker /src/build/bin/dagctl /usr/local/bin/

USER 10001:10001
# /run/dagd: where deploy/ecs writes the TLS files and tokens it gets from
# SSM Parameter Store before starting dagd. On Fargate a task volume
# mounted there takes this directory's owner and mode (dagd, 0700); the
# default would be root's, which dagd could not write.
VOLUME ["/var/lib/dagd", "/run/dagd"]
WORKDIR /var/lib/dagd
# 7700: gRPC (JobService, WorkerService, grpc.health.v1); 9470: /metrics,
# /healthz, dashboard. (9472, the HEALTHCHECK's, listens on the container's
# loopback only: not exposed.)
EXPOSE 7700 9470
# SIGTERM: refuse new submissions, stop local workers, sync RocksDB, exit 0.
STOPSIGNAL SIGTERM
# /healthz answers 200 "ok" while serving and 503 while shutting down.
# Checked on --healthz_listen (CMD below: 127.0.0.1:9472, plain http, the
# check runs inside the container), not on 9470: clients that connect
# there and never finish a request can hold all of its threads, and a
# check there would then call a healthy dagd unhealthy. 9472 answers on a
# thread of its own that no client can hold, and says only up or down.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD curl -fsS --max-time 3 http://127.0.0.1:9472/healthz || exit 1
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/dagd"]
# Listen on every interface inside the container (dagd's defaults are
# loopback only), which dagd does only with TLS, worker certificates and
# tokens (README "Security"): mount the files deploy/tls/make-certs.sh and
# make-token.sh made at /run/secrets/ (ca.crt, tls.crt, tls.key, tokens),
# as compose.yaml does. Arguments given to `docker run IMAGE ...` replace
# these: keep --healthz_listen=127.0.0.1:9472 among them, or the
# HEALTHCHECK finds nothing to ask.
CMD ["--listen=0.0.0.0:7700", "--data_dir=/var/lib/dagd", "--metrics_listen=0.0.0.0:9470", "--healthz_listen=127.0.0.1:9472", "--log_format=json", "--tls_cert=/run/secrets/tls.crt", "--tls_key=/run/secrets/tls.key", "--worker_ca=/run/secrets/ca.crt", "--tokens_file=/run/secrets/tokens"]
