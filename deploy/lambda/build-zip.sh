#!/bin/sh
# Builds the AWS Lambda deployment package of dagd-worker: a zip holding
#   bootstrap            the custom runtime's entry point (a shell script)
#   bin/dagd-worker      the worker, which runs as a Lambda custom runtime
#                        when AWS_LAMBDA_RUNTIME_API is set
#   lib/                 every shared library it needs, found with ldd,
#                        including the dynamic loader and the C library
#   plugins/             the --plugin libraries, loaded at every start
#   certs/               this machine's CA certificates, for HTTPS to S3
#                        (the bundled OpenSSL and libcurl look for them at
#                        Debian's paths, which Amazon Linux lacks)
#
# Why the C library travels too: a build on Debian bookworm needs glibc
# 2.36 (libstdc++ alone asks for GLIBC_2.36), and Lambda's provided.al2023
# runtime has glibc 2.34. `bootstrap` therefore runs dagd-worker through
# the bundled loader (lib/ld-linux-x86-64.so.2 --library-path lib), so not
# one library comes from the runtime image. The loader's options, not
# LD_LIBRARY_PATH, carry the path: programs that `exec` tasks start keep
# running on the image's own libraries. See deploy/lambda/README.md.
#
# usage: deploy/lambda/build-zip.sh [--worker=PATH] [--plugin=LIB.so ...]
#                                   [--output=FILE.zip]
#   --worker  the dagd-worker binary (default: build/bin/dagd-worker)
#   --plugin  a function plugin to bundle; repeat for more
#   --output  the zip to write (default: build/dagd-worker-lambda.zip)
set -eu

repo=$(cd "$(dirname "$0")/../.." && pwd)
worker=$repo/build/bin/dagd-worker
output=$repo/build/dagd-worker-lambda.zip
plugins=""

die() {
  echo "build-zip.sh: $*" >&2
  exit 1
}

while [ $# -gt 0 ]; do
  case $1 in
    --worker=*) worker=${1#*=} ;;
    --plugin=*) plugins="$plugins ${1#*=}" ;;
    --output=*) output=${1#*=} ;;
    --worker | --plugin | --output)
      [ $# -ge 2 ] || die "$1 needs a value"
      case $1 in
        --worker) worker=$2 ;;
        --plugin) plugins="$plugins $2" ;;
        --output) output=$2 ;;
      esac
      shift
      ;;
    -h | --help)
      sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done

[ "$(uname -m)" = x86_64 ] ||
  die "this builds an x86_64 package; on $(uname -m), adapt the loader name"
[ -x "$worker" ] ||
  die "no dagd-worker binary at $worker (build it first, or pass --worker=PATH)"
for tool in ldd zip; do
  command -v $tool >/dev/null || die "$tool is not installed (apt-get install $tool)"
done
case $output in
  /*) ;;
  *) output=$(pwd)/$output ;;
esac

stage=$(mktemp -d "${TMPDIR:-/tmp}/dagd-lambda-zip.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib" "$stage/plugins" "$stage/certs"
cp "$worker" "$stage/bin/dagd-worker"
for plugin in $plugins; do
  [ -f "$plugin" ] || die "no plugin at $plugin"
  cp "$plugin" "$stage/plugins/"
done

# Copies every library `ldd FILE` lists into lib/, under the name the
# binary asks for (the symlink's name), with the symlink resolved.
bundle_libraries() {
  ldd "$1" >"$stage/ldd.out" 2>&1 || die "ldd $1 failed: $(cat "$stage/ldd.out")"
  if grep -q "not found" "$stage/ldd.out"; then
    die "$1 needs libraries that are not installed: $(grep 'not found' "$stage/ldd.out")"
  fi
  # "libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x...)" and the loader,
  # "/lib64/ld-linux-x86-64.so.2 (0x...)"; the vdso has no file.
  while read -r name arrow path _; do
    case $name in linux-vdso.so.*) continue ;; esac
    if [ "$arrow" != "=>" ]; then
      path=$name
      name=$(basename "$name")
    fi
    [ -e "$stage/lib/$name" ] || cp -L "$path" "$stage/lib/$name"
  done <"$stage/ldd.out"
  rm -f "$stage/ldd.out"
}

bundle_libraries "$stage/bin/dagd-worker"
for plugin in "$stage"/plugins/*; do
  [ -e "$plugin" ] && bundle_libraries "$plugin"
done
loader=ld-linux-x86-64.so.2
[ -f "$stage/lib/$loader" ] || die "ldd named no $loader for $worker"
ca_bundle=/etc/ssl/certs/ca-certificates.crt
[ -f "$ca_bundle" ] ||
  die "no CA certificates at $ca_bundle (apt-get install ca-certificates)"
cp -L "$ca_bundle" "$stage/certs/ca-certificates.crt"

cat >"$stage/bootstrap" <<'EOF'
#!/bin/sh
# dagd-worker as an AWS Lambda custom runtime (made by
# deploy/lambda/build-zip.sh). Runs the bundled dagd-worker on the bundled
# loader and libraries, whatever the runtime image's glibc. Extra flags for
# dagd-worker: DAGD_WORKER_ARGS (split on spaces), e.g. --log_format=json.
case $0 in
  */*) here=${0%/*} ;;
  *) here=. ;;
esac
for plugin in "$here"/plugins/*; do
  [ -e "$plugin" ] && set -- "$@" "--plugin=$plugin"
done
# The bundled OpenSSL's default CA file is Debian's path; point it (and
# libcurl, where the caller honours CURL_CA_BUNDLE) at the bundled copy.
export SSL_CERT_FILE="${SSL_CERT_FILE:-$here/certs/ca-certificates.crt}"
export CURL_CA_BUNDLE="${CURL_CA_BUNDLE:-$SSL_CERT_FILE}"
set -f # DAGD_WORKER_ARGS is split on spaces, never globbed
exec "$here/lib/ld-linux-x86-64.so.2" --inhibit-cache \
  --library-path "$here/lib" --argv0 "$here/bin/dagd-worker" \
  "$here/bin/dagd-worker" --lambda "$@" ${DAGD_WORKER_ARGS:-}
EOF
chmod 755 "$stage/bootstrap" "$stage/bin/dagd-worker" "$stage/lib/$loader"
chmod 644 "$stage"/lib/*.so* "$stage"/plugins/* 2>/dev/null || true
chmod 755 "$stage/lib/$loader"

mkdir -p "$(dirname "$output")"
rm -f "$output"
(cd "$stage" && zip -q -X -r "$output" bootstrap bin lib plugins certs)
size=$(wc -c <"$output")
echo "wrote $output ($((size / 1024 / 1024)) MiB, $(ls "$stage/lib" | wc -l) libraries)"
if [ "$size" -gt 52428800 ]; then
  echo "note: over 50 MB: upload it to S3 and deploy with --s3-bucket/--s3-key" >&2
fi
