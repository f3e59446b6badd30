"""deploy.files: every YAML and JSON file under deploy/ parses, and the compose
file, Kubernetes manifests, ECS task definitions, systemd units and Grafana
dashboard have the fields a deployment relies on (a structural check, not a
schema validation: nothing here talks to Docker, a cluster or AWS), and
quickstart.sh builds the binaries it runs and nothing else (not the tests).

TLS and tokens (README "Security"), for every deployment of
deploy_targets.py (Kubernetes, compose, ECS, systemd, the images' CMD):
  - dagd gets --tls_cert, --tls_key, --worker_ca and --tokens_file, each a
    path where the deployment mounts (or writes) the right file of those
    its documented make-certs.sh and make-token.sh commands make; no
    deployment passes --insecure;
  - each worker gets --tls_ca, --tls_cert and --tls_key, its certificate
    and key those of its own name (distinct names, all made by the
    documented command), and dials dagd by a name of dagd's certificate;
  - dagd listens for its health checks on --healthz_listen, port 9472
    (plain HTTP; a thread slow clients cannot hold, README "Metrics"), and
    every health check of dagd (the kubelet's startup, readiness and
    liveness probes, Docker's, compose's and ECS's healthcheck) is a plain
    http GET /healthz of that port, never of 9470, whose threads clients
    that never finish a request can all hold; Kubernetes has a liveness
    probe there and binds it beyond loopback (the kubelet dials the pod
    IP), checks run inside the container may bind loopback only;
  - Prometheus's scrape of dagd's /metrics uses https with the CA;
  - Kubernetes: every mounted Secret is made by kustomization.yaml's
    secretGenerator from those files and mounted read-only, ca.key is in
    none; NetworkPolicies let only the namespace's pods (and Prometheus)
    reach dagd and the workers, and no pod reach dagd's 9472 (the kubelet
    probes from the node, which NetworkPolicy always lets through), which
    no Service publishes;
  - no private key is committed under deploy/, and .gitignore keeps the
    documented secrets directories out of git.

Usage: files_test.py
"""

import configparser
import glob
import json
import os
import re

import yaml

import deploy_targets
from deploy_lib import DEPLOY, REPO, Failure, run_main

# What every deployment agrees on.
DAGD_GRPC, DAGD_METRICS, DAGD_HEALTHZ = 7700, 9470, 9472
WORKER_HEALTH, WORKER_METRICS = 7701, 9471
STOP_TIMEOUT_S = 60


class Checker:
    def __init__(self):
        self.problems = []

    def expect(self, cond, where, what):
        if not cond:
            self.problems.append("%s: %s" % (where, what))
        return cond


def duration_s(text):
    m = re.fullmatch(r"(\d+)(s|m)?", str(text).strip())
    if not m:
        raise Failure("cannot read duration %r" % text)
    return int(m.group(1)) * (60 if m.group(2) == "m" else 1)


def flag(args, name):
    """Value of --name=VALUE in a list of arguments (or a shell string), or None."""
    text = " ".join(args) if isinstance(args, list) else args
    m = re.search(r"--%s=\"?([^\s\"]+)" % name, text)
    return m.group(1) if m else None


def parse_all():
    docs = {}
    files = sorted(glob.glob(os.path.join(DEPLOY, "**", "*"), recursive=True))
    for path in files:
        rel = os.path.relpath(path, DEPLOY)
        try:
            if path.endswith((".yaml", ".yml")):
                with open(path) as f:
                    docs[rel] = [d for d in yaml.safe_load_all(f) if d is not None]
            elif path.endswith(".json"):
                with open(path) as f:
                    docs[rel] = json.load(f)
        except (yaml.YAMLError, json.JSONDecodeError) as e:
            raise Failure("%s does not parse: %s" % (rel, e))
    return docs


