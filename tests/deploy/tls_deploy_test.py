"""deploy.tls_<target>: one deployment of deploy/ (kubernetes, compose, ecs,
systemd, images) run for real, with its own arguments and secrets, on
127.0.0.1.

From the deployment's files (tests/deploy/deploy_targets.py reads them):
  1. the make-certs.sh and make-token.sh commands it documents are run
     into a temporary copy of the paths they name;
  2. dagd and each worker start with the deployment's arguments, only
     addresses rewritten (to 127.0.0.1 and free ports) and file paths (each
     container path to the file the deployment mounts or writes there:
     Kubernetes Secrets from kustomization.yaml's secretGenerator, compose
     secrets, the ECS script run as it is with its SSM parameters in its
     environment, systemd's /etc/dagd);
  3. every health check of the deployment passes as it is written (the
     kubelet's HTTP and gRPC probes, the curl commands of compose, ECS and
     the images), and Prometheus, configured as the deployment's
     prometheus*.yml says (https, its CA and server name), scrapes dagd;
  4. dagctl with the documented token and --tls_ca runs
     client/examples/tiny.json; every worker is connected under the name of
     its certificate; without a token dagctl gets exit 5;
  5. dagd's health checks still pass while 48 clients hold its HTTP port
     (9470's stand-in: each connects, completes TLS and sends part of a
     request line, or waits for a thread to do so): they go to dagd's
     --healthz_listen (200 "ok" there, plain http), while /healthz on the
     held port gets no answer, which shows the port is held; systemd, which
     has no check of its own, is asked on --healthz_listen directly;
  6. dagd with the deployment's arguments less --tls_cert, --tls_key,
     --worker_ca and --tokens_file (--listen and --metrics_listen keep
     their host) exits 2: the deployment needs those flags, and keeps them.

Usage: tls_deploy_test.py TARGET --dagd=BIN --worker=BIN --dagctl=BIN
           --examples=DIR [--prometheus=/usr/bin/prometheus]
"""

import argparse
import json
import os
import re
import select
import shlex
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request

import yaml

import deploy_targets
from deploy_lib import (LOOPBACK, REPO, Failure, Processes, deadline, free_port,
                        run_main, wait_for)

LISTEN_FLAGS = ("listen", "metrics_listen", "health_listen", "data_listen",
                "healthz_listen")
# The listen flags dagd refuses beyond loopback without TLS (check_guard
# keeps their hosts; the others stay on loopback).
EXPOSED_FLAGS = ("listen", "metrics_listen")
# Silent clients held on dagd's HTTP port: more than its threads
# (--dashboard_max_streams, 32 by default, + 4).
SILENT_CLIENTS = 48
# dagd's HTTP server ends an unfinished request after 10 s; a hold that
# ended later than this was cut by that, not by the checks.
HOLD_SECONDS = 9.0
HOLD_ATTEMPTS = 3
TLS_FLAGS = ("tls_cert", "tls_key", "worker_ca", "tokens_file")


def parse(argv):
    p = argparse.ArgumentParser()
    p.add_argument("target", choices=deploy_targets.TARGETS)
    for name in ("dagd", "worker", "dagctl", "examples"):
        p.add_argument("--" + name, required=True)
    p.add_argument("--prometheus", default="/usr/bin/prometheus")
    return p.parse_args(argv)


