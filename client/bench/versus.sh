#!/usr/bin/env bash
# versus.sh: dagd at an earlier revision against the current tree, side by
# side in one run, on this machine, on loopback only.
#
#   client/bench/versus.sh BASE_REV [--after=REV] [--repeat=N]
#                          [--shape=LIST] [--filter=REGEX] [--ccache]
#
# Builds dagd, dagd-worker, dagbench and scheduler_bench twice (only what
# the runs below need): BASE_REV ("before"), exported with git archive into
# build-versus/SHA/ and built in build-versus/SHA/build-bench (both kept, so
# a second run only measures; rm -rf build-versus drops them), and the
# current working tree ("after") into $BUILD_DIR (default build-bench), or
# with --after=REV that revision, exported and built as BASE_REV is (to
# find which commit made a difference). Then N times (default 3), before
# then after each time, so that load drifting during the run hits both:
#   - each build's scheduler_bench, once, on the benchmarks both builds have
#     (those matching --filter=REGEX among them; --filter=none skips it);
#   - each build's dagbench on its shapes (--shape=LIST, default
#     tree,tree100,wide,chain,sync; --shape=none skips it), against a fresh
#     dagd of the same build with 2 local workers x 64 slots on a free
#     127.0.0.1 port (started as compare.sh starts it).
# Prints one table: per benchmark and shape the median before and after,
# the spread of each side ((max - min) / median) and after/before as a
# speed, before's time over after's (above 1 is faster), marked LOW under
# 0.95. scheduler_bench rows are CPU milliseconds of its thread per job;
# dagbench rows are wall seconds from submission to result, and the sync
# shape's p50 milliseconds per one-task job. Load averages at the start and
# the end are printed too: other processes share these cores.
# --ccache builds with CMAKE_CXX_COMPILER_LAUNCHER=ccache; a
# CMAKE_CXX_COMPILER_LAUNCHER in the environment is passed on the same way.
# Every process this script starts is stopped when it exits. Exit code 2 on
# bad arguments, 1 when a build or a run fails.
set -euo pipefail
ME=versus.sh
usage_error() { echo "$ME: $1; see --help" >&2; exit 2; }

BASE=
AFTER=
REPEAT=3
SHAPES=tree,tree100,wide,chain,sync
FILTER=
LAUNCHER=${CMAKE_CXX_COMPILER_LAUNCHER:-}
for arg in "$@"; do
  case "$arg" in
    --after=?*) AFTER=${arg#--after=} ;;
    --repeat=*) REPEAT=${arg#--repeat=} ;;
    --shape=?*) SHAPES=${arg#--shape=} ;;
    --filter=?*) FILTER=${arg#--filter=} ;;
    --ccache) LAUNCHER=ccache ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) usage_error "unknown argument '$arg'" ;;
    *) [ -z "$BASE" ] || usage_error "one BASE_REV only, got '$BASE' and '$arg'"
       BASE=$arg ;;
  esac
done
[ -n "$BASE" ] || usage_error "BASE_REV is missing"
[[ "$REPEAT" =~ ^[1-9][0-9]*$ ]] || usage_error "--repeat wants a positive number"

cd "$(dirname "$0")/../.."
ROOT=$PWD
commit_of() {  # commit_of REV: its full hash, or a usage error
  git rev-parse --verify --quiet "$1^{commit}" \
    || usage_error "'$1' is not a revision of this repository"
}
SHA=$(commit_of "$BASE")
[ -z "$AFTER" ] || AFTER_SHA=$(commit_of "$AFTER")
BUILD_DIR=${BUILD_DIR:-build-bench}
TARGETS=
[ "$SHAPES" = none ] || TARGETS="dagd dagd-worker dagbench"
[ "$FILTER" = none ] || TARGETS="$TARGETS scheduler_bench"
[ -n "$TARGETS" ] || usage_error "--shape=none and --filter=none leave nothing to run"

# (a) Build: a revision exported once into build-versus/SHA, then both trees.
export_rev() {  # export_rev SHA: build-versus/SHA holds its files
  local dir=$ROOT/build-versus/$1
  if [ ! -e "$dir/.versus-export-done" ]; then
    echo "$ME: exporting $1 into $dir" >&2
    rm -rf "$dir"
    mkdir -p "$dir"
    git archive "$1" | tar -x -C "$dir"
    touch "$dir/.versus-export-done"
  fi
}
build() {  # build SOURCE_DIR BUILD_DIR (relative to SOURCE_DIR)
  echo "$ME: building $1/$2" >&2
  (cd "$1" && BUILD_DIR=$2 TARGETS=$TARGETS deploy/build.sh \
     ${LAUNCHER:+-DCMAKE_CXX_COMPILER_LAUNCHER=$LAUNCHER} >&2) \
    || { echo "$ME: building $1 failed" >&2; exit 1; }
}
export_rev "$SHA"
build "$ROOT/build-versus/$SHA" build-bench
declare -A BIN=([before]=$ROOT/build-versus/$SHA/build-bench/bin)
if [ -n "$AFTER" ]; then
  export_rev "$AFTER_SHA"
  build "$ROOT/build-versus/$AFTER_SHA" build-bench
  BIN[after]=$ROOT/build-versus/$AFTER_SHA/build-bench/bin
else
  build "$ROOT" "$BUILD_DIR"
  BIN[after]=$ROOT/$BUILD_DIR/bin
fi