def check_worker_args(c, where, args, stop_timeout_s):
    drain = flag(args, "drain_timeout")
    if c.expect(drain is not None, where, "no --drain_timeout"):
        c.expect(duration_s(drain) < stop_timeout_s, where,
                 "--drain_timeout=%s leaves no time before the stop timeout (%d s)"
                 % (drain, stop_timeout_s))
    c.expect(flag(args, "coordinator"), where, "no --coordinator")
    c.expect(flag(args, "metrics_listen") == "0.0.0.0:%d" % WORKER_METRICS, where,
             "--metrics_listen is not 0.0.0.0:%d" % WORKER_METRICS)
    c.expect(flag(args, "health_listen") == "0.0.0.0:%d" % WORKER_HEALTH, where,
             "--health_listen is not 0.0.0.0:%d" % WORKER_HEALTH)


def check_dagd_args(c, where, args):
    c.expect(flag(args, "listen") == "0.0.0.0:%d" % DAGD_GRPC, where,
             "--listen is not 0.0.0.0:%d" % DAGD_GRPC)
    c.expect(flag(args, "metrics_listen") == "0.0.0.0:%d" % DAGD_METRICS, where,
             "--metrics_listen is not 0.0.0.0:%d" % DAGD_METRICS)
    c.expect(flag(args, "data_dir") == "/var/lib/dagd", where,
             "--data_dir is not /var/lib/dagd")


def check_compose(c, docs):
    where = "docker/compose.yaml"
    (compose,) = docs[where]
    services = compose.get("services", {})
    for name in ("dagd", "prometheus"):
        c.expect(name in services, where, "no service %r" % name)
    dagd = services.get("dagd", {})
    workers = {n: s for n, s in services.items() if n.startswith("dagd-worker")}
    check_dagd_args(c, where + " dagd", dagd.get("command", []))
    c.expect(any(v.endswith(":/var/lib/dagd") for v in dagd.get("volumes", [])),
             where, "dagd has no volume on /var/lib/dagd")
    c.expect("healthcheck" in dagd and "healthz" in str(dagd["healthcheck"]),
             where, "dagd has no /healthz healthcheck")
    # One service per worker: each has a certificate of its own.
    c.expect(len(workers) >= 2, where, "fewer than two workers")
    for name, worker in sorted(workers.items()):
        stop = duration_s(worker.get("stop_grace_period", "10s"))
        c.expect(stop == STOP_TIMEOUT_S, where, "%s stop_grace_period is not 60s" % name)
        check_worker_args(c, where + " " + name, worker.get("command", []), stop)
        c.expect(worker.get("depends_on", {}).get("dagd", {}).get("condition") ==
                 "service_healthy", where, "%s does not wait for a healthy dagd" % name)
    for name, s in services.items():
        for port in s.get("ports", []):
            c.expect(str(port).startswith("127.0.0.1:"), where,
                     "service %s publishes %s beyond the host's loopback" % (name, port))
        if "build" in s:
            df = os.path.join(DEPLOY, "docker", s["build"]["context"],
                              s["build"]["dockerfile"])
            c.expect(os.path.exists(df), where, "service %s: no %s" % (name, df))
    prom = services.get("prometheus", {})
    c.expect(any("../prometheus:/etc/prometheus" in v for v in prom.get("volumes", [])),
             where, "prometheus does not mount deploy/prometheus")


def kinds(docs, rel):
    return {(d["kind"], d["metadata"]["name"]): d for d in docs[rel]}


def container(pod_spec, name):
    return next((k for k in pod_spec["containers"] if k["name"] == name), None)


