#!/usr/bin/env bash
# Makes a bearer token for dagd's --tokens_file (README "Security"): prints
# the new token once on stdout, for its user (dagctl --token or
# $DAGD_TOKEN), and appends its line `SHA256-HEX TENANT ROLE NAME` to
# TOKENS_FILE, which is created 0600 when missing. dagd keeps only the
# hash, so a lost token cannot be recovered: make another and delete the
# old line. dagd rereads the file on SIGHUP (systemd: systemctl reload
# dagd; Kubernetes, Compose and ECS restart it with the new file).
#
# Usage: deploy/tls/make-token.sh TOKENS_FILE TENANT ROLE NAME
#   ROLE   read, submit or admin
#   NAME   names the token in dagd's audit log; unique in the file
# Example:
#   TOKEN=$(deploy/tls/make-token.sh secrets/tokens alpha submit ci)
#
# The same by hand:
#   TOKEN=$(openssl rand -hex 32)
#   echo "$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1) alpha submit ci" >> tokens
set -euo pipefail

die() {
  echo "make-token.sh: $*" >&2
  exit 2
}

[ $# -eq 4 ] || die "usage: make-token.sh TOKENS_FILE TENANT ROLE NAME"
file=$1 tenant=$2 role=$3 name=$4
case "$role" in read|submit|admin) ;; *) die "ROLE must be read, submit or admin, got '$role'" ;; esac
for v in "$tenant" "$name"; do
  [[ "$v" =~ ^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$ ]] ||
    die "'$v': a tenant or name is letters, digits, '.', '_', '@' and '-'"
done
command -v openssl >/dev/null || die "openssl is not installed"
if [ -e "$file" ] && awk -v n="$name" '$1 !~ /^#/ && $4 == n { found = 1 } END { exit !found }' "$file"; then
  die "$file has a token named '$name' already"
fi

token=$(openssl rand -hex 32)
hash=$(printf %s "$token" | openssl dgst -sha256 -r | cut -d' ' -f1)
(umask 077 && printf '%s %s %s %s\n' "$hash" "$tenant" "$role" "$name" >> "$file")
echo "$token"
