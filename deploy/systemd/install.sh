#!/usr/bin/env bash
# Installs dagd on this host for systemd: the binaries from a build (default
# build/bin, see deploy/build.sh) into /usr/local/bin, a "dagd" system user,
# the units into /etc/systemd/system, /etc/dagd (root:dagd 0750) for the
# credentials, and reloads systemd. It enables nothing: afterwards put the
# certificates and tokens in /etc/dagd (README "Deploying"; the units'
# comments list the files and their modes), then run
#   systemctl enable --now dagd                 # the coordinator
#   echo DAGD_COORDINATOR=HOST:7700 > /etc/default/dagd-worker
#   systemctl enable --now dagd-worker          # a worker
# Usage: deploy/systemd/install.sh [BIN_DIR]   (as root)
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN_DIR=${1:-build/bin}
PREFIX=${PREFIX:-/usr/local}

for b in dagd dagd-worker dagctl; do
  if [ ! -x "$BIN_DIR/$b" ]; then
    echo "install.sh: $BIN_DIR/$b not found; build first (deploy/build.sh)" >&2
    exit 2
  fi
done
if [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run as root" >&2
  exit 2
fi

install -d "$PREFIX/bin" "$PREFIX/share/doc/dagd"
install -m 0755 "$BIN_DIR/dagd" "$BIN_DIR/dagd-worker" "$BIN_DIR/dagctl" "$PREFIX/bin/"
install -m 0644 README.md "$PREFIX/share/doc/dagd/README.md"
if ! getent passwd dagd >/dev/null; then
  useradd --system --user-group --home-dir /var/lib/dagd --no-create-home \
    --shell /usr/sbin/nologin dagd
fi
# The credentials' directory: dagd's and the workers' keys and the tokens
# in it are root:dagd 0640, so only root and the services read them.
install -d -m 0750 -o root -g dagd /etc/dagd
install -m 0644 deploy/systemd/dagd.service deploy/systemd/dagd-worker.service \
  /etc/systemd/system/
systemctl daemon-reload
echo "installed; now: the credentials in /etc/dagd (README \"Deploying\"), then"
echo "systemctl enable --now dagd (and/or dagd-worker)"
