"""Shared helpers of the tests in tests/deploy/.

They start the real dagd, dagd-worker and Prometheus on 127.0.0.1 only, each
in its own temporary directory, and stop every process they started (by its
pid) when the test ends, whatever the outcome. Waiting is always on a
condition with a deadline, never a fixed sleep.
"""

import contextlib
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEPLOY = os.path.join(REPO, "deploy")
LOOPBACK = "127.0.0.1"


class Failure(Exception):
    """A test failure with a message meant for the person reading ctest's log."""


def run_main(main):
    """Runs main(argv) and turns Failure into exit code 1 with its message."""
    try:
        main(sys.argv[1:])
    except Failure as e:
        print("FAIL: %s" % e, file=sys.stderr)
        sys.exit(1)
    print("PASS")


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago.

    Chosen at random below the kernel's ephemeral range, then bound to
    check: a port from that range (bind 0) can be given to another test's
    outgoing connection before the process told to listen on it binds it.
    """
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 0
    for _ in range(100 if low > 10000 else 0):
        port = random.randrange(10000, low)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((LOOPBACK, port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def wait_for(condition, timeout, what):
    """Polls condition() until it returns a true value, which it returns.

    Raises Failure naming `what` when `timeout` seconds pass first.
    """
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Failure("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(delay)
        delay = min(delay * 2, 0.25)


def http_get(url, timeout=5):
    """(status, body text) of a GET; only loopback URLs are allowed."""
    if not url.startswith("http://%s:" % LOOPBACK):
        raise Failure("refusing to contact a non-loopback URL: %s" % url)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def try_http_get(url):
    try:
        return http_get(url, timeout=2)
    except (OSError, urllib.error.URLError):
        return None


class Processes:
    """Starts processes and stops them all, by pid, on exit from `with`."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="dagd-deploy-test.")
        self._procs = []  # (name, Popen, log path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for name, p, _ in reversed(self._procs):
            self._stop(p)
        if exc[0] is not None:
            self.dump_logs()
        shutil.rmtree(self.tmp, ignore_errors=True)
        return False

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def start(self, name, argv, env=None):
        """Starts argv in the temporary directory, its output logged; `env`
        replaces the environment when given."""
        log = self.path(name + ".log")
        out = open(log, "wb")
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, cwd=self.tmp, env=env)
        out.close()
        self._procs.append((name, p, log))
        return p

    def check_all_alive(self):
        """Raises Failure, with its log, if any started process has exited."""
        for _, p, _ in self._procs:
            self.check_alive(p)

    def check_alive(self, p):
        if p.poll() is not None:
            name = next(n for n, q, _ in self._procs if q is p)
            raise Failure("%s exited early with code %s; its log:\n%s"
                          % (name, p.returncode, self.log_of(p)))

    def log_of(self, p):
        for _, q, log in self._procs:
            if q is p:
                with open(log, "rb") as f:
                    return f.read().decode("utf-8", "replace")[-4000:]
        return ""

    def dump_logs(self):
        for name, p, _ in self._procs:
            print("---- log of %s (pid %d) ----\n%s" % (
                name, p.pid, self.log_of(p).rstrip() or "(empty)"), file=sys.stderr)

    @staticmethod
    def _stop(p):
        if p.poll() is not None:
            return
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def start_dagd(procs, dagd_bin, local_workers=0, name="dagd"):
    """Starts dagd on loopback ports; returns (Popen, grpc address, metrics URL)."""
    metrics_port = free_port()
    port_file = procs.path(name + ".port")
    argv = [dagd_bin, "--listen=%s:0" % LOOPBACK, "--port_file=" + port_file,
            "--data_dir=" + procs.path(name + "-data"),
            "--metrics_listen=%s:%d" % (LOOPBACK, metrics_port),
            "--local_workers=%d" % local_workers]
    if local_workers:
        argv.append("--local_worker_slots=1")
    p = procs.start(name, argv)

    def port():
        procs.check_alive(p)
        try:
            with open(port_file) as f:
                return int(f.read().strip() or 0)
        except (OSError, ValueError):
            return 0

    grpc_port = wait_for(port, 20, "dagd's --port_file")
    metrics_url = "http://%s:%d/metrics" % (LOOPBACK, metrics_port)
    wait_for(lambda: procs.check_alive(p) or try_http_get(metrics_url), 20,
             "dagd's /metrics on %s" % metrics_url)
    return p, "%s:%d" % (LOOPBACK, grpc_port), metrics_url