def check_kubernetes(c, docs):
    where = "kubernetes/dagd.yaml"
    objs = kinds(docs, where)
    sts = objs.get(("StatefulSet", "dagd"))
    svc = objs.get(("Service", "dagd"))
    # 9472 (the probes' port) is in neither Service: only the kubelet
    # needs it, and it dials the pod.
    for name in ("dagd", "dagd-headless"):
        svc = objs.get(("Service", name))
        if c.expect(svc, where, "no Service %s" % name):
            ports = {p["port"] for p in svc["spec"]["ports"]}
            targets = {p.get("targetPort") for p in svc["spec"]["ports"]}
            c.expect(ports == {DAGD_GRPC, DAGD_METRICS} and
                     not targets & {DAGD_HEALTHZ, "healthz"}, where,
                     "Service %s ports %s (to %s), want 7700 and 9470"
                     % (name, sorted(ports), sorted(map(str, targets))))
    if c.expect(sts, where, "no StatefulSet dagd"):
        spec = sts["spec"]
        c.expect(spec.get("replicas") == 1, where, "more than one coordinator")
        claims = {t["metadata"]["name"] for t in spec.get("volumeClaimTemplates", [])}
        pod = spec["template"]["spec"]
        k = container(pod, "dagd")
        check_dagd_args(c, where, k["args"])
        mounts = {m["name"]: m["mountPath"] for m in k.get("volumeMounts", [])}
        c.expect(any(mounts.get(n) == "/var/lib/dagd" for n in claims), where,
                 "no PVC (volumeClaimTemplates) mounted on /var/lib/dagd")
        # Where the probes go is check_health_checks's (every deployment);
        # here: a liveness probe exists, and Prometheus still finds
        # /metrics on 9470 over https.
        c.expect(k.get("livenessProbe"), where, "dagd has no livenessProbe")
        notes = spec["template"]["metadata"].get("annotations", {})
        c.expect(notes.get("prometheus.io/port") == str(DAGD_METRICS) and
                 notes.get("prometheus.io/scheme") == "https", where,
                 "the prometheus.io annotations do not say https on 9470")
        c.expect(pod.get("securityContext", {}).get("fsGroup"), where,
                 "no fsGroup: the non-root dagd cannot write its PVC")

    where = "kubernetes/dagd-worker.yaml"
    objs = kinds(docs, where)
    # A StatefulSet: each pod's name is that of its certificate.
    dep = objs.get(("StatefulSet", "dagd-worker"))
    if c.expect(dep, where, "no StatefulSet dagd-worker"):
        pod = dep["spec"]["template"]["spec"]
        grace = pod.get("terminationGracePeriodSeconds", 30)
        c.expect(grace == STOP_TIMEOUT_S, where, "terminationGracePeriodSeconds is not 60")
        k = container(pod, "dagd-worker")
        check_worker_args(c, where, k["args"], grace)
        for probe in ("readinessProbe", "livenessProbe"):
            c.expect(k.get(probe, {}).get("grpc", {}).get("port") == WORKER_HEALTH,
                     where, "%s is not a gRPC probe on 7701" % probe)
        env = {e["name"] for e in k.get("env", [])}
        for ref in re.findall(r"\$\(([A-Z_]+)\)", " ".join(k["args"])):
            c.expect(ref in env, where, "args use $(%s), which env does not set" % ref)
        labels = dep["spec"]["template"]["metadata"]["labels"]
        pdbs = [o for (kind, _), o in objs.items() if kind == "PodDisruptionBudget"]
        c.expect(any(all(labels.get(a) == b for a, b in
                         p["spec"]["selector"]["matchLabels"].items()) for p in pdbs),
                 where, "no PodDisruptionBudget selecting the worker pods")

    (kust,) = docs["kubernetes/kustomization.yaml"]
    for r in kust.get("resources", []):
        c.expect(os.path.exists(os.path.join(DEPLOY, "kubernetes", r)),
                 "kubernetes/kustomization.yaml", "resource %s does not exist" % r)


def check_ecs(c, docs):
    for rel, binary in (("ecs/dagd-task-definition.json", "dagd"),
                        ("ecs/dagd-worker-task-definition.json", "dagd-worker")):
        td = docs[rel]
        c.expect("FARGATE" in td.get("requiresCompatibilities", []), rel, "not for Fargate")
        c.expect(td.get("networkMode") == "awsvpc", rel, "Fargate needs networkMode awsvpc")
        (k,) = td["containerDefinitions"]
        hc = k.get("healthCheck", {})
        c.expect(hc.get("command") and "healthz" in " ".join(hc["command"]), rel,
                 "no /healthz healthCheck")
        stop = k.get("stopTimeout", 30)
        c.expect(stop == STOP_TIMEOUT_S, rel, "stopTimeout is not 60")
        args = " ".join(k.get("entryPoint", []) + k.get("command", []))
        if binary == "dagd":
            check_dagd_args(c, rel, k.get("command", []))
            c.expect(any(m["containerPath"] == "/var/lib/dagd" for m in k.get("mountPoints", [])),
                     rel, "no volume on /var/lib/dagd")
        else:
            check_worker_args(c, rel, args, stop)
            env = {e["name"]: e["value"] for e in k.get("environment", [])}
            c.expect("DAGD_COORDINATOR" in env, rel, "no DAGD_COORDINATOR in environment")
            c.expect(flag(args, "coordinator") == "$DAGD_COORDINATOR", rel,
                     "the command does not pass --coordinator=\"$DAGD_COORDINATOR\"")
            c.expect("/bin/sh" in k.get("entryPoint", []) and args.count("exec ") == 1,
                     rel, "the command must run through sh -c with exec (so "
                     "$DAGD_COORDINATOR expands and SIGTERM reaches the worker)")


