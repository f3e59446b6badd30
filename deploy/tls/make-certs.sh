#!/usr/bin/env bash
# Makes the certificates a guarded dagd needs (README "Security"), with
# openssl only, into DIR:
#   ca.crt, ca.key        a CA of this deployment's own. dagd trusts it for
#                         workers (--worker_ca); workers, dagctl and
#                         Prometheus trust it for dagd (--tls_ca, ca_file).
#                         ca.key signs everything below: keep it off the
#                         servers (it is never mounted by deploy/).
#   dagd.crt, dagd.key    dagd's certificate (--tls_cert, --tls_key),
#                         valid for each --san given, and for localhost and
#                         127.0.0.1 (health checks inside the container and
#                         dagctl through a port published on loopback dial
#                         those); dagd also presents it to read the results
#                         workers hold.
#   workers/NAME.crt, workers/NAME.key
#                         one certificate per --worker NAME, common name and
#                         DNS name NAME: that is the worker's name in dagd
#                         (dagd lets one worker per name connect at a time);
#                         the worker presents it to dagd, to the workers
#                         whose results it reads, and on its own data port,
#                         whose readers check that it names the holder.
#
# Usage: deploy/tls/make-certs.sh [--san NAME]... [--worker NAME]...
#                                 [--days N] DIR
#   --san      a DNS name or an IP address clients and workers dial dagd by
#              (repeat; e.g. --san dagd --san dagd.dagd.svc --san 10.0.0.5)
#   --worker   a worker's name (repeat)
#   --days     validity of the certificates it makes (default 825)
#
# Run it again to add workers or names: it keeps what DIR holds (the CA, and
# each certificate that is already there), makes only what is missing, and
# makes dagd's certificate again only when the --san list changed (the old
# one is moved to dagd.crt.old and dagd.key.old), and a worker's again when
# it was made by an older make-certs.sh without a server's key usage (moved
# to NAME.crt.old and NAME.key.old). To renew a certificate,
# delete it and its key and run it again. Keys are written 0600 under umask
# 077; certificates 0644. Nothing in DIR is ever printed.
set -euo pipefail

usage() {
  sed -n '/^# Usage:/,/^# Run it again/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

die() {
  echo "make-certs.sh: $*" >&2
  exit 2
}

sans=()
workers=()
days=825
dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --san) [ $# -ge 2 ] || usage; sans+=("$2"); shift 2 ;;
    --san=*) sans+=("${1#--san=}"); shift ;;
    --worker) [ $# -ge 2 ] || usage; workers+=("$2"); shift 2 ;;
    --worker=*) workers+=("${1#--worker=}"); shift ;;
    --days) [ $# -ge 2 ] || usage; days="$2"; shift 2 ;;
    --days=*) days="${1#--days=}"; shift ;;
    -h|--help) usage ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [ -z "$dir" ] || die "one DIR only, got '$dir' and '$1'"; dir="$1"; shift ;;
  esac
done
[ -n "$dir" ] || usage
command -v openssl >/dev/null || die "openssl is not installed"
[[ "$days" =~ ^[1-9][0-9]*$ ]] || die "--days must be a positive number, got '$days'"

# A worker's name becomes a file name and a certificate's common name.
for w in "${workers[@]+"${workers[@]}"}"; do
  [[ "$w" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$ ]] ||
    die "worker name '$w': use letters, digits, '.', '_' and '-' (at most 63)"
done

# subjectAltName: IPv4 and IPv6 addresses as IP:, anything else as DNS:.
san_entry() {
  if [[ "$1" =~ ^[0-9]+(\.[0-9]+){3}$ || "$1" == *:* ]]; then
    echo "IP:$1"
  elif [[ "$1" =~ ^[A-Za-z0-9*]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]]; then
    echo "DNS:$1"
  else
    die "--san '$1' is neither a DNS name nor an IP address"
  fi
}
san_list="DNS:localhost,IP:127.0.0.1"
for s in "${sans[@]+"${sans[@]}"}"; do
  entry=$(san_entry "$s")
  case ",$san_list," in *",$entry,"*) ;; *) san_list="$san_list,$entry" ;; esac
done

umask 077
mkdir -p "$dir/workers"
cd "$dir"

# A fresh P-256 key and a certificate request for common name $2.
new_key_and_csr() {  # KEY CN CSR
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/CN=$2" -keyout "$1" -out "$3" 2>/dev/null
  chmod 0600 "$1"
}

# Signs CSR $1 with the CA into certificate $3, with the extensions in $2.
sign() {  # CSR EXTFILE CERT
  openssl x509 -req -in "$1" -CA ca.crt -CAkey ca.key \
    -set_serial "0x$(openssl rand -hex 16)" -days "$days" -sha256 \
    -extfile "$2" -out "$3" 2>/dev/null
  chmod 0644 "$3"
  rm -f "$1"
}

if [ ! -e ca.key ]; then
  [ ! -e ca.crt ] || die "$dir/ca.crt exists without ca.key: move it away first"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/CN=dagd CA" -days "$days" -sha256 \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout ca.key -out ca.crt 2>/dev/null
  chmod 0600 ca.key
  chmod 0644 ca.crt
  echo "made $dir/ca.crt (and ca.key: keep it off the servers)"
fi

# dagd's extensions, kept beside its certificate so a rerun can tell
# whether the names changed.
server_ext="basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$san_list"
if [ -e dagd.crt ] && [ -e dagd.ext ] && [ "$(cat dagd.ext)" != "$server_ext" ]; then
  mv dagd.crt dagd.crt.old
  mv dagd.key dagd.key.old
  echo "the names changed: moved the old dagd.crt to dagd.crt.old"
fi
if [ ! -e dagd.crt ]; then
  printf '%s\n' "$server_ext" > dagd.ext
  chmod 0644 dagd.ext
  new_key_and_csr dagd.key dagd dagd.csr
  sign dagd.csr dagd.ext dagd.crt
  echo "made $dir/dagd.crt for $san_list"
fi

worker_ext="$(mktemp)"
trap 'rm -f "$worker_ext"' EXIT
for w in "${workers[@]+"${workers[@]}"}"; do
  crt="workers/$w.crt"
  if [ -e "$crt" ] &&
     ! openssl x509 -in "$crt" -noout -ext extendedKeyUsage 2>/dev/null |
       grep -q "Server Authentication"; then
    mv "$crt" "$crt.old"
    mv "workers/$w.key" "workers/$w.key.old"
    echo "$crt was a client certificate only: moved it to $crt.old"
  fi
  if [ ! -e "$crt" ]; then
    printf '%s\n' "basicConstraints=critical,CA:FALSE" \
      "keyUsage=critical,digitalSignature" \
      "extendedKeyUsage=serverAuth,clientAuth" \
      "subjectAltName=DNS:$w" > "$worker_ext"
    new_key_and_csr "workers/$w.key" "$w" "workers/$w.csr"
    sign "workers/$w.csr" "$worker_ext" "$crt"
    echo "made $dir/$crt"
  fi
done
