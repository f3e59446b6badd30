#!/usr/bin/env bash
# A benchmark script of client/bench/ answers before it builds or starts
# anything: --help prints its usage (naming the script) and exits 0, an
# unknown argument exits 2.
#   bench_script_args_test.sh SCRIPT
set -u
script=$1
name=${script##*/}
fail() { echo "FAIL: $name: $1" >&2; exit 1; }

out=$("$script" --help) || fail "--help exited $?"
grep -q "^$name" <<<"$out" || fail "--help does not start with '$name': $out"
"$script" --no-such-argument >/dev/null 2>&1
rc=$?
[ "$rc" = 2 ] || fail "an unknown argument exited $rc, not 2"
echo "PASS: $name"
