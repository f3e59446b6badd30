# dagd_lib.sh: starting and stopping the dagd a benchmark script measures.
# Sourced by compare.sh and versus.sh, not run.
#
#   start_dagd BIN_DIR   starts BIN_DIR/dagd with 2 local workers of 64 slots
#                        (BIN_DIR/dagd-worker) on a free 127.0.0.1 port and a
#                        fresh data directory under $WORK; sets DAGD_PID and
#                        DAGD_ADDR. Exits the script when dagd does not come up.
#   stop_dagd            stops that dagd (and so its workers), if running.
#
# The sourcing script sets WORK (a scratch directory it removes) and calls
# stop_dagd from its EXIT trap, so no dagd outlives it.

DAGD_PID=
DAGD_ADDR=

stop_dagd() {
  if [ -n "$DAGD_PID" ] && kill -0 "$DAGD_PID" 2>/dev/null; then
    kill -TERM "$DAGD_PID" 2>/dev/null || true
    wait "$DAGD_PID" 2>/dev/null || true
  fi
  DAGD_PID=
}

start_dagd() {
  local bin=$1 dir me=${0##*/}
  dir=$(mktemp -d "$WORK/dagd.XXXXXX")
  "$bin/dagd" --listen=127.0.0.1:0 --port_file="$dir/port" \
    --data_dir="$dir/data" --metrics_listen=127.0.0.1:0 \
    --local_workers=2 --local_worker_slots=64 2>"$dir/dagd.log" &
  DAGD_PID=$!
  for _ in $(seq 200); do
    [ -s "$dir/port" ] && break
    kill -0 "$DAGD_PID" 2>/dev/null \
      || { echo "$me: dagd exited; its log:" >&2; cat "$dir/dagd.log" >&2; exit 1; }
    sleep 0.05
  done
  [ -s "$dir/port" ] || { echo "$me: dagd wrote no port file" >&2; exit 1; }
  DAGD_ADDR=127.0.0.1:$(cat "$dir/port")
}
