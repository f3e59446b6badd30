#!/usr/bin/env bash
# compare.sh: dagd against Dask distributed on the same graph shapes, on this
# machine, on loopback only.
#
#   client/bench/compare.sh [--big] [--listing] [--data] [--tls] [--fleet]
#                           [--python] [--skip_main] [--repeat=N]
#
# Installs python3-distributed and python3-numpy if they are missing, builds
# dagd, dagd-worker and dagbench (deploy/build.sh into $BUILD_DIR, default
# build-bench), starts a dagd with 2 local workers of 64 slots on a free
# 127.0.0.1 port and a fresh data directory, runs dagbench and
# dask_bench.py (Dask: a LocalCluster of 2 processes with 64 threads each) N
# times per shape (default 3), and prints a
# table of the medians. --big also runs dagbench's 1,000,000-task shape, on a
# fresh dagd, with the coordinator's peak RSS: once waiting with Client::Wait
# and once polling GetJob. --listing also runs the sync shape on a fresh
# dagd idle and while another client lists a finished 300,000-task job in
# a loop (dagbench --background_list). --data also runs the data plane's
# shapes on a fresh dagd whose 2 workers are separate processes in pools a
# and b (start_dagd_pools), and the same graphs on Dask: bytes (one 1 GiB
# result made on one worker and checked on the other; dagd's GB/s of
# fetching) and shuffle (8 producers x 8 consumers exchanging 8 MiB pieces
# across the 2 workers); they need about 4 GiB of memory. --tls also runs
# the default shapes on a dagd whose 2 workers (64 slots each) are separate
# processes, once plain and once guarded (TLS on every connection, worker
# certificates, a bearer token on every call: certificates and token made
# by deploy/tls/), and prints what the guard costs per shape. --fleet also
# runs wide on 2 dagd-worker processes of 64 slots, then on simulated
# workers (dagd-fleet): 2 x 64 slots, then 1,000 x 16 (a connection each),
# then the same 1,000 streams on one connection, then 2 x 64 and 1,000 x
# 16 with dagd's --placement=pack, each on a fresh dagd,
# with dagd's memory per connected idle worker (its RSS with the 1,000
# registered, less its RSS before, over 1,000),
# dagd's CPU over 10 s with the 1,000 idle, how long after the 1,000
# are killed at once (SIGKILL of dagd-fleet) dagd lists none of them,
# and the herd: dagd killed with SIGKILL a quarter through a 40,000-task
# job on 1,000 simulated workers, restarted on the same port and data; how
# long until all are registered again and the job ends, and whether any
# task ran twice. With --tls, --fleet also gives dagd's memory per idle
# worker of the 1,000 over TLS (a server certificate; and each worker
# with its own), and runs the herd again over TLS with a certificate per
# worker (--worker_ca), as a guarded fleet comes back. --python also runs python_bench.py: Python and Dask
# workloads (a tree of 2,047 tiny Python tasks; Wukong's TR, GEMM, SVD and
# compressed SVD with dask.array, checked against numpy) on a dagd with 2
# dagd-worker --python processes and on a Dask LocalCluster of 2
# processes, both of 2 slots (threads) per worker, the two taking turns
# run by run.
# --skip_main runs only the extra parts asked for (not the default shapes
# on dagd and Dask). Every process
# this script starts is stopped when it exits.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD_DIR=${BUILD_DIR:-build-bench}
REPEAT=3
BIG=0
LISTING=0
DATA=0
TLS=0
FLEET=0
PYTHON=0
MAIN=1
for arg in "$@"; do
  case "$arg" in
    --big) BIG=1 ;;
    --data) DATA=1 ;;
    --listing) LISTING=1 ;;
    --tls) TLS=1 ;;
    --fleet) FLEET=1 ;;
    --python) PYTHON=1 ;;
    --skip_main) MAIN=0 ;;
    --repeat=*) REPEAT=${arg#--repeat=} ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare.sh: unknown argument '$arg'; see --help" >&2; exit 2 ;;
  esac
done

# (a) Dask and numpy, from Debian's archive.
if ! /usr/bin/python3 -c 'import distributed, numpy' 2>/dev/null; then
  echo "compare.sh: installing python3-distributed python3-numpy" >&2
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get install -y python3-distributed python3-numpy >&2 \
    || { $SUDO apt-get update >&2 \
         && $SUDO apt-get install -y python3-distributed python3-numpy >&2; }
fi

# (b) Build.
echo "compare.sh: building into $BUILD_DIR" >&2
BUILD_DIR=$BUILD_DIR TARGETS="dagd dagd-worker dagctl dagbench dagd-fleet dagd_python" deploy/build.sh >&2
BIN=$ROOT/$BUILD_DIR/bin

WORK=$(mktemp -d /tmp/dagd-compare.XXXXXX)
# shellcheck source=client/bench/dagd_lib.sh
. client/bench/dagd_lib.sh  # (c) start_dagd BIN_DIR, stop_dagd
cleanup() { stop_dagd; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# (e) The table.
field() {  # field FILE SYSTEM SHAPE KEY: KEY of the median line (or the only run)
  awk -v sys="$2" -v shape="$3" -v key="$4" '
    $1 == sys && $2 == shape {
      med = ($3 == "median")
      for (i = 3; i <= NF; i++) if (index($i, key "=") == 1) v = substr($i, length(key) + 2)
      if (med) { found = v; exit }
      last = v
    }
    END { print (found != "" ? found : (last != "" ? last : "-")) }' "$1"
}
# (d) Measure, and (e) the table: unless --skip_main.
if [ "$MAIN" = 1 ]; then
  start_dagd "$BIN"
  echo "compare.sh: dagd on $DAGD_ADDR (pid $DAGD_PID); running dagbench" >&2
  "$BIN/dagbench" --server="$DAGD_ADDR" --wait_workers=2 --repeat="$REPEAT" \
    --coordinator_pid="$DAGD_PID" | tee "$WORK/dagd.out"
  stop_dagd

  echo "compare.sh: running dask_bench.py" >&2
  /usr/bin/python3 client/bench/dask_bench.py --repeat="$REPEAT" 2>"$WORK/dask.err" \
    | tee "$WORK/dask.out" \
    || { echo "compare.sh: dask_bench.py failed:" >&2; tail -20 "$WORK/dask.err" >&2; exit 1; }

  model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
  mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
  echo
  echo "Machine: $(nproc) cores, ${model:-unknown CPU}, $mem; $(uname -sr)"
  echo "Load average at the end (other processes share these cores): $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "dagd: 2 local workers x 64 slots; Dask $(/usr/bin/python3 -c 'import distributed; print(distributed.__version__)'): LocalCluster 2 processes x 64 threads"
  echo "Median of $REPEAT runs; seconds from submission to result."
  echo
  printf '%-8s %7s %12s %12s %14s %14s %10s\n' shape tasks dagd_s dask_s dagd_tasks/s dask_tasks/s dask/dagd
  for shape in tree tree100 wide chain sync; do
    tasks=$(field "$WORK/dagd.out" dagd "$shape" tasks)
    d=$(field "$WORK/dagd.out" dagd "$shape" seconds)
    k=$(field "$WORK/dask.out" dask "$shape" seconds)
    dr=$(field "$WORK/dagd.out" dagd "$shape" tasks_per_s)
    kr=$(field "$WORK/dask.out" dask "$shape" tasks_per_s)
    ratio=$(awk -v d="$d" -v k="$k" 'BEGIN { if (d + 0 > 0 && k + 0 > 0) printf "%.2f", k / d; else print "-" }')
    printf '%-8s %7s %12s %12s %14s %14s %10s\n' "$shape" "$tasks" "$d" "$k" "$dr" "$kr" "$ratio"
  done
  echo
  echo "chain us/hop: dagd $(field "$WORK/dagd.out" dagd chain us_per_hop), dask $(field "$WORK/dask.out" dask chain us_per_hop)"
  echo "sync per job: dagd p50 $(field "$WORK/dagd.out" dagd sync p50_ms) ms p99 $(field "$WORK/dagd.out" dagd sync p99_ms) ms;" \
    "dask p50 $(field "$WORK/dask.out" dask sync p50_ms) ms p99 $(field "$WORK/dask.out" dask sync p99_ms) ms"

fi

if [ "$DATA" = 1 ]; then
  echo
  start_dagd_pools "$BIN"
  echo "compare.sh: bytes and shuffle on a fresh dagd with workers in pools a and b, pid $DAGD_PID" >&2
  "$BIN/dagbench" --server="$DAGD_ADDR" --wait_workers=2 --shape=bytes,shuffle \
    --repeat="$REPEAT" | tee "$WORK/data_dagd.out"
  stop_dagd
  echo "compare.sh: bytes and shuffle on Dask" >&2
  /usr/bin/python3 client/bench/dask_bench.py --shape=bytes,shuffle \
    --repeat="$REPEAT" 2>"$WORK/data_dask.err" | tee "$WORK/data_dask.out" \
    || { echo "compare.sh: dask_bench.py failed:" >&2; tail -20 "$WORK/data_dask.err" >&2; exit 1; }
  echo "# data plane: 2 workers, separate processes in pools a and b; Dask: the same 2 processes"
  printf '%-8s %7s %12s %12s %10s %16s\n' shape tasks dagd_s dask_s dask/dagd dagd_fetch_GB/s
  for shape in bytes shuffle; do
    tasks=$(field "$WORK/data_dagd.out" dagd "$shape" tasks)
    d=$(field "$WORK/data_dagd.out" dagd "$shape" seconds)
    k=$(field "$WORK/data_dask.out" dask "$shape" seconds)
    gbs=$(field "$WORK/data_dagd.out" dagd "$shape" gb_s)
    ratio=$(awk -v d="$d" -v k="$k" 'BEGIN { if (d + 0 > 0 && k + 0 > 0) printf "%.2f", k / d; else print "-" }')
    printf '%-8s %7s %12s %12s %10s %16s\n' "$shape" "$tasks" "$d" "$k" "$ratio" "$gbs"
  done
fi

if [ "$BIG" = 1 ]; then
  echo
  # Twice, each on a fresh dagd: waiting with Client::Wait (a WatchJob
  # stream of every task event), then polling GetJob, which shows what the
  # event stream costs at this size.
  for poll in 0 100ms; do
    start_dagd "$BIN"
    echo "compare.sh: big (1,000,000 tasks, --poll_interval=$poll) on a fresh dagd, pid $DAGD_PID" >&2
    echo "# big, waiting by $([ "$poll" = 0 ] && echo 'Client::Wait (WatchJob stream)' || echo "GetJob every $poll"):"
    "$BIN/dagbench" --server="$DAGD_ADDR" --wait_workers=2 --shape=big \
      --coordinator_pid="$DAGD_PID" --poll_interval="$poll"
    stop_dagd
  done
  echo "dask big: not run (see dask_bench.py)"
fi

if [ "$LISTING" = 1 ]; then
  echo
  start_dagd "$BIN"
  echo "compare.sh: sync while a 300,000-task job is listed, on a fresh dagd, pid $DAGD_PID" >&2
  echo "# sync idle, and while another client lists a finished 300,000-task job in a loop:"
  "$BIN/dagbench" --server="$DAGD_ADDR" --wait_workers=2 --shape=sync \
    --background_list=300000 --repeat="$REPEAT"
  stop_dagd
fi

if [ "$TLS" = 1 ]; then
  echo
  tls_dir="$WORK/tls"
  deploy/tls/make-certs.sh --worker bench-1 --worker bench-2 "$tls_dir" >/dev/null
  token=$(deploy/tls/make-token.sh "$tls_dir/tokens" bench admin bench)
  for mode in plain guarded; do
    guard=() dagd_tls=()
    if [ "$mode" = guarded ]; then
      guard=(--tls_ca="$tls_dir/ca.crt" --token="$token")
      dagd_tls=("$tls_dir")
    fi
    start_dagd_workers "$BIN" "${dagd_tls[@]}"
    echo "compare.sh: default shapes, $mode, on a fresh dagd with 2 worker processes, pid $DAGD_PID" >&2
    "$BIN/dagbench" --server="$DAGD_ADDR" --wait_workers=2 --repeat="$REPEAT" \
      "${guard[@]}" | tee "$WORK/$mode.out"
    stop_dagd
  done
  echo "# the guard's cost: 2 dagd-worker processes x 64 slots; plain, and with TLS,"
  echo "# worker certificates and a token (medians of $REPEAT; seconds)"
  printf '%-8s %7s %10s %10s %15s\n' shape tasks plain_s guarded_s guarded/plain
  for shape in tree tree100 wide chain sync; do
    tasks=$(field "$WORK/plain.out" dagd "$shape" tasks)
    p=$(field "$WORK/plain.out" dagd "$shape" seconds)
    g=$(field "$WORK/guarded.out" dagd "$shape" seconds)
    ratio=$(awk -v p="$p" -v g="$g" 'BEGIN { if (p + 0 > 0 && g + 0 > 0) printf "%.2f", g / p; else print "-" }')
    printf '%-8s %7s %10s %10s %15s\n' "$shape" "$tasks" "$p" "$g" "$ratio"
  done
  echo "sync per job p50: plain $(field "$WORK/plain.out" dagd sync p50_ms) ms, guarded $(field "$WORK/guarded.out" dagd sync p50_ms) ms"
fi

if [ "$FLEET" = 1 ]; then
  echo
  # 1000x16one: the same 1,000 workers' streams on one connection, which
  # tells what is per worker from what is per connection.
  # 2x64workers: the same 2 x 64 slots as dagd-worker processes (dagd's
  # --local_workers, as the default shapes run), the two workers every
  # other figure here is measured with.
  # 2x64pack, 1000x16pack: 2 x 64 and 1,000 x 16 again, dagd placing with
  # --placement=pack.
  for fleet in 2x64workers 2x64 1000x16 1000x16one 2x64pack 1000x16pack; do
    if [ "$fleet" = 2x64workers ]; then
      start_dagd "$BIN"
      echo "compare.sh: wide on 2 dagd-worker processes x 64 slots, dagd pid $DAGD_PID" >&2
      "$BIN/dagbench" --server="$DAGD_ADDR" --wait_workers=2 --shape=wide \
        --repeat="$REPEAT" | tee "$WORK/fleet_$fleet.out"
      stop_dagd
      continue
    fi
    n=${fleet%%x*} slots=${fleet#*x} slots=${slots%one} slots=${slots%pack} one=()
    [ "${fleet%one}" != "$fleet" ] && one=(--connection_per_worker=false)
    FLEET_DAGD_FLAGS=()
    [ "${fleet%pack}" != "$fleet" ] && FLEET_DAGD_FLAGS=(--placement=pack)
    start_fleet "$BIN" "$n" "$slots" "${one[@]}"
    for _ in $(seq 600); do
      grep -q "^dagd-fleet: $n of $n registered" "$DAGD_DIR/fleet.log" && break
      sleep 0.1
    done
    sleep 2  # a few heartbeats, as idle workers send them
    if [ "$fleet" = 1000x16 ]; then
      idle_kb=$(rss_kb "$DAGD_PID")
      echo "dagd RSS: $DAGD_IDLE_KB KiB alone, $idle_kb KiB with $n idle workers registered"
      awk -v a="$DAGD_IDLE_KB" -v b="$idle_kb" -v n="$n" \
        'BEGIN { printf "memory per connected idle worker: %.1f KiB\n", (b - a) / n }'
      # What the idle fleet costs dagd's CPU: heartbeats (each worker's
      # every 5 s) and their acknowledgements, over 10 s.
      # Each thread's time on a CPU in ns (schedstat), summed: finer than
      # /proc/PID/stat's clock ticks.
      cpu_ns() {  # a thread may end between the glob and its read
        { cat /proc/"$1"/task/*/schedstat 2>/dev/null || true; } | awk '{ t += $1 } END { print t }'
      }
      c0=$(cpu_ns "$DAGD_PID") w0=$(date +%s.%N)
      sleep 10
      c1=$(cpu_ns "$DAGD_PID") w1=$(date +%s.%N)
      awk -v c0="$c0" -v c1="$c1" -v w0="$w0" -v w1="$w1" -v n="$n" 'BEGIN {
        ms = (c1 - c0) / 1e6 / (w1 - w0)
        printf "dagd CPU with %d idle workers connected: %.2f ms a second (%.1f us per worker a second)\n", n, ms, ms * 1000 / n }'
    fi
    echo "compare.sh: wide on $n simulated workers x $slots slots${one:+ on one connection}${FLEET_DAGD_FLAGS:+, --placement=pack}, dagd pid $DAGD_PID" >&2
    "$BIN/dagbench" --server="$DAGD_ADDR" --wait_workers="$n" --shape=wide \
      --repeat="$REPEAT" | tee "$WORK/fleet_$fleet.out"
    if [ "$fleet" = 1000x16 ]; then
      # Lost workers: the fleet's process dies (SIGKILL), its 1,000
      # connections with it; how long until dagd lists none.
      kill -9 "$FLEET_PID"
      lost_start=$(date +%s.%N)
      left=$n
      for _ in $(seq 1000); do
        # A dagctl that fails (dagd busy) says nothing: ask again.
        listed=$(DAGD_SERVER=$DAGD_ADDR "$BIN/dagctl" workers) || { sleep 0.01; continue; }
        left=$(printf '%s\n' "$listed" | tail -n +2 | wc -l)
        [ "$left" -eq 0 ] && break
        sleep 0.01
      done
      lost_end=$(date +%s.%N)
      wait "$FLEET_PID" 2>/dev/null || true
      FLEET_PID=
      awk -v s="$lost_start" -v e="$lost_end" -v l="$left" -v n="$n" 'BEGIN {
        printf "%d workers killed at once (SIGKILL): dagd listed %d of them %.2f s later\n", n, l, e - s }'
    fi
    stop_dagd
  done
  FLEET_DAGD_FLAGS=()
  # The herd: a fleet loses its dagd to kill -9 a quarter of the way
  # through a job, and comes back to a dagd restarted on the same port and
  # data, with what it kept and what it was running. run_herd [TLS_DIR]:
  # with TLS_DIR (make-certs.sh's, a certificate per fleet worker), dagd
  # serves TLS and wants each worker's certificate (--worker_ca), as a
  # guarded fleet runs: every worker's handshake is part of its return.
  run_herd() {
    local tls=${1:-} herd tasks=40000 label=""
    local dagd_tls=() fleet_tls_flags=() ctl_tls=()
    if [ -n "$tls" ]; then
      dagd_tls=(--tls_cert="$tls/dagd.crt" --tls_key="$tls/dagd.key" --worker_ca="$tls/ca.crt")
      fleet_tls_flags=(--tls_ca="$tls/ca.crt" --tls_certs="$tls/workers")
      ctl_tls=(--tls_ca="$tls/ca.crt" --tls_cert="$tls/workers/fleet-0.crt"
               --tls_key="$tls/workers/fleet-0.key")
      label=" over TLS, each worker with a certificate of its own"
    fi
    herd=$(mktemp -d "$WORK/herd.XXXXXX")
    awk -v n="$tasks" 'BEGIN { printf "{\"tasks\": ["; for (i = 0; i < n; i++)
      printf "%s{\"id\": \"t%d\", \"fn\": \"const\", \"args\": {\"value\": %d}}",
        (i ? ", " : ""), i, i; print "]}" }' > "$herd/job.json"
    herd_dagd() {  # herd_dagd LISTEN LOG
      "$BIN/dagd" --listen="$1" --port_file="$herd/port" --data_dir="$herd/data" \
        --metrics_listen=127.0.0.1:0 --local_workers=0 "${dagd_tls[@]+"${dagd_tls[@]}"}" 2>"$herd/$2" &
      DAGD_PID=$!
      for _ in $(seq 600); do [ -s "$herd/port" ] && break; sleep 0.05; done
      DAGD_ADDR=127.0.0.1:$(cat "$herd/port")
    }
    fleet_line() { grep '^dagd-fleet: ' "$herd/fleet.log" | tail -1; }
    herd_dagd 127.0.0.1:0 dagd-1.log
    # Totals every 100 ms: the kill lands near a quarter (the job runs at
    # 10,000-20,000 tasks a second), and the lines time the return.
    "$BIN/dagd-fleet" --coordinator="$DAGD_ADDR" --workers=1000 --slots=16 \
      --task_duration=20ms --totals_interval=100ms \
      "${fleet_tls_flags[@]+"${fleet_tls_flags[@]}"}" 2>"$herd/fleet.log" &
    FLEET_PID=$!
    for _ in $(seq 900); do
      fleet_line | grep -q ': 1000 of 1000 registered' && break
      sleep 0.1
    done
    job=$(DAGD_SERVER=$DAGD_ADDR "$BIN/dagctl" "${ctl_tls[@]+"${ctl_tls[@]}"}" submit "$herd/job.json")
    for _ in $(seq 2400); do
      done_now=$(fleet_line | sed -n 's/.*results \([0-9]*\).*/\1/p')
      [ "${done_now:-0}" -ge $((tasks / 4)) ] && break
      kill -0 "$FLEET_PID" 2>/dev/null \
        || { echo "compare.sh: dagd-fleet exited; its log:" >&2; tail -20 "$herd/fleet.log" >&2; exit 1; }
      sleep 0.02
    done
    kill -9 "$DAGD_PID"; wait "$DAGD_PID" 2>/dev/null || true
    rm -f "$herd/port"
    start=$(date +%s.%N)
    herd_dagd "$DAGD_ADDR" dagd-2.log
    DAGD_SERVER=$DAGD_ADDR timeout 300 "$BIN/dagctl" "${ctl_tls[@]+"${ctl_tls[@]}"}" watch "$job" >/dev/null 2>&1 || true
    ended=$(date +%s.%N)
    sleep 1.1  # the fleet's next totals line
    attempts=$(fleet_line | sed -n 's/.*attempts \([0-9]*\).*/\1/p')
    # From dagd's log (UTC, ms): when it served, and the 1,000th worker.
    log_time() { date -u -d "$(sed -n "$1" "$herd/dagd-2.log" | cut -d' ' -f1)" +%s.%N; }
    serving=$(log_time '/dagd serving on port/{p;q}')
    back=$(log_time '/ joined/{x;s/^/x/;/^x\{1000\}$/{x;p;q};x}')
    # The fleet's totals lines ("N of 1000 registered; registrations N,
    # attempts N, results N, at UNIX_TIME"): when the restarted dagd first
    # gave it a new attempt, after the first worker registered again (before
    # that, workers still run what reached them before the kill).
    moving=$(awk -v s="$start" '/^dagd-fleet: / {
        t = $NF; r = $7; a = $9; sub(",", "", r); sub(",", "", a)
        if (t <= s || r + 0 <= 1000) next
        if (before == "") { before = a; next }
        if (a + 0 > before + 0) { print t; exit } }' "$herd/fleet.log")
    at_kill=$(awk -v s="$start" '/^dagd-fleet: / { if ($NF > s) exit; r = $11 }
        END { sub(",", "", r); print r }' "$herd/fleet.log")
    awk -v s="$start" -v v="$serving" -v b="$back" -v m="${moving:-0}" -v e="$ended" \
        -v a="$attempts" -v t="$tasks" -v k="${at_kill:-0}" -v l="$label" 'BEGIN {
      printf "herd%s: 1,000 workers x 16 slots, %d tasks of 20 ms, dagd killed with SIGKILL at a quarter (%d results by the restart); after the restart began:\n", l, t, k
      printf "  dagd serving %.2f s, all 1,000 registered %.2f s, the job moving again %s, the job ended %.2f s\n",
        v - s, b - s, (m > 0 ? sprintf("%.2f s", m - s) : "(never: it had ended)"), e - s
      printf "  attempts the fleet received: %d for %d tasks (%s)\n", a, t, (a == t ? "none ran twice" : "SOME RAN TWICE") }'
    stop_dagd
  }
  run_herd
  r2=$(field "$WORK/fleet_2x64.out" dagd wide tasks_per_s)
  r1000=$(field "$WORK/fleet_1000x16.out" dagd wide tasks_per_s)
  r1000one=$(field "$WORK/fleet_1000x16one.out" dagd wide tasks_per_s)
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b / a }'; }
  echo "wide (medians of $REPEAT): 2 x 64 slots $r2 tasks/s, 1,000 x 16 slots $r1000 tasks/s;" \
    "ratio $(ratio "$r2" "$r1000")"
  echo "  the 1,000 workers' streams on one connection: $r1000one tasks/s; ratio $(ratio "$r2" "$r1000one")"
  r2pack=$(field "$WORK/fleet_2x64pack.out" dagd wide tasks_per_s)
  r1000pack=$(field "$WORK/fleet_1000x16pack.out" dagd wide tasks_per_s)
  echo "  with --placement=pack: 2 x 64 slots $r2pack tasks/s, 1,000 x 16 slots $r1000pack tasks/s;" \
    "ratio $(ratio "$r2pack" "$r1000pack")"
  r2workers=$(field "$WORK/fleet_2x64workers.out" dagd wide tasks_per_s)
  echo "  2 x 64 slots as dagd-worker processes: $r2workers tasks/s; 1,000 x 16 against it" \
    "$(ratio "$r2workers" "$r1000"), on one connection $(ratio "$r2workers" "$r1000one")"
  if [ "$TLS" = 1 ]; then
    # The idle fleet's memory over TLS: dagd with a server certificate
    # alone, then also asking every worker for its own (--worker_ca; 1,000
    # certificates, made here, about 100 s).
    fleet_tls=$WORK/fleet_tls
    # shellcheck disable=SC2046
    deploy/tls/make-certs.sh $(for i in $(seq 0 999); do printf -- '--worker fleet-%d ' "$i"; done) \
      "$fleet_tls" >/dev/null
    for mode in tls worker_certificates; do
      FLEET_DAGD_FLAGS=(--tls_cert="$fleet_tls/dagd.crt" --tls_key="$fleet_tls/dagd.key")
      certs=()
      if [ "$mode" = worker_certificates ]; then
        FLEET_DAGD_FLAGS+=(--worker_ca="$fleet_tls/ca.crt")
        certs=(--tls_certs="$fleet_tls/workers")
      fi
      start_fleet "$BIN" 1000 16 --tls_ca="$fleet_tls/ca.crt" "${certs[@]}"
      for _ in $(seq 900); do
        grep -q "^dagd-fleet: 1000 of 1000 registered" "$DAGD_DIR/fleet.log" && break
        sleep 0.1
      done
      grep -q "^dagd-fleet: 1000 of 1000 registered" "$DAGD_DIR/fleet.log" || {
        echo "compare.sh: the fleet over TLS ($mode) did not all register; its log:" >&2
        tail -5 "$DAGD_DIR/fleet.log" >&2
        exit 1
      }
      sleep 2
      idle_kb=$(rss_kb "$DAGD_PID")
      awk -v a="$DAGD_IDLE_KB" -v b="$idle_kb" -v m="$mode" 'BEGIN {
        printf "memory per connected idle worker over TLS%s: %.1f KiB (dagd RSS %d KiB alone, %d KiB with 1,000)\n",
          (m == "tls" ? ", a server certificate alone" : ", each worker with a certificate of its own"),
          (b - a) / 1000, a, b }'
      stop_dagd
    done
    FLEET_DAGD_FLAGS=()
    run_herd "$fleet_tls"
  fi
fi

if [ "$PYTHON" = 1 ]; then
  echo
  echo "compare.sh: Python and Dask workloads (python_bench.py)" >&2
  /usr/bin/python3 client/bench/python_bench.py --bin_dir="$BIN" \
    --python_path="$ROOT/$BUILD_DIR/python" --repeat="$REPEAT"
fi
