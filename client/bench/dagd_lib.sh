# dagd_lib.sh: starting and stopping the dagd a benchmark script measures.
# Sourced by compare.sh and versus.sh, not run.
#
#   start_dagd BIN_DIR   starts BIN_DIR/dagd with 2 local workers of 64 slots
#                        (BIN_DIR/dagd-worker) on a free 127.0.0.1 port and a
#                        fresh data directory under $WORK; sets DAGD_PID and
#                        DAGD_ADDR. Exits the script when dagd does not come up.
#   start_dagd_pools BIN_DIR
#                        the same, but its 2 workers (64 slots each) are
#                        separate dagd-worker processes in pools `a` and `b`,
#                        each serving its results on a 127.0.0.1 data port:
#                        tasks with executor pool:a and pool:b run on
#                        different workers, so their results move between
#                        them. Workers report every second (heartbeats carry
#                        their transfer figures). Sets WORKER_PIDS too.
#   start_dagd_workers BIN_DIR [TLS_DIR]
#                        the same with 2 separate dagd-worker processes of 64
#                        slots (bench-1, bench-2) in no pool. With TLS_DIR
#                        (made by deploy/tls/make-certs.sh --worker bench-1
#                        --worker bench-2, and a tokens file `tokens` in it),
#                        dagd serves TLS with its certificate, checks the
#                        workers' against the CA and wants tokens, and the
#                        workers present theirs, as a guarded deployment
#                        does (README "Security").
#   start_fleet BIN_DIR N SLOTS [FLAG...]
#                        a fresh dagd with no workers of its own, and
#                        BIN_DIR/dagd-fleet with N simulated workers of SLOTS
#                        slots each (one connection each, unless a FLAG for
#                        dagd-fleet says otherwise); sets FLEET_PID and
#                        DAGD_IDLE_KB (dagd's RSS before any worker).
#   stop_dagd            stops that dagd and its workers, if running.
#
# The sourcing script sets WORK (a scratch directory it removes) and calls
# stop_dagd from its EXIT trap, so no dagd outlives it.

DAGD_PID=
DAGD_ADDR=
WORKER_PIDS=
FLEET_PID=

stop_dagd() {
  local pid
  for pid in $FLEET_PID $WORKER_PIDS $DAGD_PID; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  DAGD_PID=
  WORKER_PIDS=
  FLEET_PID=
}

# dagd's resident memory in KiB.
rss_kb() {
  awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# start_fleet BIN N SLOTS DAGD_FLEET_FLAGS...: dagd (with the flags in the
# array FLEET_DAGD_FLAGS, if set) and N simulated workers.
start_fleet() {
  local bin=$1 n=$2 slots=$3
  shift 3
  _start_dagd "$bin" --local_workers=0 "${FLEET_DAGD_FLAGS[@]+"${FLEET_DAGD_FLAGS[@]}"}"
  sleep 0.5
  DAGD_IDLE_KB=$(rss_kb "$DAGD_PID")
  "$bin/dagd-fleet" --coordinator="$DAGD_ADDR" --workers="$n" \
    --slots="$slots" "$@" 2>"$DAGD_DIR/fleet.log" &
  FLEET_PID=$!
}

start_dagd() {
  _start_dagd "$1" --local_workers=2 --local_worker_slots=64
}

start_dagd_pools() {
  local bin=$1 pool
  _start_dagd "$bin" --local_workers=0 --heartbeat_interval=1s
  for pool in a b; do
    "$bin/dagd-worker" --coordinator="$DAGD_ADDR" --pool="$pool" --slots=64 \
      --name="bench-$pool" --data_listen=127.0.0.1:0 --drain_timeout=0s \
      2>"$DAGD_DIR/worker-$pool.log" &
    WORKER_PIDS="$WORKER_PIDS $!"
  done
}

start_dagd_workers() {
  local bin=$1 tls=${2:-} n
  local dagd_tls=() worker_tls=()
  if [ -n "$tls" ]; then
    dagd_tls=(--tls_cert="$tls/dagd.crt" --tls_key="$tls/dagd.key"
              --worker_ca="$tls/ca.crt" --tokens_file="$tls/tokens")
  fi
  _start_dagd "$bin" --local_workers=0 "${dagd_tls[@]}"
  for n in 1 2; do
    [ -z "$tls" ] || worker_tls=(--tls_ca="$tls/ca.crt"
      --tls_cert="$tls/workers/bench-$n.crt" --tls_key="$tls/workers/bench-$n.key")
    "$bin/dagd-worker" --coordinator="$DAGD_ADDR" --slots=64 \
      --name="bench-$n" --drain_timeout=0s "${worker_tls[@]}" \
      2>"$DAGD_DIR/worker-$n.log" &
    WORKER_PIDS="$WORKER_PIDS $!"
  done
}

# _start_dagd BIN_DIR DAGD_FLAGS...: dagd on a free port; sets DAGD_DIR too.
_start_dagd() {
  local bin=$1 dir me=${0##*/}
  shift
  dir=$(mktemp -d "$WORK/dagd.XXXXXX")
  DAGD_DIR=$dir
  "$bin/dagd" --listen=127.0.0.1:0 --port_file="$dir/port" \
    --data_dir="$dir/data" --metrics_listen=127.0.0.1:0 "$@" \
    2>"$dir/dagd.log" &
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
