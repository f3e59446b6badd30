"""How each deployment under deploy/ starts dagd and its workers, read from
the deployment's own files, for files_test.py (static) and
tls_deploy_test.py (live).

A Target is one deployment: the processes it starts (a Process each: the
argument list as the deployment gives it, with its environment expanded;
the files it mounts or writes, by path inside the container, each traced
back to the file made by deploy/tls/make-certs.sh or make-token.sh that it
holds; its health checks), the make-certs.sh and make-token.sh command
lines it documents, and where Prometheus scrapes dagd.

Files are named by their path in the repository as the documented commands
make them (deploy/kubernetes/secrets/dagd.crt), so a test that runs those
commands into a temporary copy of the tree finds every one where the
deployment says it is, or fails naming it.
"""

import json
import os
import re
import shlex

import yaml

from deploy_lib import DEPLOY, REPO, Failure

TARGETS = ("kubernetes", "compose", "ecs", "systemd", "images")

# What each flag must be given, by the basename of the file make-certs.sh
# or make-token.sh made ({worker}: the worker's name).
DAGD_FILES = {"tls_cert": "dagd.crt", "tls_key": "dagd.key", "worker_ca": "ca.crt",
              "tokens_file": "tokens"}
WORKER_FILES = {"tls_ca": "ca.crt", "tls_cert": "workers/{worker}.crt",
                "tls_key": "workers/{worker}.key"}


class Probe:
    """One health check as the deployment runs it.

    kind: "http-get" (scheme, port, path; the kubelet's, which does not
    verify certificates), "grpc" (port: grpc.health.v1), "command" (argv,
    run inside the container).
    """

    def __init__(self, kind, **kw):
        self.kind = kind
        self.__dict__.update(kw)


class Process:
    """dagd or one worker, as a deployment starts it."""

    def __init__(self, role, name, where):
        self.role = role          # "dagd" or "worker"
        self.name = name          # "dagd", or the worker's name
        self.where = where        # for messages: file and object
        self.argv = []            # binary, then arguments, environment expanded
        self.files = {}           # container path -> repository path of its content
        self.prelude = None       # shell run before `exec argv` (ECS), or None
        self.prelude_dirs = []    # container directories the prelude writes into
        self.env = {}             # variables the prelude reads: name -> repo path
        self.probes = []

    def flags(self):
        """{name: value} of the --name=value arguments."""
        out = {}
        for a in self.argv[1:]:
            m = re.match(r"--([A-Za-z0-9_]+)(?:=(.*))?$", a)
            if m:
                out[m.group(1)] = m.group(2)
        return out


class Target:
    def __init__(self, name):
        self.name = name
        self.dagd = None
        self.workers = []
        self.make_certs = None    # argv of the documented make-certs.sh
        self.make_tokens = []     # argv of each documented make-token.sh
        self.prometheus = None    # (config path, {container path: repo path})


def documented_commands(path):
    """argv of the make-certs.sh and make-token.sh lines in `path`'s text."""
    with open(path) as f:
        text = f.read()
    certs, tokens = None, []
    for line in text.splitlines():
        line = re.sub(r"^\s*#\s*", "", line).strip()
        m = re.search(r"(deploy/tls/make-(certs|token)\.sh\s.*?)\)?$", line)
        if not m or "usage" in line.lower():
            continue
        argv = shlex.split(m.group(1))
        if m.group(2) == "certs":
            if certs is None:
                certs = argv
        else:
            tokens.append(argv)
    if certs is None:
        raise Failure("%s documents no deploy/tls/make-certs.sh command" % path)
    return certs, tokens


def sans_and_workers(make_certs):
    """(DNS names and IPs, worker names) of a make-certs.sh argv."""
    sans, workers = {"localhost", "127.0.0.1"}, []
    args = make_certs[1:]
    for i, a in enumerate(args):
        if a in ("--san", "--worker") and i + 1 < len(args):
            (sans.add if a == "--san" else workers.append)(args[i + 1])
        elif a.startswith("--san="):
            sans.add(a[6:])
        elif a.startswith("--worker="):
            workers.append(a[9:])
    return sans, workers


