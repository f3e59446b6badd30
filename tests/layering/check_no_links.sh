#!/usr/bin/env bash
# Usage: check_no_links.sh [--expect] BINARY NAME...
#
# Fails, naming what it found, when BINARY holds any of the NAMEs (e.g.
# rocksdb, grpc, curl): when `ldd` lists a shared library libNAME*.so, or
# when the binary defines or references a symbol NAME::... or NAME_...
# (Debian's RocksDB target is a static archive, so ldd alone cannot see it).
# This is how the build shows that a lower layer (the scheduler core) uses
# nothing of an upper one. With --expect it is the other way round: it fails
# unless every NAME is found (the check checked, on a binary that has them).
set -euo pipefail
expect=0
if [ "${1:-}" = "--expect" ]; then
  expect=1
  shift
fi
binary=$1
shift
if ! libs=$(ldd "$binary"); then
  echo "ldd $binary failed" >&2
  exit 2
fi
if ! symbols=$(nm -C "$binary"); then
  echo "nm $binary failed (is it stripped?)" >&2
  exit 2
fi
found=()
missing=()
for name in "$@"; do
  hits=$(
    printf '%s\n' "$libs" | grep -E "^[[:space:]]*lib${name}[^[:space:]]*\.so"
    printf '%s\n' "$symbols" | grep -E "^[0-9a-f ]+ [A-Za-z] ${name}(::|_)" |
      head -n 3
  ) || true
  if [ -n "$hits" ]; then
    found+=("$name")
    echo "$(basename "$binary") has $name:" >&2
    printf '%s\n' "$hits" >&2
  else
    missing+=("$name")
  fi
done
if [ "$expect" = 1 ]; then
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "expected $(basename "$binary") to have: ${missing[*]}" >&2
    exit 1
  fi
  exit 0
fi
if [ "${#found[@]}" -gt 0 ]; then
  echo "$(basename "$binary") may not use: ${found[*]}" >&2
  exit 1
fi
echo "$(basename "$binary") has none of: $*"