def read_unit(path):
    p = configparser.ConfigParser(strict=False, interpolation=None,
                                  delimiters=("=",), comment_prefixes=("#", ";"))
    p.optionxform = str
    with open(path) as f:
        p.read_file(f)
    return p


def check_systemd(c):
    for unit, binary in (("dagd.service", "dagd"), ("dagd-worker.service", "dagd-worker")):
        where = "systemd/" + unit
        s = read_unit(os.path.join(DEPLOY, "systemd", unit))["Service"]
        c.expect(s.get("Restart") == "on-failure", where, "Restart is not on-failure")
        c.expect(s.get("KillSignal") == "SIGTERM", where, "KillSignal is not SIGTERM")
        c.expect(s.get("KillMode") == "mixed", where,
                 "KillMode is not mixed (SIGTERM must reach the main process only)")
        stop = duration_s(s.get("TimeoutStopSec", "90s"))
        c.expect(stop == STOP_TIMEOUT_S, where, "TimeoutStopSec is not 60s")
        c.expect(s.get("User") == "dagd", where, "User is not dagd")
        c.expect(s.get("NoNewPrivileges") == "yes", where, "no NoNewPrivileges")
        c.expect(s.get("ProtectSystem") == "strict", where, "ProtectSystem is not strict")
        exec_start = s.get("ExecStart", "")
        c.expect(exec_start.startswith("/usr/local/bin/%s " % binary), where,
                 "ExecStart does not run /usr/local/bin/%s" % binary)
        if binary == "dagd":
            c.expect(s.get("StateDirectory") == "dagd", where, "StateDirectory is not dagd")
            c.expect("--data_dir=/var/lib/dagd" in exec_start, where,
                     "--data_dir is not /var/lib/dagd")
            c.expect("/var/lib/dagd" in s.get("ReadWritePaths", ""), where,
                     "ReadWritePaths lacks /var/lib/dagd")
        else:
            check_worker_args(c, where, exec_start.replace(
                "${DAGD_WORKER_METRICS_LISTEN}", "0.0.0.0:9471").replace(
                "${DAGD_WORKER_HEALTH_LISTEN}", "0.0.0.0:7701"), stop)


def expect_file(c, p, flag, want, what):
    """--flag of process p is a path that holds repository file `want`."""
    value = p.flags().get(flag)
    if not c.expect(value, p.where, "no --%s (%s)" % (flag, what)):
        return
    got = p.files.get(value)
    c.expect(got == want, p.where, "--%s=%s holds %s, want %s (%s)"
             % (flag, value, got or "nothing the deployment mounts or writes", want, what))


