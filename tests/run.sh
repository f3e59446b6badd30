#!/usr/bin/env bash
# The README's second command: installs what is missing, builds, and runs the
# whole suite: unit and integration tests, then the unit tests again under
# AddressSanitizer and UBSan (built by clang), with the fuzzers.
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/install-deps.sh
# Formatting is part of the suite: every C++ file as .clang-format says.
git ls-files '*.cc' '*.h' | xargs clang-format --dry-run --Werror
./deploy/build.sh
# Three at once on two cores: most of these tests wait on the processes
# they start (dagd, workers, a browser), using about 1.4 cores at -j 2;
# -j 3 ran the suite in 3 min 51 s instead of 4 min 44 s.
(cd build && ctest --output-on-failure -j 3 --timeout 300)

if [ "${DAGD_SKIP_SANITIZERS:-0}" != "1" ]; then
  # The sanitizer build is clang's, with libFuzzer: the same build runs the
  # unit tests and the fuzzers (fuzz.*, DAGD_FUZZ_SECONDS each, from their
  # committed corpora). A build-asan of gcc's (before the fuzzers) starts
  # afresh. Integration, deploy, Lambda, dashboard and Python tests check
  # processes and files, not memory: they run once, above. So do the
  # compiler's million-task tests (that nothing recurses: 60 s under ASan,
  # and a recursion would overflow the stack in the run above as well).
  echo "== unit tests and fuzzers under ASan + UBSan =="
  if [ -f build-asan/CMakeCache.txt ] &&
     ! grep -q '^CMAKE_CXX_COMPILER:.*clang' build-asan/CMakeCache.txt; then
    rm -rf build-asan
  fi
  CC=clang CXX=clang++ BUILD_DIR=build-asan BUILD_TYPE=Debug \
    ./deploy/build.sh -DDAGD_SANITIZE=ON -DDAGD_FUZZ=ON \
    -DDAGD_FUZZ_SECONDS="${DAGD_FUZZ_SECONDS:-15}"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  (cd build-asan && ctest --output-on-failure -j 2 --timeout 300 \
     -E '^(integration|deploy|lambda|dashboard|python)\.|^JobCompilerTest\.MillionTask')
fi
