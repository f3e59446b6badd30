"""deploy.docker: the Dockerfiles, which cannot be built here (no Docker
engine), are checked by reading them:
  - two stages: FROM debian:bookworm AS build running deploy/install-deps.sh
    and deploy/build.sh; a Debian bookworm runtime stage that copies the
    binaries from the build stage;
  - the runtime stage installs the Debian package of every shared library
    the binaries it copies link (ldd on the local build, dpkg -S), so the
    image starts;
  - the ports it EXPOSEs, STOPSIGNAL SIGTERM, a HEALTHCHECK, a non-root USER;
  - each has a <name>.Dockerfile.dockerignore keeping build trees out.

Usage: docker_test.py --dagd=BIN --worker=BIN --dagctl=BIN
"""

import argparse
import os
import re
import subprocess

from deploy_lib import DEPLOY, Failure, run_main

IMAGES = {
    # Dockerfile: (binaries it ships, ports it exposes)
    "dagd.Dockerfile": (("dagd", "dagd-worker", "dagctl"), {"7700", "9470"}),
    "dagd-worker.Dockerfile": (("dagd-worker",), {"7701", "9471"}),
}


def parse(argv):
    p = argparse.ArgumentParser()
    for name in ("dagd", "worker", "dagctl"):
        p.add_argument("--" + name, required=True)
    return p.parse_args(argv)


def candidates(lib):
    """Paths under which dpkg may have recorded a library (usrmerge)."""
    out = [lib, os.path.realpath(lib)]
    for c in list(out):
        out.append(c[len("/usr"):] if c.startswith("/usr/") else "/usr" + c)
    return out


def owners(paths):
    """{path: Debian package} for those of `paths` dpkg knows (one dpkg -S)."""
    r = subprocess.run(["dpkg", "-S"] + sorted(set(paths)), stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, timeout=60)
    out = {}
    for line in r.stdout.decode().splitlines():
        pkgs, _, path = line.partition(": ")
        out[path.strip()] = pkgs.split(",")[0].split(":")[0].strip()
    return out


def linked_packages(binary):
    """{Debian package: a library of it} for every shared library `binary` links."""
    r = subprocess.run(["ldd", binary], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=30)
    if r.returncode != 0:
        raise Failure("ldd %s: %s" % (binary, r.stdout.decode()))
    libs = []
    for line in r.stdout.decode().splitlines():
        m = re.search(r"=>\s+(/\S+)", line)
        if m and not re.search(r"lib(a|ub|t)san", m.group(1)):
            libs.append(m.group(1))  # (a sanitizer runtime is not in a release image)
    owner = owners(p for lib in libs for p in candidates(lib))
    pkgs, unowned = {}, []
    for lib in libs:
        pkg = next((owner[c] for c in candidates(lib) if c in owner), None)
        if pkg:
            pkgs.setdefault(pkg, lib)
        else:
            unowned.append(lib)
    if unowned:
        raise Failure("%s links libraries no Debian package owns: %s" % (binary, unowned))
    return pkgs


def stages(text):
    """[(FROM line, body)] of a Dockerfile, continuation lines joined."""
    text = text.replace("\\\n", " ")
    parts = re.split(r"^(FROM\s.*)$", text, flags=re.M)
    return [(parts[i].strip(), parts[i + 1]) for i in range(1, len(parts), 2)]


def check(name, binaries, ports, bins):
    problems = []
    path = os.path.join(DEPLOY, "docker", name)
    with open(path) as f:
        st = stages(f.read())
    if len(st) < 2:
        return ["%s: not multi-stage" % name]
    (build_from, build), (run_from, runtime) = st[0], st[-1]
    if not re.match(r"FROM debian:bookworm AS build$", build_from):
        problems.append("%s: the first stage is %r, want FROM debian:bookworm AS build"
                        % (name, build_from))
    for script in ("deploy/install-deps.sh", "deploy/build.sh"):
        if not re.search(r"^RUN .*%s" % re.escape(script), build, re.M):
            problems.append("%s: the build stage does not run %s" % (name, script))
    if not re.match(r"FROM debian:bookworm(-slim)?(\s|$)", run_from):
        problems.append("%s: the runtime stage is %r, not Debian bookworm" % (name, run_from))
    copied = re.findall(r"^COPY --from=build (.*)$", runtime, re.M)
    for b in binaries:
        if not any("/" + b + " " in c + " " for c in copied):
            problems.append("%s: the runtime stage does not copy %s from the build stage"
                            % (name, b))
    m = re.search(r"apt-get install ([^&]*)", runtime)
    installed = set(m.group(1).split()) if m else set()
    for b in binaries:
        for pkg, lib in sorted(linked_packages(bins[b]).items()):
            if pkg not in installed:
                problems.append("%s: %s links %s (package %s), which the runtime stage "
                                "does not install" % (name, b, lib, pkg))
    exposed = set(" ".join(re.findall(r"^EXPOSE (.*)$", runtime, re.M)).split())
    if exposed != ports:
        problems.append("%s: EXPOSE %s, want %s" % (name, sorted(exposed), sorted(ports)))
    for directive in (r"STOPSIGNAL SIGTERM", r"HEALTHCHECK .*healthz", r"USER \S+",
                      r"ENTRYPOINT \[", r"CMD \["):
        if not re.search(r"^" + directive, runtime, re.M):
            problems.append("%s: the runtime stage has no %s" % (name, directive))
    ignore = path + ".dockerignore"
    if not os.path.exists(ignore):
        problems.append("%s: no %s" % (name, os.path.basename(ignore)))
    else:
        with open(ignore) as f:
            patterns = f.read().split()
        if "build" not in patterns or "build-*" not in patterns:
            problems.append("%s: the .dockerignore does not exclude build and build-*" % name)
    return problems


def main(argv):
    a = parse(argv)
    bins = {"dagd": a.dagd, "dagd-worker": a.worker, "dagctl": a.dagctl}
    problems = []
    for name, (binaries, ports) in IMAGES.items():
        problems += check(name, binaries, ports, bins)
    if problems:
        raise Failure("%d problem(s):\n  %s" % (len(problems), "\n  ".join(problems)))
    print("both Dockerfiles install every library their binaries link")


if __name__ == "__main__":
    run_main(main)
