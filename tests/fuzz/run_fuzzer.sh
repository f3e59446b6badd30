#!/usr/bin/env bash
# Usage: run_fuzzer.sh FUZZER CORPUS WORK_DIR SECONDS RSS_LIMIT_MB TIMEOUT
#                      [LIBFUZZER_FLAG...]
#
# The fuzz.* tests: runs the libFuzzer binary FUZZER for SECONDS from a
# fresh copy of the committed corpus CORPUS in WORK_DIR/corpus, where the
# inputs it finds go (never into the source tree). Fails on a crash, a
# sanitizer report, a failed FUZZ_CHECK, an input running longer than
# TIMEOUT seconds or memory over RSS_LIMIT_MB; the input is then kept in
# WORK_DIR as crash-*, timeout-*, oom-* or leak-*.
set -euo pipefail
if [ $# -lt 6 ]; then
  sed -n '2,11p' "$0" >&2
  exit 2
fi
fuzzer=$1 corpus=$2 work=$3 seconds=$4 rss=$5 timeout=$6
shift 6
rm -rf "$work"
mkdir -p "$work/corpus"
cp -- "$corpus"/* "$work/corpus/"
# -print_funcs=0: naming each newly covered function costs a symbolizer
# call, a good part of a short run.
if ! "$fuzzer" -max_total_time="$seconds" -rss_limit_mb="$rss" \
    -timeout="$timeout" -print_final_stats=1 -print_funcs=0 \
    -artifact_prefix="$work/" "$@" "$work/corpus"; then
  echo "run_fuzzer: $(basename "$fuzzer") failed; the input is in $work:" >&2
  ls "$work" >&2
  echo "Reproduce with: $fuzzer $work/<file>. Fix it, and add the input" \
    "to $corpus as a regression input." >&2
  exit 1
fi