def check_tls_target(c, t):
    certs = deploy_targets.certs_dir(t.make_certs)
    sans, names = deploy_targets.sans_and_workers(t.make_certs)
    tokens = [argv[1] for argv in t.make_tokens]
    c.expect(tokens, t.name, "documents no make-token.sh command")
    d = t.dagd
    for flag, name in deploy_targets.DAGD_FILES.items():
        want = tokens[0] if flag == "tokens_file" and tokens else certs + "/" + name
        expect_file(c, d, flag, want, "README \"Security\"")
    for p in [d] + t.workers:
        c.expect("insecure" not in p.flags(), p.where, "passes --insecure")
        c.expect(not any(src.endswith("ca.key") for src in p.files.values()), p.where,
                 "mounts the CA's key ca.key, which signs every certificate")
    seen = set()
    for w in t.workers:
        c.expect(w.name in names, w.where, "worker %r: the documented make-certs.sh makes "
                 "no certificate of that name (only %s)" % (w.name, names))
        c.expect(w.name not in seen, w.where, "worker name %r twice: dagd lets one worker "
                 "per certificate name connect" % w.name)
        seen.add(w.name)
        for flag, name in deploy_targets.WORKER_FILES.items():
            expect_file(c, w, flag, certs + "/" + name.format(worker=w.name),
                        "the worker's own certificate, checked by dagd's --worker_ca")
        host = (w.flags().get("coordinator") or ":").rsplit(":", 1)[0]
        c.expect(host in sans, w.where, "dials dagd as %r, which dagd's certificate does "
                 "not name (make-certs.sh --san: %s)" % (host, sorted(sans)))
    if t.prometheus:
        path, mounts = t.prometheus
        with open(path) as f:
            (job,) = [j for j in yaml.safe_load(f)["scrape_configs"] if j["job_name"] == "dagd"]
        where = os.path.relpath(path, DEPLOY)
        ca = job.get("tls_config", {}).get("ca_file")
        c.expect(job.get("scheme") == "https", where, "job dagd does not scrape over https")
        c.expect(mounts.get(ca) == certs + "/ca.crt", where, "job dagd's ca_file %s is not "
                 "the deployment's CA (%s)" % (ca, certs + "/ca.crt"))
        server = job.get("tls_config", {}).get("server_name")
        c.expect(server in sans, where, "job dagd's server_name %r is not a name of dagd's "
                 "certificate (%s)" % (server, sorted(sans)))


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def check_health_checks(c, t):
    """dagd's health checks go to its --healthz_listen port, plain http.

    9470 (civetweb) serves each connection on one of a fixed pool of
    threads, which clients that connect and never finish a request can all
    hold: a check there then times out and the orchestrator restarts (or
    takes out of service) a healthy dagd. --healthz_listen answers on a
    thread of its own that no client can hold, and says only up or down,
    so plain http.
    """
    d = t.dagd
    listen = d.flags().get("healthz_listen") or ""
    host, _, port = listen.rpartition(":")
    if not c.expect(port == str(DAGD_HEALTHZ), d.where, "--healthz_listen=%s is not on port "
                    "%d (the health checks' port)" % (listen, DAGD_HEALTHZ)):
        return
    # systemd has no health check of its own: its unit leaves the port to
    # the operator's checker.
    c.expect(d.probes or t.name == "systemd", d.where, "no health check of dagd")
    for probe in d.probes:
        if probe.kind == "grpc":
            c.expect(False, d.where, "%s is a gRPC probe on dagd's 7700, which speaks TLS "
                     "only (the kubelet's gRPC probe cannot)" % probe.what)
        elif probe.kind == "http-get":
            c.expect(probe.scheme.upper() == "HTTP" and str(probe.port) == port and
                     probe.path == "/healthz", d.where,
                     "%s is %s GET %s on %s, want HTTP GET /healthz on --healthz_listen's "
                     "%s (9470's threads can all be held by slow clients)"
                     % (probe.what, probe.scheme, probe.path, probe.port, port))
            # The kubelet dials the pod IP.
            c.expect(host not in LOOPBACK_HOSTS, d.where, "--healthz_listen=%s: the "
                     "kubelet's %s dials the pod IP, not loopback" % (listen, probe.what))
        else:
            text = " ".join(probe.argv)
            urls = re.findall(r"\bhttps?://\S+", text)
            want = "http://127.0.0.1:%s/healthz" % port
            c.expect(urls == [want], d.where, "%s asks %s, want %s (--healthz_listen, plain "
                     "http: 9470's threads can all be held by slow clients)"
                     % (probe.what, " ".join(urls) or "no URL", want))
            # Run inside the container: loopback is enough.
            c.expect(host in LOOPBACK_HOSTS + ("0.0.0.0", ""), d.where,
                     "--healthz_listen=%s: %s dials 127.0.0.1" % (listen, probe.what))