def certs_dir(make_certs):
    return make_certs[-1]


def rel(path):
    return os.path.relpath(os.path.normpath(path), REPO)


# ---- Kubernetes ----

def load_yaml_docs(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def k8s_generated_secrets(kdir, kust):
    """{secret name: {key: repository path}} of the secretGenerator."""
    out = {}
    for g in kust.get("secretGenerator", []):
        keys = {}
        for spec in g.get("files", []):
            key, _, path = spec.partition("=")
            if not path:
                key, path = os.path.basename(spec), spec
            keys[key] = rel(os.path.join(kdir, path))
        out[g["name"]] = keys
    return out


def k8s_volume_files(volume, secrets):
    """{path inside the volume: repository path} of a secret or projected
    volume, or None for another kind."""
    sources = []
    if "secret" in volume:
        sources.append((volume["secret"]["secretName"], volume["secret"].get("items")))
    elif "projected" in volume:
        for s in volume["projected"]["sources"]:
            if "secret" in s:
                sources.append((s["secret"]["name"], s["secret"].get("items")))
    else:
        return None
    out = {}
    for name, items in sources:
        if name not in secrets:
            raise Failure("Secret %r is mounted but kustomization.yaml's secretGenerator "
                          "does not make it" % name)
        keys = secrets[name]
        for item in items or [{"key": k, "path": k} for k in keys]:
            if item["key"] not in keys:
                raise Failure("Secret %r has no key %r" % (name, item["key"]))
            out[item["path"]] = keys[item["key"]]
    return out


def k8s_env(container, pod_name):
    """The container's env as the kubelet sets it for pod `pod_name` (its IP
    taken as 127.0.0.1)."""
    env = {}
    for e in container.get("env", []):
        if "value" in e:
            env[e["name"]] = str(e["value"])
            continue
        src = e.get("valueFrom", {})
        field = src.get("fieldRef", {}).get("fieldPath")
        res = src.get("resourceFieldRef")
        if field == "metadata.name":
            env[e["name"]] = pod_name
        elif field == "status.podIP":
            env[e["name"]] = "127.0.0.1"
        elif res:
            limit = container["resources"]["limits"][res["resource"].split(".", 1)[1]]
            env[e["name"]] = str(int(limit))
        else:
            raise Failure("env %s: cannot resolve %s" % (e["name"], src))
    return env


def k8s_expand(text, env):
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m.group(1), m.group(0)),
                  text)


def k8s_process(role, name, where, container, pod, secrets, binary):
    p = Process(role, name, where)
    env = k8s_env(container, name)
    p.argv = [binary] + [k8s_expand(a, env) for a in container.get("args", [])]
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for m in container.get("volumeMounts", []):
        if m["name"] not in volumes:
            continue  # a volumeClaimTemplate's claim
        files = k8s_volume_files(volumes[m["name"]], secrets)
        if files is None:
            continue
        if not m.get("readOnly"):
            raise Failure("%s: volume %s holds secrets but is not mounted readOnly"
                          % (where, m["name"]))
        sub = m.get("subPath") or (k8s_expand(m["subPathExpr"], env)
                                   if "subPathExpr" in m else None)
        if sub is not None:
            if sub not in files:
                raise Failure("%s: %s mounts %r of volume %s, which has only %s"
                              % (where, m["mountPath"], sub, m["name"], sorted(files)))
            p.files[m["mountPath"]] = files[sub]
        else:
            for path, source in files.items():
                p.files[m["mountPath"].rstrip("/") + "/" + path] = source
    ports = {pt["name"]: pt["containerPort"] for pt in container.get("ports", [])}
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        probe = container.get(kind)
        if not probe:
            continue
        if "httpGet" in probe:
            g = probe["httpGet"]
            p.probes.append(Probe("http-get", what=kind, scheme=g.get("scheme", "HTTP"),
                                  port=ports.get(g["port"], g["port"]), path=g["path"]))
        elif "grpc" in probe:
            p.probes.append(Probe("grpc", what=kind, port=probe["grpc"]["port"]))
        else:
            raise Failure("%s: %s is neither httpGet nor grpc" % (where, kind))
    return p


