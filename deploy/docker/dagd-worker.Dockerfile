# The dagd-worker image. Build from the repository root:
#   docker build -f deploy/docker/dagd-worker.Dockerfile -t dagd-worker:0.1.0 .
# (dagd-worker.Dockerfile.dockerignore beside this file keeps build trees out
# of the context; BuildKit, Docker's default builder since 23.0, reads it.)
# Programs that `exec` tasks run, and plugins (--plugin), are not in it:
# derive an image (FROM dagd-worker:0.1.0, apt-get install what your tasks
# need, COPY your plugin .so files). Not built in this project's CI, which has
# no Docker engine: tests/deploy/ checks instead that the runtime stage below
# installs the Debian package of every shared library dagd-worker links (ldd),
# and that the flags used here are ones the binary accepts.

# ---- build: the same scripts as a developer's checkout ----
FROM debian:bookworm AS build
WORKDIR /src
COPY . .
RUN ./deploy/install-deps.sh \
 && rm -rf /var/lib/apt/lists/*
RUN BUILD_DIR=/src/build TARGETS="dagd-worker" ./deploy/build.sh \
 && strip --strip-debug build/bin/dagd-worker

# ---- runtime: shared libraries and the binary, nothing else ----
FROM debian:bookworm-slim AS runtime
# Runtime libraries (from `ldd build/bin/dagd-worker` mapped to packages with
# dpkg -S; tests/deploy/docker_test.py keeps this list complete), plus tini
# as PID 1 (forwards SIGTERM, reaps orphans of exec tasks), curl for the
# HEALTHCHECK and ca-certificates.
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
 && useradd --system --uid 10001 --gid dagd --home-dir /tmp \
      --no-create-home --shell /usr/sbin/nologin dagd \
 && install -d -o dagd -g dagd -m 0700 /run/dagd
COPY --from=build /src/build/bin/dagd-worker /usr/local/bin/

USER 10001:10001
# /run/dagd: where deploy/ecs writes the worker's certificate and key from
# SSM Parameter Store. On Fargate a task volume mounted there takes this
# directory's owner and mode (dagd, 0700) instead of root's.
VOLUME ["/run/dagd"]
# exec tasks get a fresh directory per attempt under $TMPDIR.
ENV TMPDIR=/tmp
# 7701: gRPC grpc.health.v1 (--health_listen); 9471: /metrics, /healthz.
EXPOSE 7701 9471
# SIGTERM: stop taking tasks, finish the running ones within --drain_timeout,
# report them, exit 0. Give `docker stop` a longer --time (compose:
# stop_grace_period) than --drain_timeout.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD curl -fsS http://127.0.0.1:9471/healthz || exit 1
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/dagd-worker"]
# The coordinator address is deployment-specific: pass --coordinator=HOST:7700
# (compose.yaml, Kubernetes and ECS all do). These are the other defaults:
# the worker checks dagd's certificate with the CA and presents its own
# (its common name is the worker's name), all mounted at /run/secrets/
# (ca.crt, tls.crt, tls.key), as compose.yaml does.
CMD ["--coordinator=dagd:7700", "--metrics_listen=0.0.0.0:9471", "--health_listen=0.0.0.0:7701", "--drain_timeout=50s", "--log_format=json", "--tls_ca=/run/secrets/ca.crt", "--tls_cert=/run/secrets/tls.crt", "--tls_key=/run/secrets/tls.key"]