def selects(policy, labels):
    want = policy["spec"]["podSelector"].get("matchLabels", {})
    return all(labels.get(k) == v for k, v in want.items())


def allowed(policies, labels, port):
    """The `from` peers of every rule of `policies` selecting `labels` that
    opens `port`."""
    peers = []
    for p in policies:
        if selects(p, labels):
            for rule in p["spec"].get("ingress", []):
                if any(x.get("port") == port for x in rule.get("ports", [])):
                    peers += rule.get("from", [{"everywhere": True}])
    return peers


def opens(policy, port, name):
    """The ingress rules of `policy` that let someone reach `port` (by
    number or by the container port's name); a rule without ports opens
    every port."""
    return [rule for rule in policy["spec"].get("ingress", [])
            if "ports" not in rule or
            any(x.get("port") in (port, name) for x in rule["ports"])]


def check_network_policy(c, t):
    where = "kubernetes/network-policy.yaml"
    policies = [o for (kind, _), o in t.objects.items() if kind == "NetworkPolicy"]
    if not c.expect(policies, "kubernetes/kustomization.yaml", "no NetworkPolicy among the "
                    "resources: any pod of the cluster reaches dagd"):
        return
    pods = {name: t.objects[("StatefulSet", name)]["spec"]["template"]["metadata"]["labels"]
            for name in ("dagd", "dagd-worker")}
    for name, labels in pods.items():
        c.expect(any(selects(p, labels) and "Ingress" in p["spec"].get("policyTypes", [])
                     for p in policies), where, "no ingress policy selects the %s pods" % name)
    namespace = {"podSelector": {}}
    prometheus_peer = lambda peer: ("namespaceSelector" in peer and
                                    peer.get("podSelector", {}).get("matchLabels"))
    for pod, port, who in (("dagd", DAGD_GRPC, "namespace"), ("dagd", DAGD_METRICS, "both"),
                           ("dagd-worker", 7702, "dagd"), ("dagd-worker", WORKER_METRICS,
                                                            "prometheus")):
        peers = allowed(policies, pods[pod], port)
        c.expect(peers, where, "nothing may reach %s:%d" % (pod, port))
        for peer in peers:
            ok = (peer == namespace and who in ("namespace", "both") or
                  prometheus_peer(peer) and who in ("both", "prometheus") or
                  who == "dagd" and list(peer) == ["podSelector"] and
                  all(pods["dagd"].get(k) == v and pods["dagd-worker"].get(k) == v
                      for k, v in peer["podSelector"].get("matchLabels", {}).items()) and
                  peer["podSelector"].get("matchLabels"))
            c.expect(ok, where, "%s:%d is open to %s" % (pod, port, peer))
        if who in ("both", "prometheus"):
            c.expect(any(prometheus_peer(p) for p in peers), where,
                     "Prometheus may not reach %s:%d" % (pod, port))
    # dagd's probe port: the kubelet probes from the node, which
    # NetworkPolicy always lets reach its pods; no pod needs it.
    for p in policies:
        if selects(p, pods["dagd"]):
            for rule in opens(p, DAGD_HEALTHZ, "healthz"):
                c.expect(False, where, "policy %s lets %s reach dagd's %d (the probes' "
                         "port: the kubelet needs no rule, nothing else needs it)"
                         % (p["metadata"]["name"], rule.get("from", "everyone"),
                            DAGD_HEALTHZ))


def check_kubernetes_secrets(c, t):
    where = "kubernetes/kustomization.yaml"
    certs = deploy_targets.certs_dir(t.make_certs)
    tokens = {argv[1] for argv in t.make_tokens}
    used = set()
    for p in [t.dagd] + t.workers:
        used.update(p.files.values())
    for name, keys in t.secrets.items():
        for key, path in keys.items():
            c.expect(path.startswith(certs + "/") or path in tokens, where,
                     "Secret %s key %s comes from %s, which the documented commands do not "
                     "make" % (name, key, path))
            c.expect(not path.endswith("ca.key"), where, "Secret %s holds the CA's key" % name)
            c.expect(path in used, where, "Secret %s key %s is mounted by no pod" % (name, key))