def kubernetes():
    t = Target("kubernetes")
    kdir = os.path.join(DEPLOY, "kubernetes")
    kust_path = os.path.join(kdir, "kustomization.yaml")
    (kust,) = load_yaml_docs(kust_path)
    t.make_certs, t.make_tokens = documented_commands(kust_path)
    secrets = k8s_generated_secrets(kdir, kust)
    objs = {}
    for r in kust["resources"]:
        for d in load_yaml_docs(os.path.join(kdir, r)):
            objs[(d["kind"], d["metadata"]["name"])] = d
    t.objects = objs
    t.secrets = secrets
    sts = objs[("StatefulSet", "dagd")]
    pod = sts["spec"]["template"]["spec"]
    t.dagd = k8s_process("dagd", "dagd", "kubernetes/dagd.yaml StatefulSet dagd",
                         pod["containers"][0], pod, secrets, "dagd")
    ws = objs[("StatefulSet", "dagd-worker")]
    pod = ws["spec"]["template"]["spec"]
    for i in range(ws["spec"]["replicas"]):
        name = "dagd-worker-%d" % i
        t.workers.append(k8s_process(
            "worker", name, "kubernetes/dagd-worker.yaml StatefulSet dagd-worker pod " + name,
            pod["containers"][0], pod, secrets, "dagd-worker"))
    # Prometheus runs elsewhere: its copy of the Secret dagd-ca is mounted
    # at /etc/prometheus/dagd-ca/ (prometheus-kubernetes.yml's header).
    t.prometheus = (os.path.join(DEPLOY, "prometheus", "prometheus-kubernetes.yml"),
                    {"/etc/prometheus/dagd-ca/ca.crt": secrets["dagd-ca"]["ca.crt"]})
    return t


# ---- Docker: compose and the images' own CMD ----

def compose_doc():
    path = os.path.join(DEPLOY, "docker", "compose.yaml")
    (doc,) = load_yaml_docs(path)
    return path, doc


def compose_secret_files(doc, service):
    """{container path: repository path} of a compose service's secrets."""
    ddir = os.path.join(DEPLOY, "docker")
    out = {}
    for s in service.get("secrets", []):
        if isinstance(s, str):
            source = target = s
        else:
            source, target = s["source"], s.get("target", s["source"])
        path = target if target.startswith("/") else "/run/secrets/" + target
        out[path] = rel(os.path.join(ddir, doc["secrets"][source]["file"]))
    return out


def command_probe(test, what):
    if not test or test[0] not in ("CMD", "CMD-SHELL"):
        raise Failure("%s: healthcheck %r is not [\"CMD\", ...]" % (what, test))
    argv = test[1:] if test[0] == "CMD" else shlex.split(test[1])
    if "||" in argv:  # a Dockerfile's `CMD curl ... || exit 1`
        argv = argv[:argv.index("||")]
    return Probe("command", what=what, argv=argv)


def compose():
    t = Target("compose")
    path, doc = compose_doc()
    t.make_certs, t.make_tokens = documented_commands(path)
    services = doc["services"]
    d = services["dagd"]
    t.dagd = Process("dagd", "dagd", "docker/compose.yaml service dagd")
    t.dagd.argv = ["dagd"] + d["command"]
    t.dagd.files = compose_secret_files(doc, d)
    t.dagd.probes.append(command_probe(d["healthcheck"]["test"], "dagd healthcheck"))
    for name in sorted(services):
        if not name.startswith("dagd-worker"):
            continue
        s = services[name]
        files = compose_secret_files(doc, s)
        cert = files.get(dict(flag_values(s["command"])).get("tls_cert", ""), "")
        worker = os.path.splitext(os.path.basename(cert))[0] or name
        p = Process("worker", worker, "docker/compose.yaml service " + name)
        p.argv = ["dagd-worker"] + s["command"]
        p.files = files
        p.probes.append(command_probe(s["healthcheck"]["test"], name + " healthcheck"))
        t.workers.append(p)
    t.prometheus = (os.path.join(DEPLOY, "prometheus", "prometheus.yml"),
                    compose_secret_files(doc, services["prometheus"]))
    return t


