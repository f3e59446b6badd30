"""deploy.files: every YAML and JSON file under deploy/ parses, and the compose
file, Kubernetes manifests, ECS task definitions, systemd units and Grafana
dashboard have the fields a deployment relies on (a structural check, not a
schema validation: nothing here talks to Docker, a cluster or AWS), and
quickstart.sh builds the binaries it runs and nothing else (not the tests).

Usage: files_test.py
"""

import configparser
import glob
import json
import os
import re

import yaml

from deploy_lib import DEPLOY, Failure, run_main

# What every deployment agrees on.
DAGD_GRPC, DAGD_METRICS = 7700, 9470
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
    for name in ("dagd", "dagd-worker", "prometheus"):
        c.expect(name in services, where, "no service %r" % name)
    dagd, worker = services.get("dagd", {}), services.get("dagd-worker", {})
    check_dagd_args(c, where + " dagd", dagd.get("command", []))
    c.expect(any(v.endswith(":/var/lib/dagd") for v in dagd.get("volumes", [])),
             where, "dagd has no volume on /var/lib/dagd")
    c.expect("healthcheck" in dagd and "healthz" in str(dagd["healthcheck"]),
             where, "dagd has no /healthz healthcheck")
    c.expect(worker.get("deploy", {}).get("replicas", 1) >= 2 or
             sum(1 for s in services if s.startswith("dagd-worker")) >= 2,
             where, "fewer than two workers")
    stop = duration_s(worker.get("stop_grace_period", "10s"))
    c.expect(stop == STOP_TIMEOUT_S, where, "worker stop_grace_period is not 60s")
    check_worker_args(c, where + " dagd-worker", worker.get("command", []), stop)
    c.expect(worker.get("depends_on", {}).get("dagd", {}).get("condition") ==
             "service_healthy", where, "workers do not wait for a healthy dagd")
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
    if c.expect(svc, where, "no Service dagd"):
        ports = {p["port"] for p in svc["spec"]["ports"]}
        c.expect(ports == {DAGD_GRPC, DAGD_METRICS}, where,
                 "Service dagd ports %s, want 7700 and 9470" % sorted(ports))
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
        probes = [k.get(p, {}) for p in ("readinessProbe", "livenessProbe", "startupProbe")]
        c.expect(any(p.get("grpc", {}).get("port") == DAGD_GRPC for p in probes), where,
                 "no gRPC probe on 7700")
        c.expect(any(p.get("httpGet", {}).get("path") == "/healthz" and
                     p["httpGet"].get("port") in (DAGD_METRICS, "metrics") for p in probes),
                 where, "no HTTP /healthz probe on 9470")
        c.expect(pod.get("securityContext", {}).get("fsGroup"), where,
                 "no fsGroup: the non-root dagd cannot write its PVC")

    where = "kubernetes/dagd-worker.yaml"
    objs = kinds(docs, where)
    dep = objs.get(("Deployment", "dagd-worker"))
    if c.expect(dep, where, "no Deployment dagd-worker"):
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
    if c.problems:
        raise Failure("%d problem(s):\n  %s" % (len(c.problems), "\n  ".join(c.problems)))
    print("parsed %d YAML/JSON files under deploy/" % len(docs))


if __name__ == "__main__":
    run_main(main)
