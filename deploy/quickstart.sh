#!/usr/bin/env bash
# The README's first command: installs what is missing, builds the three
# binaries, starts dagd with two local workers on a fresh data directory,
# runs the tree-reduction example (1,024 leaves summed pairwise) and prints
# its root: 523776.
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/install-deps.sh
# Only what it runs (dagd starts dagd-worker for --local_workers): the test
# suite, which tests/run.sh builds, is more than half of a full build.
TARGETS="dagd dagd-worker dagctl" ./deploy/build.sh
BIN=build/bin
DATA=$(mktemp -d /tmp/dagd-quickstart.XXXXXX)
PORT_FILE="$DATA/port"
"$BIN/dagd" --listen=127.0.0.1:0 --port_file="$PORT_FILE" \
  --data_dir="$DATA/db" --metrics_listen=127.0.0.1:0 --local_workers=2 \
  2>"$DATA/dagd.log" &
DAGD_PID=$!
cleanup() {
  kill -TERM "$DAGD_PID" 2>/dev/null || true
  wait "$DAGD_PID" 2>/dev/null || true
  rm -rf "$DATA"
}
trap cleanup EXIT
for _ in $(seq 1 200); do
  [ -s "$PORT_FILE" ] && break
  kill -0 "$DAGD_PID" 2>/dev/null || { cat "$DATA/dagd.log" >&2; exit 1; }
  sleep 0.05
done
export DAGD_SERVER="127.0.0.1:$(cat "$PORT_FILE")"
echo "dagd is serving on $DAGD_SERVER with 2 local workers" >&2
# submit prints the job id on its first line, then (with --wait) the end.
SUBMITTED=$("$BIN/dagctl" submit client/examples/tree-reduction.json --wait)
JOB=$(printf '%s\n' "$SUBMITTED" | head -n1)
printf '%s\n' "$SUBMITTED" | tail -n +2 >&2
echo "result of task 'root' of job $JOB:" >&2
"$BIN/dagctl" result "$JOB" root
echo