def dockerfile_runtime(name):
    with open(os.path.join(DEPLOY, "docker", name)) as f:
        text = f.read().replace("\\\n", " ")
    cmd = re.search(r"^CMD\s+(\[.*\])\s*$", text, re.M)
    health = re.search(r"^HEALTHCHECK\s.*?\bCMD\s+(.*)$", text, re.M)
    if not cmd or not health:
        raise Failure("%s has no exec-form CMD or no HEALTHCHECK CMD" % name)
    return json.loads(cmd.group(1)), shlex.split(health.group(1))


def images():
    """The images run with their own CMD and the files compose.yaml mounts
    (the Dockerfiles say to mount them as compose does)."""
    t = Target("images")
    path, doc = compose_doc()
    t.make_certs, t.make_tokens = documented_commands(path)
    services = doc["services"]
    cmd, health = dockerfile_runtime("dagd.Dockerfile")
    t.dagd = Process("dagd", "dagd", "docker/dagd.Dockerfile CMD")
    t.dagd.argv = ["dagd"] + cmd
    t.dagd.files = compose_secret_files(doc, services["dagd"])
    t.dagd.probes.append(command_probe(["CMD"] + health, "dagd.Dockerfile HEALTHCHECK"))
    cmd, health = dockerfile_runtime("dagd-worker.Dockerfile")
    first = sorted(s for s in services if s.startswith("dagd-worker"))[0]
    files = compose_secret_files(doc, services[first])
    cert = files.get(dict(flag_values(cmd)).get("tls_cert", ""), "")
    p = Process("worker", os.path.splitext(os.path.basename(cert))[0] or first,
                "docker/dagd-worker.Dockerfile CMD")
    p.argv = ["dagd-worker"] + cmd
    p.files = files
    p.probes.append(command_probe(["CMD"] + health, "dagd-worker.Dockerfile HEALTHCHECK"))
    t.workers.append(p)
    return t


def flag_values(args):
    out = []
    for a in args:
        m = re.match(r"--([A-Za-z0-9_]+)=(.*)$", a)
        if m:
            out.append((m.group(1), m.group(2)))
    return out


# ---- ECS ----

ECS_PARAMETER = re.compile(r"^arn:aws:ssm:[^:]+:[^:]+:parameter(/dagd/.+)$")
# The parameters hold the files of deploy/ecs/secrets/ (README "Deploying":
# parameter /dagd/PATH is the file deploy/ecs/secrets/PATH).
ECS_SECRETS_DIR = "deploy/ecs/secrets"


def ecs_process(role, where, k, binary):
    """The container's `sh -c` script: a prelude writing the secrets to
    files, then `exec binary ...`."""
    p = Process(role, None, where)
    (script,) = k["command"]
    head, sep, tail = script.partition("exec ")
    if not sep or k.get("entryPoint", [])[-2:] != ["/bin/sh", "-c"]:
        raise Failure("%s: the command is not a `sh -c` script ending in exec" % where)
    p.prelude = head.rstrip().rstrip("&").rstrip()
    env = {e["name"]: e["value"] for e in k.get("environment", [])}
    argv = shlex.split(tail)
    p.argv = [re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?",
                     lambda m: env.get(m.group(1), m.group(0)), a) for a in argv]
    if os.path.basename(p.argv[0]) != binary:
        raise Failure("%s: execs %s, not %s" % (where, p.argv[0], binary))
    for s in k.get("secrets", []):
        m = ECS_PARAMETER.match(s["valueFrom"])
        if not m:
            raise Failure("%s: secret %s is not an SSM parameter under /dagd/: %s"
                          % (where, s["name"], s["valueFrom"]))
        p.env[s["name"]] = ECS_SECRETS_DIR + m.group(1)[len("/dagd"):]
    # printf '%s\n' "$VAR" > PATH: PATH holds the parameter's file.
    for var, path in re.findall(r"printf '%s\\n' \"\$([A-Za-z_]+)\" > (\S+)", p.prelude):
        if var not in p.env:
            raise Failure("%s: the command writes $%s, which is no secret" % (where, var))
        p.files[path] = p.env[var]
        p.prelude_dirs.append(os.path.dirname(path))
    p.prelude_dirs = sorted(set(p.prelude_dirs))
    mounted = {m["containerPath"] for m in k.get("mountPoints", [])}
    for d in p.prelude_dirs:
        if d not in mounted:
            raise Failure("%s: writes to %s, on no volume (the root file system is "
                          "read-only)" % (where, d))
    p.probes.append(command_probe(k["healthCheck"]["command"], where + " healthCheck"))
    return p