class Run:
    """One deployment's processes on loopback, in `procs`'s directory."""

    def __init__(self, procs, target, bins):
        self.procs = procs
        self.t = target
        self.bins = bins  # {"dagd": path, "dagd-worker": path}
        self.root = procs.path("tree")  # the repository paths of the secrets
        self.ports = {}   # (process name, flag) -> port

    def local(self, repo_path):
        return os.path.join(self.root, repo_path)

    def make_secrets(self):
        """Runs the documented commands into the temporary tree; returns the
        tokens they printed."""
        os.makedirs(self.root)
        tokens = []
        for argv in [self.t.make_certs] + self.t.make_tokens:
            script = os.path.join(REPO, argv[0])
            args = list(argv[1:])
            if "make-certs" in argv[0]:
                args[-1] = self.local(args[-1])
            else:
                args[0] = self.local(args[0])
            r = subprocess.run([script] + args, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=60)
            out = r.stdout.decode()
            if r.returncode != 0:
                raise Failure("%s exited %d:\n%s" % (" ".join(argv), r.returncode, out))
            if "make-token" in argv[0]:
                tokens.append((argv, out.strip()))
        if not tokens:
            raise Failure("%s documents no make-token.sh command" % self.t.name)
        return tokens

    def rewrite(self, p, keep_hosts=False, drop=()):
        """p.argv with addresses on 127.0.0.1 (or, with keep_hosts, their
        own host for EXPOSED_FLAGS) and free ports, and container paths
        made local."""
        out = [self.bins[os.path.basename(p.argv[0])]]
        for a in p.argv[1:]:
            m = re.match(r"--([A-Za-z0-9_]+)=(.*)$", a)
            if not m:
                out.append(self.path(p, a))
                continue
            flag, value = m.groups()
            if flag in drop:
                continue
            if flag in LISTEN_FLAGS:
                host = (value.rsplit(":", 1)[0] if keep_hosts and flag in EXPOSED_FLAGS
                        else LOOPBACK)
                port = free_port()
                self.ports[(p.name, flag)] = port
                value = "%s:%d" % (host, port)
            elif flag == "data_advertise":
                value = "%s:%d" % (LOOPBACK, self.ports[(p.name, "data_listen")])
            elif flag == "coordinator":
                value = "%s:%d" % (LOOPBACK, self.ports[("dagd", "listen")])
            elif flag == "data_dir":
                value = self.procs.path("%s-data%s" % (p.name, "-guard" if drop else ""))
            else:
                value = self.path(p, value)
            out.append("--%s=%s" % (flag, value))
        return out

    def path(self, p, value):
        if value in p.files and not p.prelude:
            return self.local(p.files[value])
        for d in p.prelude_dirs:
            if value.startswith(d + "/"):
                return self.prelude_dir(p, d) + value[len(d):]
        return value

    def prelude_dir(self, p, d):
        local = self.procs.path("%s%s" % (p.name, d.replace("/", "-")))
        os.makedirs(local, mode=0o700, exist_ok=True)
        return local

    def start(self, p):
        argv = self.rewrite(p)
        if not p.prelude:
            return self.procs.start(p.name, argv)
        # ECS: the container's own script writes the secrets, from the
        # environment ECS would give it, then execs the binary.
        prelude = p.prelude
        for d in p.prelude_dirs:
            prelude = prelude.replace(d + "/", self.prelude_dir(p, d) + "/")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        for var, source in p.env.items():
            with open(self.local(source)) as f:
                env[var] = f.read()
        script = "%s && exec %s" % (prelude, " ".join(shlex.quote(a) for a in argv))
        return self.procs.start(p.name, ["/bin/sh", "-c", script], env=env)

    def local_file(self, p, container_path):
        """Where a container path of p is in this run."""
        return self.path(p, container_path) if p.prelude else self.local(p.files[container_path])


def https_get(url, ca=None, timeout=3):
    """(status, body) of an https GET on loopback, checking the certificate
    against `ca` (no check without it, as the kubelet's probes)."""
    if not url.startswith("https://%s:" % LOOPBACK):
        raise Failure("refusing to contact a non-loopback URL: %s" % url)
    ctx = ssl.create_default_context(cafile=ca) if ca else ssl._create_unverified_context()
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=ctx) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def http_status(url, timeout=3):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status


def try_get(fn, *args, **kw):
    try:
        return fn(*args, **kw)
    except (OSError, urllib.error.URLError, ssl.SSLError):
        return None


def grpc_health(port):
    """grpc.health.v1 Check on 127.0.0.1:port (plain text, as the kubelet):
    True when SERVING."""
    import grpc  # Debian's python3-grpcio
    with grpc.insecure_channel("%s:%d" % (LOOPBACK, port)) as ch:
        check = ch.unary_unary("/grpc.health.v1.Health/Check",
                               request_serializer=lambda b: b,
                               response_deserializer=lambda b: b)
        try:
            # HealthCheckResponse{status: SERVING (1)} is field 1, varint 1.
            return check(b"", timeout=3) == b"\x08\x01"
        except grpc.RpcError:
            return False


def run_probe(run, p, probe):
    """Runs one health check of p as the deployment does; (ok, detail)."""
    if probe.kind == "http-get":
        port = run.ports[(p.name, port_flag(p, probe.port))]
        url = "%s://%s:%d%s" % (probe.scheme.lower(), LOOPBACK, port, probe.path)
        if probe.scheme.upper() == "HTTPS":
            status = (try_get(https_get, url) or (None,))[0]
        else:
            status = try_get(http_status, url)
        return status == 200, "GET %s: %s" % (url, status)
    if probe.kind == "grpc":
        port = run.ports[(p.name, port_flag(p, probe.port))]
        return grpc_health(port), "grpc.health.v1 on %d" % port
    argv = []
    for a in probe.argv:
        m = re.match(r"(https?)://127\.0\.0\.1:(\d+)(/.*)$", a)
        if m:
            a = "%s://%s:%d%s" % (m.group(1), LOOPBACK,
                                  run.ports[(p.name, port_flag(p, int(m.group(2))))], m.group(3))
        elif a.startswith("/") and not a.startswith("/usr/"):
            a = run.local_file(p, a)
        argv.append(a)
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
    return r.returncode == 0, "%s: exit %d %s" % (" ".join(argv), r.returncode,
                                                 r.stdout.decode()[:300])


