#!/usr/bin/env bash
# Usage: check_includes.sh ROOT
#        check_includes.sh --self-test
#
# Fails, naming each offending line, when a file under ROOT includes a
# header of a layer its folder may not use:
#   server/        no worker/ or client/ (what both binaries share is in
#                  storage/base/)
#   worker/        no server/ or client/
#   client/        no server/, worker/ or storage/
#   storage/       no server/, worker/ or client/
#   storage/base/  nothing of dagd outside storage/base/ (the lowest layer)
# --self-test plants a server/ file including worker/ in a temporary tree
# and fails unless the check catches it.
set -euo pipefail

# Lines of `dir` (under $root) including a header that matches the ERE
# `forbidden`, minus those matching `allowed` (an ERE, may be empty).
violations() {
  local root=$1 dir=$2 forbidden=$3 allowed=${4:-}
  [ -d "$root/$dir" ] || return 0
  local hits
  hits=$(grep -rnE --include='*.h' --include='*.cc' \
    "^[[:space:]]*#[[:space:]]*include[[:space:]]*\"(${forbidden})" \
    "$root/$dir" || true)
  if [ -n "$allowed" ] && [ -n "$hits" ]; then
    hits=$(printf '%s\n' "$hits" | grep -vE "#[[:space:]]*include[[:space:]]*\"(${allowed})" || true)
  fi
  if [ -n "$hits" ]; then
    printf '%s\n' "$hits" | sed "s|^$root/||"
  fi
}

check() {
  local root=$1 out
  out=$(
    violations "$root" server 'worker/|client/'
    violations "$root" worker 'server/|client/'
    violations "$root" client 'server/|worker/|storage/'
    violations "$root" storage 'server/|worker/|client/'
    violations "$root" storage/base 'server/|worker/|client/|storage/|tests/' \
      'storage/base/'
  )
  if [ -n "$out" ]; then
    echo "includes across layers (see tests/layering/check_includes.sh):" >&2
    printf '%s\n' "$out" >&2
    return 1
  fi
  echo "no file includes a header of a layer it may not use"
}

if [ "${1:-}" = "--self-test" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp/server" "$tmp/storage/base"
  printf '#include "server/coordinator.h"\n#include "storage/base/clock.h"\n' \
    >"$tmp/server/fine.cc"
  printf '#include "storage/base/logging.h"\n' >"$tmp/storage/base/fine.h"
  if ! check "$tmp" >/dev/null 2>&1; then
    echo "self-test: allowed includes were refused" >&2
    exit 1
  fi
  printf '#include "worker/logging.h"\n' >"$tmp/server/bad.cc"
  printf '#include "storage/meta_store.h"\n' >"$tmp/storage/base/bad.h"
  if out=$(check "$tmp" 2>&1); then
    echo "self-test: a server/ file including worker/ was not caught" >&2
    exit 1
  fi
  for want in server/bad.cc storage/base/bad.h; do
    if ! grep -q "$want" <<<"$out"; then
      echo "self-test: $want was not named:" >&2
      printf '%s\n' "$out" >&2
      exit 1
    fi
  done
  echo "self-test: the check catches includes across layers"
  exit 0
fi
check "$1"
