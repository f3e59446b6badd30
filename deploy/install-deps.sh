#!/usr/bin/env bash
# Installs the Debian packages dagd needs to build and test (openssl for
# the TLS tests' certificates; chromium, chromium-driver and
# python3-selenium for the dashboard's browser tests; clang and its
# runtimes for the sanitizer build and the fuzzers, tests/fuzz; lld, the
# faster linker CMakeLists.txt uses when it is there; python3-boto3 and
# python3-crc32c, which the Python Lambda handler uses, for its tests;
# python3-distributed, for the Python benchmark's check against Dask),
# then the npm packages the tests use (tests/s3: s3rver, pinned by its
# package-lock.json).
# Idempotent: a package that is already installed is left alone, apt is not
# touched at all when nothing is missing, and npm only runs when
# tests/s3/node_modules is missing or older than the lock file.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

PACKAGES=(
  build-essential cmake pkg-config git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev librocksdb-dev prometheus-cpp-dev libcivetweb-dev
  libgtest-dev libgmock-dev libbenchmark-dev libcurl4-openssl-dev
  libjemalloc-dev libssl-dev openssl
  clang-format clang libclang-rt-14-dev lld
  prometheus python3 python3-yaml graphviz
  python3-grpcio python3-protobuf python3-cloudpickle python3-numpy
  python3-pytest python3-dask python3-distributed python3-boto3 python3-crc32c
  nodejs npm awscli zip
  chromium chromium-driver python3-selenium
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

missing=()
for p in "${PACKAGES[@]}"; do
  # A nodejs from NodeSource bundles npm and conflicts with Debian's npm
  # package: installing that would replace node. Any working npm will do.
  if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
  if ! installed "$p"; then missing+=("$p"); fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
else
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm packages for the tests, exactly as package-lock.json pins them.
S3_TESTS="$ROOT/tests/s3"
if [ ! -d "$S3_TESTS/node_modules" ] ||
   [ "$S3_TESTS/package-lock.json" -nt "$S3_TESTS/node_modules/.package-lock.json" ]; then
  echo "install-deps: npm ci in tests/s3 (s3rver for the S3 tests)"
  (cd "$S3_TESTS" && npm ci --no-audit --no-fund --loglevel=error)
else
  echo "install-deps: tests/s3 npm packages present"
fi