WORK=$(mktemp -d /tmp/dagd-versus.XXXXXX)
# shellcheck source=client/bench/dagd_lib.sh
. client/bench/dagd_lib.sh  # start_dagd BIN_DIR, stop_dagd
CHILD=
cleanup() {
  if [ -n "$CHILD" ]; then kill -TERM "$CHILD" 2>/dev/null || true; wait "$CHILD" 2>/dev/null || true; fi
  stop_dagd
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# run LOG COMMAND...: COMMAND in the background, so that cleanup can stop
# it, its stderr appended to LOG; fails the script with LOG when it fails.
run() {
  local log=$1 rc=0
  shift
  "$@" 2>>"$log" &
  CHILD=$!
  wait "$CHILD" || rc=$?
  CHILD=
  [ "$rc" = 0 ] || { echo "$ME: $1 failed ($rc):" >&2; tail -20 "$log" >&2; exit 1; }
}

# (b) The scheduler_bench benchmarks both builds have, as one exact filter.
BENCH_FILTER=
if [ "$FILTER" != none ]; then
  names=$(comm -12 \
    <("${BIN[before]}/scheduler_bench" --benchmark_list_tests | sort) \
    <("${BIN[after]}/scheduler_bench" --benchmark_list_tests | sort) \
    | { if [ -n "$FILTER" ]; then grep -E -- "$FILTER" || true; else cat; fi; })
  [ -n "$names" ] || { echo "$ME: no scheduler_bench benchmark in both builds matches '$FILTER'" >&2; exit 1; }
  BENCH_FILTER="^($(printf '%s\n' "$names" | sed 's/[][\.*^$+?(){}|]/\\&/g' | paste -sd'|'))\$"
fi

# (c) Measure, before then after in each round.
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq "$REPEAT"); do
  for side in before after; do
    bin=${BIN[$side]}
    if [ -n "$BENCH_FILTER" ]; then
      echo "$ME: round $r of $REPEAT: scheduler_bench $side" >&2
      run "$WORK/log" "$bin/scheduler_bench" --benchmark_filter="$BENCH_FILTER" \
        --benchmark_out="$WORK/$side.$r.json" --benchmark_out_format=json >/dev/null
    fi
    if [ "$SHAPES" != none ]; then
      start_dagd "$bin"
      echo "$ME: round $r of $REPEAT: dagbench $side on $DAGD_ADDR (pid $DAGD_PID)" >&2
      run "$WORK/log" "$bin/dagbench" --server="$DAGD_ADDR" --wait_workers=2 \
        --shape="$SHAPES" --coordinator_pid="$DAGD_PID" >"$WORK/$side.$r.dagbench"
      stop_dagd
    fi
  done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# (d) The table.
model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
echo
echo "Machine: $(nproc) cores, ${model:-unknown CPU}, $mem; $(uname -sr)"
echo "Load average at the start: $LOAD_START; at the end: $LOAD_END (other processes share these cores)"
if [ -n "$AFTER" ]; then
  after="$AFTER ($(git log -1 --format='%h %cs' "$AFTER_SHA"))"
else
  after="the working tree at $(git log -1 --format='%h' HEAD)$(git diff --quiet HEAD || echo ' with uncommitted changes')"
fi
echo "before: $BASE ($(git log -1 --format='%h %cs' "$SHA")); after: $after"
echo "Median of $REPEAT rounds, each side once per round, before then after."
echo
/usr/bin/python3 - "$WORK" "$REPEAT" "$SHAPES" <<'EOF'
import json, statistics, sys

work, repeat, shapes = sys.argv[1], int(sys.argv[2]), sys.argv[3]
TO_MS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}
rows = {}  # (name, unit) -> {side: [values]}, in the order first seen

def add(name, unit, side, value):
    rows.setdefault((name, unit), {"before": [], "after": []})[side].append(value)

for r in range(1, repeat + 1):
    for side in ("before", "after"):
        try:
            with open(f"{work}/{side}.{r}.json") as f:
                for b in json.load(f)["benchmarks"]:
                    if b.get("run_type", "iteration") != "iteration" or b.get("error_occurred"):
                        continue
                    add(b["name"], "ms cpu", side, b["cpu_time"] * TO_MS[b["time_unit"]])
        except FileNotFoundError:
            pass
        try:
            with open(f"{work}/{side}.{r}.dagbench") as f:
                for line in f:
                    words = line.split()
                    if len(words) < 3 or words[0] != "dagd":
                        continue
                    fields = dict(w.split("=", 1) for w in words[2:] if "=" in w)
                    add(words[1], "s", side, float(fields["seconds"]))
                    if "p50_ms" in fields:
                        add(words[1] + " p50", "ms", side, float(fields["p50_ms"]))
        except FileNotFoundError:
            pass

def spread(values):
    m = statistics.median(values)
    return f"{100 * (max(values) - min(values)) / m:.0f}%" if m > 0 else "-"

print(f"{'benchmark or shape':<34} {'unit':>6} {'before':>10} {'after':>10} "
      f"{'spread_b':>8} {'spread_a':>8} {'after/before':>12}")
low = 0
for (name, unit), sides in rows.items():
    b, a = sides["before"], sides["after"]
    if not b or not a:
        print(f"{name:<34} {unit:>6} only {'before' if b else 'after'} has it")
        continue
    mb, ma = statistics.median(b), statistics.median(a)
    ratio = mb / ma if ma > 0 else float("inf")
    flag = "  LOW" if ratio < 0.95 else ""
    low += ratio < 0.95
    print(f"{name:<34} {unit:>6} {mb:>10.4g} {ma:>10.4g} {spread(b):>8} "
          f"{spread(a):>8} {ratio:>12.2f}{flag}")
print()
print("after/before: before's median time over after's; above 1 is faster."
      f" {low} row(s) under 0.95." if low else
      "after/before: before's median time over after's; above 1 is faster."
      " None under 0.95.")
EOF