def ecs():
    t = Target("ecs")
    edir = os.path.join(DEPLOY, "ecs")
    t.make_certs, t.make_tokens = documented_commands(os.path.join(edir, "README.md"))
    with open(os.path.join(edir, "dagd-task-definition.json")) as f:
        (k,) = json.load(f)["containerDefinitions"]
    t.dagd = ecs_process("dagd", "ecs/dagd-task-definition.json", k, "dagd")
    t.dagd.name = "dagd"
    with open(os.path.join(edir, "dagd-worker-task-definition.json")) as f:
        td = json.load(f)
    (k,) = td["containerDefinitions"]
    p = ecs_process("worker", "ecs/dagd-worker-task-definition.json", k, "dagd-worker")
    cert = p.files.get(p.flags().get("tls_cert", ""), "")
    p.name = os.path.splitext(os.path.basename(cert))[0]
    t.workers.append(p)
    return t


# ---- systemd ----

# Where the units read their credentials, and which file of make-certs.sh's
# directory goes there (README "Deploying", systemd).
SYSTEMD_SECRETS_DIR = "deploy/systemd/secrets"
SYSTEMD_WORKER = "worker-1"
SYSTEMD_FILES = {
    "/etc/dagd/ca.crt": "ca.crt",
    "/etc/dagd/dagd.crt": "dagd.crt",
    "/etc/dagd/dagd.key": "dagd.key",
    "/etc/dagd/tokens": "tokens",
    "/etc/dagd/worker.crt": "workers/%s.crt" % SYSTEMD_WORKER,
    "/etc/dagd/worker.key": "workers/%s.key" % SYSTEMD_WORKER,
}


def systemd_exec_start(path):
    """ExecStart of a unit with ${VAR} and $VAR expanded from its
    Environment= lines, split as systemd does."""
    env, exec_start = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("Environment="):
                k, _, v = line[len("Environment="):].partition("=")
                env[k] = v
            elif line.startswith("ExecStart="):
                exec_start = line[len("ExecStart="):]
    if exec_start is None:
        raise Failure("%s has no ExecStart" % path)
    words = []
    for w in shlex.split(exec_start):
        m = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", w)
        if m:  # $VAR: split into words, nothing when empty
            words += env.get(m.group(1), "").split()
        else:
            words.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}",
                                lambda m: env.get(m.group(1), ""), w))
    return words


def systemd():
    t = Target("systemd")
    sdir = os.path.join(DEPLOY, "systemd")
    t.make_certs = ["deploy/tls/make-certs.sh", "--worker", SYSTEMD_WORKER,
                    SYSTEMD_SECRETS_DIR]
    t.make_tokens = [["deploy/tls/make-token.sh", SYSTEMD_SECRETS_DIR + "/tokens",
                      "default", "admin", "operator"]]
    files = {k: SYSTEMD_SECRETS_DIR + "/" + v for k, v in SYSTEMD_FILES.items()}
    for unit, role, name in (("dagd.service", "dagd", "dagd"),
                             ("dagd-worker.service", "worker", SYSTEMD_WORKER)):
        p = Process(role, name, "systemd/" + unit)
        p.argv = systemd_exec_start(os.path.join(sdir, unit))
        p.files = dict(files)
        if role == "dagd":
            t.dagd = p
        else:
            t.workers.append(p)
    return t


def load(name):
    return {"kubernetes": kubernetes, "compose": compose, "ecs": ecs,
            "systemd": systemd, "images": images}[name]()