def check_probe(procs, run, p, probe):
    last = [""]

    def passes():
        procs.check_all_alive()
        ok, last[0] = run_probe(run, p, probe)
        return ok

    try:
        wait_for(passes, 10, "%s: %s" % (p.where, probe.what))
    except Failure as e:
        raise Failure("%s; last try: %s" % (e, last[0]))
    print("probe ok: %s %s: %s" % (p.where, probe.what, last[0][:140]))


def port_flag(p, port):
    """The listen flag of p that the deployment gave `port`."""
    for flag in LISTEN_FLAGS:
        v = p.flags().get(flag)
        if v and v.rsplit(":", 1)[1] == str(port):
            return flag
    raise Failure("%s: a probe checks port %s, on which it listens nowhere" % (p.where, port))


class SilentClients:
    """Clients that connect to 127.0.0.1:port and never finish a request:
    each completes the TLS handshake (when `tls`) and sends part of a
    request line. Those the server has no thread for stay connected,
    waiting. Single-threaded (non-blocking sockets); close() ends them."""

    def __init__(self, port, tls, count):
        self.socks = []
        ctx = ssl._create_unverified_context() if tls else None
        for _ in range(count):
            s = socket.create_connection((LOOPBACK, port), timeout=3)
            s.setblocking(False)
            if ctx:
                s = ctx.wrap_socket(s, do_handshake_on_connect=False)
            self.socks.append(s)
        self.waiting = list(self.socks) if ctx else []
        if not ctx:
            for s in self.socks:
                s.send(b"GET /metr")
        self.settle()

    def settle(self, quiet=0.5, limit=5):
        """Advances the handshakes until none has progressed for `quiet`
        seconds: the rest wait for a server thread."""
        end = time.monotonic() + limit
        last = time.monotonic()
        while self.waiting and time.monotonic() < min(end, last + quiet):
            for s in list(self.waiting):
                try:
                    s.do_handshake()
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    continue
                except (OSError, ssl.SSLError):
                    pass  # the server closed it: no longer held
                else:
                    s.send(b"GET /metr")
                self.waiting.remove(s)
                last = time.monotonic()
            select.select(self.waiting, [], [], 0.05)

    @property
    def sent(self):
        return len(self.socks) - len(self.waiting)

    def close(self):
        for s in self.socks:
            s.close()


def dagd_health_checks(run):
    """dagd's health checks, each as (what, fn() -> (ok, detail)); a plain
    GET of --healthz_listen where the deployment has none (systemd: the
    operator's checker)."""
    d = run.t.dagd
    if ("dagd", "healthz_listen") not in run.ports:
        raise Failure("%s: dagd has no --healthz_listen" % d.where)
    url = "http://%s:%d/healthz" % (LOOPBACK, run.ports[("dagd", "healthz_listen")])
    checks = []
    for probe in d.probes:
        port = (probe.port if probe.kind != "command" else
                int(re.search(r"://127\.0\.0\.1:(\d+)/", " ".join(probe.argv)).group(1)))
        if port_flag(d, port) != "healthz_listen":
            raise Failure("%s: %s asks port %s, not --healthz_listen's"
                          % (d.where, probe.what, port))
        checks.append((probe.what, lambda probe=probe: run_probe(run, d, probe)))
    if not checks:
        def direct():
            got = try_get(http_get_text, url)
            return got == (200, "ok\n"), "GET %s: %s" % (url, got)
        checks.append(("GET /healthz on --healthz_listen", direct))
    return url, checks


def http_get_text(url):
    with urllib.request.urlopen(url, timeout=3) as r:
        return r.status, r.read().decode("utf-8", "replace")