def check_no_committed_secrets(c, targets):
    # The documented secrets directories may hold a deployment's real keys
    # (git ignores them, checked below); every other file is committed.
    ignored_dirs = tuple(os.path.join(REPO, deploy_targets.certs_dir(t.make_certs)) + os.sep
                         for t in targets)
    for path in glob.glob(os.path.join(DEPLOY, "**", "*"), recursive=True):
        if os.path.isfile(path) and not path.startswith(ignored_dirs):
            with open(path, "rb") as f:
                c.expect(b"PRIVATE KEY-----" not in f.read(), os.path.relpath(path, DEPLOY),
                         "holds a private key")
    with open(os.path.join(REPO, ".gitignore")) as f:
        ignored = {line.strip().rstrip("/") for line in f}
    for t in targets:
        certs = deploy_targets.certs_dir(t.make_certs)
        c.expect("/" + certs in ignored, ".gitignore", "does not keep %s (%s's certificates "
                 "and keys) out of git" % (certs, t.name))


def check_tls(c):
    targets = [deploy_targets.load(name) for name in deploy_targets.TARGETS]
    for t in targets:
        check_tls_target(c, t)
        check_health_checks(c, t)
    k8s = targets[deploy_targets.TARGETS.index("kubernetes")]
    check_network_policy(c, k8s)
    check_kubernetes_secrets(c, k8s)
    check_no_committed_secrets(c, targets)


def check_dashboard(c, docs):
    where = "grafana/dagd-dashboard.json"
    d = docs[where]
    c.expect(d.get("uid") and d.get("title"), where, "no uid or title")
    ids, exprs = set(), 0

    def walk(panels):
        nonlocal exprs
        for p in panels:
            c.expect(p.get("id") not in ids, where, "duplicate panel id %s" % p.get("id"))
            ids.add(p.get("id"))
            if p.get("type") != "row":
                c.expect(p.get("targets"), where, "panel %r has no query" % p.get("title"))
                exprs += len(p.get("targets", []))
            walk(p.get("panels", []))

    walk(d.get("panels", []))
    c.expect(exprs >= 10, where, "only %d queries" % exprs)


def check_quickstart(c):
    where = "quickstart.sh"
    with open(os.path.join(DEPLOY, where)) as f:
        script = f.read()
    builds = re.findall(r"^(.*)\./deploy/build\.sh", script, re.M)
    if not c.expect(len(builds) == 1, where,
                    "runs deploy/build.sh %d times, not once" % len(builds)):
        return
    m = re.search(r'TARGETS="([^"]*)"', builds[0])
    if not c.expect(m, where, "builds every target (no TARGETS=), the tests too"):
        return
    built = set(m.group(1).split())
    # dagd starts dagd-worker itself for --local_workers.
    ran = set(re.findall(r"\$BIN/([\w-]+)", script)) | {"dagd-worker"}
    c.expect(built == ran, where,
             "builds %s but runs %s" % (" ".join(sorted(built)), " ".join(sorted(ran))))


def main(argv):
    docs = parse_all()
    expected = {"docker/compose.yaml", "kubernetes/dagd.yaml", "kubernetes/dagd-worker.yaml",
                "ecs/dagd-task-definition.json", "ecs/dagd-worker-task-definition.json",
                "prometheus/prometheus.yml", "prometheus/rules/dagd-alerts.yml",
                "grafana/dagd-dashboard.json"}
    missing = expected - set(docs)
    if missing:
        raise Failure("missing under deploy/: %s" % ", ".join(sorted(missing)))
    c = Checker()
    check_compose(c, docs)
    check_kubernetes(c, docs)
    check_ecs(c, docs)
    check_systemd(c)
    check_dashboard(c, docs)
    check_quickstart(c)
    check_tls(c)
    if c.problems:
        raise Failure("%d problem(s):\n  %s" % (len(c.problems), "\n  ".join(c.problems)))
    print("parsed %d YAML/JSON files under deploy/" % len(docs))


if __name__ == "__main__":
    run_main(main)
