#!/usr/bin/env bash
# The README's second command: installs what is missing, builds, and runs the
# whole suite: unit and integration tests, then the unit tests again under
# AddressSanitizer and UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/install-deps.sh
# Formatting is part of the suite: every C++ file as .clang-format says.
git ls-files '*.cc' '*.h' | xargs clang-format --dry-run --Werror
./deploy/build.sh
(cd build && ctest --output-on-failure -j 2 --timeout 300)

if [ "${DAGD_SKIP_SANITIZERS:-0}" != "1" ]; then
  # Integration and deploy tests check processes and files, not memory: they
  # run once, above.
  echo "== unit tests under ASan + UBSan =="
  BUILD_DIR=build-asan BUILD_TYPE=Debug ./deploy/build.sh -DDAGD_SANITIZE=ON
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  (cd build-asan && ctest --output-on-failure -j 2 --timeout 300 \
     -E '^(integration|deploy)\.')
fi