def check_health_unheld(procs, run):
    """dagd's health checks answer while SILENT_CLIENTS hold its HTTP port,
    on which /healthz then gets no answer."""
    d = run.t.dagd
    url, checks = dagd_health_checks(run)
    got = try_get(http_get_text, url)
    if got != (200, "ok\n"):
        raise Failure("%s: --healthz_listen's %s answered %s, want 200 ok" % (d.where, url, got))
    tls = bool(d.flags().get("tls_cert"))
    port = run.ports[("dagd", "metrics_listen")]
    held = "%s://%s:%d/healthz" % ("https" if tls else "http", LOOPBACK, port)

    def answered():
        if tls:
            return try_get(https_get, held, timeout=1) is not None
        return try_get(http_status, held, timeout=1) is not None

    # dagd's HTTP server drops a connection whose request is not complete
    # in 10 s (request_timeout_ms), which ends the hold by itself: on a
    # loaded machine the handshakes and the checks can take that long, so
    # a hold that ended past HOLD_SECONDS is tried again, not failed.
    for attempt in range(1, HOLD_ATTEMPTS + 1):
        held_since = time.monotonic()
        clients = SilentClients(port, tls, SILENT_CLIENTS)
        try:
            wait_for(lambda: procs.check_all_alive() or not answered(), 10,
                     "%d silent clients to hold dagd's %s (it still answers /healthz: "
                     "hold more?)" % (SILENT_CLIENTS, held))
            for what, check in checks:
                started = time.monotonic()
                ok, detail = check()
                if not ok:
                    raise Failure("%s: %s failed while %d silent clients held %s (a "
                                  "restart of a healthy dagd): %s"
                                  % (d.where, what, SILENT_CLIENTS, held, detail))
                print("held %s: %s %s still answers in %.2f s: %s"
                      % (held, d.where, what, time.monotonic() - started, detail[:120]))
            if answered():
                took = time.monotonic() - held_since
                if took >= HOLD_SECONDS and attempt < HOLD_ATTEMPTS:
                    print("the hold of %s ended after %.1f s (dagd's request "
                          "timeout): again" % (held, took))
                    continue
                raise Failure("%s stopped being held while the checks ran (after "
                              "%.1f s): they showed nothing" % (held, took))
            print("%d silent clients (%d past TLS with part of a request line, the "
                  "rest waiting for a thread): /healthz on %s gets no answer"
                  % (SILENT_CLIENTS, clients.sent, held))
            return
        finally:
            clients.close()


def dagctl(a, run, ca, token, *args):
    argv = [a.dagctl, "--server=%s:%d" % (LOOPBACK, run.ports[("dagd", "listen")]),
            "--tls_ca=" + ca]
    if token:
        argv.append("--token=" + token)
    r = subprocess.run(argv + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def check_prometheus(a, procs, run, ca_local):
    """A real Prometheus scrapes dagd with the deployment's dagd job: its
    scheme and tls_config (ca_file made local, server_name as written)."""
    if not os.access(a.prometheus, os.X_OK):
        raise Failure("%s not found: install Debian's prometheus package "
                      "(deploy/install-deps.sh does)" % a.prometheus)
    config_path, mounts = run.t.prometheus
    with open(config_path) as f:
        config = yaml.safe_load(f)
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "dagd"]
    tls = dict(job.get("tls_config", {}))
    if tls.get("ca_file") not in mounts:
        raise Failure("%s: job dagd's ca_file %r is not where the deployment mounts the CA "
                      "(%s)" % (config_path, tls.get("ca_file"), sorted(mounts)))
    tls["ca_file"] = run.local(mounts[tls["ca_file"]])
    port = run.ports[("dagd", "metrics_listen")]
    scrape = {"job_name": "dagd", "scheme": job.get("scheme", "http"), "tls_config": tls,
              "static_configs": [{"targets": ["%s:%d" % (LOOPBACK, port)]}]}
    path = procs.path("prometheus.yml")
    with open(path, "w") as f:
        yaml.safe_dump({"global": {"scrape_interval": "1s"}, "scrape_configs": [scrape]}, f)
    web = free_port()
    p = procs.start("prometheus", [a.prometheus, "--config.file=" + path,
                                   "--storage.tsdb.path=" + procs.path("prometheus-data"),
                                   "--web.listen-address=%s:%d" % (LOOPBACK, web),
                                   "--log.level=warn"])
    base = "http://%s:%d" % (LOOPBACK, web)

    def scraped():
        procs.check_alive(p)
        try:
            with urllib.request.urlopen(base + "/api/v1/targets", timeout=2) as r:
                targets = json.loads(r.read())["data"]["activeTargets"]
        except (OSError, urllib.error.URLError, ValueError):
            return None
        return targets and targets[0]["health"] == "up" and targets[0]

    def why():
        try:
            with urllib.request.urlopen(base + "/api/v1/targets", timeout=2) as r:
                return r.read().decode()[:600]
        except (OSError, urllib.error.URLError) as e:
            return str(e)

    try:
        wait_for(scraped, 30, "Prometheus to scrape dagd as %s says" % config_path)
    except Failure as e:
        raise Failure("%s; Prometheus's targets: %s" % (e, why()))
    print("Prometheus scraped dagd with %s's job (scheme %s, server_name %s)"
          % (os.path.basename(config_path), scrape["scheme"], tls.get("server_name")))