def helpfull(binary):
    """The text of `binary --helpfull` (absl prints it and exits non-zero)."""
    r = subprocess.run([binary, "--helpfull"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=20)
    return r.stdout.decode("utf-8", "replace")


def flags_of(binary):
    """Names of the flags `binary` accepts, from --helpfull."""
    return set(re.findall(r"^\s+--([A-Za-z0-9_]+) \(", helpfull(binary), re.M))


def start_worker(procs, worker_bin, coordinator, name="worker"):
    """Starts a dagd-worker with --metrics_listen; returns (Popen, metrics URL)."""
    metrics_port = free_port()
    argv = [worker_bin, "--coordinator=" + coordinator, "--slots=1",
            "--name=" + name,
            "--metrics_listen=%s:%d" % (LOOPBACK, metrics_port)]
    p = procs.start(name, argv)
    url = "http://%s:%d/metrics" % (LOOPBACK, metrics_port)
    wait_for(lambda: procs.check_alive(p) or try_http_get(url), 20,
             "the worker's /metrics on %s" % url)
    return p, url


def live_dagd_and_worker(procs, a):
    """Starts dagd and one worker with metrics, runs client/examples/tiny.json
    on them, and returns (dagd metrics URL, worker metrics URL)."""
    _, server, dagd_url = start_dagd(procs, a.dagd)
    _, worker_url = start_worker(procs, a.worker, server)
    run_job(a.dagctl, server, os.path.join(a.examples, "tiny.json"))
    return dagd_url, worker_url


def run_job(dagctl_bin, server, job_file, timeout=30):
    """Submits job_file with `dagctl submit --wait`; returns the job id."""
    r = subprocess.run([dagctl_bin, "--server=" + server, "submit", job_file, "--wait"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    if r.returncode != 0:
        raise Failure("dagctl submit --wait %s exited %d: %s%s" % (
            job_file, r.returncode, r.stdout.decode(), r.stderr.decode()))
    return r.stdout.decode().splitlines()[0].strip()


def promtool_check_metrics(text, what):
    r = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    if r.returncode != 0:
        raise Failure("promtool check metrics found problems in %s:\n%s"
                      % (what, r.stdout.decode()))


# ---- the Prometheus text format ----

def exported_series_names(text):
    """Every series name a scrape of `text` yields.

    Sample lines give names as stored (histograms as _bucket, _sum, _count);
    families declared by # TYPE without samples yet (a labelled family no
    child of which exists) count too, expanded the same way.
    """
    names = set()
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            m = re.match(r"#\s*TYPE\s+(\S+)\s+(\S+)", line)
            if m:
                name, kind = m.groups()
                if kind == "histogram":
                    names.update(name + s for s in ("_bucket", "_sum", "_count"))
                elif kind == "summary":
                    names.update((name, name + "_sum", name + "_count"))
                else:
                    names.add(name)
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)", line)
        if m:
            names.add(m.group(1))
    return names


# ---- PromQL ----

PROMQL_KEYWORDS = {
    # aggregation operators and their modifiers
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count",
    "count_values", "bottomk", "topk", "quantile", "by", "without",
    # binary operators and vector matching
    "and", "or", "unless", "on", "ignoring", "group_left", "group_right",
    "bool", "atan2",
    # modifiers
    "offset", "start", "end",
    # literals
    "inf", "nan",
}


def promql_metric_names(expr):
    """Metric names referenced by a PromQL expression.

    A tokenizer, not a parser: it drops strings, template variables
    ($__rate_interval, ${var}), label matchers ({...}), range and subquery
    selectors ([...]) and the label lists of by/without/on/ignoring/
    group_left/group_right; what remains that looks like an identifier, is
    not followed by '(' (a function call) and is not a keyword is a metric
    name.
    """
    s = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    s = re.sub(r"\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*", " 1 ", s)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)",
               " ", s)
    names = set()
    for m in re.finditer(r"[0-9][0-9a-zA-Z_.]*|[a-zA-Z_:][a-zA-Z0-9_:]*", s):
        tok = m.group(0)
        if tok[0].isdigit() or tok.lower() in PROMQL_KEYWORDS:
            continue
        if re.match(r"\s*\(", s[m.end():]):
            continue  # a function
        names.add(tok)
    return names


def dashboard_exprs(dashboard):
    """(panel title, expr) of every target of a Grafana dashboard, rows included."""
    out = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                if t.get("expr"):
                    out.append((p.get("title", "?"), t["expr"]))
            walk(p.get("panels", []))

    walk(dashboard.get("panels", []))
    return out


def rule_exprs(rules_doc):
    """(alert or record name, expr) of every rule in a Prometheus rules file."""
    out = []
    for g in rules_doc.get("groups", []):
        for r in g.get("rules", []):
            out.append((r.get("alert") or r.get("record"), r["expr"]))
    return out


@contextlib.contextmanager
def deadline(seconds, what):
    """Fails (SIGALRM) when the body runs longer than `seconds`."""
    def on_alarm(signum, frame):
        raise Failure("%s took longer than %d s" % (what, seconds))
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