def check_guard(a, procs, run):
    """dagd with the deployment's arguments less the four TLS flags exits 2."""
    p = run.t.dagd
    argv = run.rewrite(p, keep_hosts=True, drop=TLS_FLAGS)
    hosts = [v.rsplit(":", 1)[0] for k, v in p.flags().items() if k in ("listen", "metrics_listen")]
    if not any(h not in (LOOPBACK, "localhost") for h in hosts):
        raise Failure("%s: dagd listens on loopback only (%s); the deployment reaches no one"
                      % (p.where, hosts))
    try:
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=20, cwd=procs.tmp)
    except subprocess.TimeoutExpired as e:  # (run() killed it)
        raise Failure("%s without %s: dagd started and served for 20 s instead of "
                      "refusing (exit 2):\n%s" % (p.where, ", ".join("--" + f for f in TLS_FLAGS),
                                                  (e.output or b"").decode()[-1500:]))
    out = r.stdout.decode("utf-8", "replace")
    if r.returncode != 2 or "--insecure" not in out:
        raise Failure("%s without %s: dagd exited %d, not 2 with a message naming "
                      "--insecure:\n%s" % (p.where, ", ".join("--" + f for f in TLS_FLAGS),
                                           r.returncode, out[-1500:]))
    print("without the TLS flags, dagd refuses to start (exit 2): %s"
          % out.strip().splitlines()[-1][:160])


def main(argv):
    a = parse(argv)
    t = deploy_targets.load(a.target)
    if shutil.which("openssl") is None:
        raise Failure("openssl not found: deploy/install-deps.sh installs it")
    with deadline(100, "the test"), Processes() as procs:
        run = Run(procs, t, {"dagd": os.path.abspath(a.dagd),
                             "dagd-worker": os.path.abspath(a.worker)})
        tokens = run.make_secrets()
        (ca,) = {v for k, v in t.dagd.files.items() if k.endswith("ca.crt")}
        ca_local = run.local(ca)

        dagd = run.start(t.dagd)
        health = "https://%s:%d/healthz" % (LOOPBACK, run.ports[("dagd", "metrics_listen")])
        wait_for(lambda: procs.check_alive(dagd) or
                 (try_get(https_get, health, ca=ca_local) or (0,))[0] == 200,
                 30, "dagd's %s (checked with the CA)" % health)
        print("%s: dagd serves https, its certificate signed by the CA" % t.dagd.where)
        workers = []
        for w in t.workers:
            proc = run.start(w)
            workers.append(proc)
        for w, proc in zip(t.workers, workers):
            url = "http://%s:%d/healthz" % (LOOPBACK, run.ports[(w.name, "metrics_listen")])
            wait_for(lambda: procs.check_alive(proc) or try_get(http_status, url) == 200,
                     30, "worker %s to register (%s)" % (w.name, url))
        for p in [t.dagd] + t.workers:
            for probe in p.probes:
                check_probe(procs, run, p, probe)
        if t.prometheus:
            check_prometheus(a, procs, run, ca_local)

        (make_token, token) = tokens[0]
        code, out, err = dagctl(a, run, ca_local, token, "submit",
                                os.path.join(a.examples, "tiny.json"), "--wait")
        if code != 0:
            raise Failure("dagctl --tls_ca --token submit --wait exited %d: %s%s"
                          % (code, out, err))
        print("tiny.json with the token of `%s`: %s" % (" ".join(make_token[2:]),
                                                      out.strip().splitlines()[-1]))
        code, out, err = dagctl(a, run, ca_local, token, "-o", "json", "workers")
        names = sorted(w["name"] for w in json.loads(out)["workers"]) if code == 0 else out + err
        want = sorted(w.name for w in t.workers)
        if names != want:
            raise Failure("connected workers %s, want %s (their certificates' names)"
                          % (names, want))
        print("workers connected under their certificates' names: %s" % ", ".join(names))
        code, out, err = dagctl(a, run, ca_local, None, "jobs")
        if code != 5:
            raise Failure("dagctl jobs without a token exited %d, want 5: %s%s"
                          % (code, out, err))
        print("without a token: dagctl exits 5 (%s)" % err.strip()[:100])
        check_health_unheld(procs, run)
        check_guard(a, procs, run)


if __name__ == "__main__":
    run_main(main)
