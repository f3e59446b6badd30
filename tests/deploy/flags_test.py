"""deploy.flags: every flag that deploy/ passes to dagd or dagd-worker
(Dockerfile CMD, compose commands, Kubernetes args, ECS commands, systemd
ExecStart) is one the binary accepts, per its --helpfull. A deployment with
an unknown flag would not start. And every flag of dagd's and
dagd-worker's own (those their main.cc defines) is documented in the
README as `--name`.

Usage: flags_test.py --dagd=BIN --worker=BIN
"""

import argparse
import json
import os
import re

import yaml

from deploy_lib import DEPLOY, REPO, Failure, flags_of, helpfull, run_main


def parse(argv):
    p = argparse.ArgumentParser()
    p.add_argument("--dagd", required=True)
    p.add_argument("--worker", required=True)
    return p.parse_args(argv)


def flag_names(args):
    text = " ".join(args) if isinstance(args, list) else args
    return re.findall(r"(?:^|[\s\"'])--([A-Za-z0-9_]+)", text)


def dockerfile_cmd(path):
    with open(path) as f:
        text = f.read().replace("\\\n", " ")
    m = re.search(r"^CMD\s+(\[.*\])\s*$", text, re.M)
    if not m:
        raise Failure("%s has no exec-form CMD" % path)
    return json.loads(m.group(1))


def systemd_exec_start(path):
    with open(path) as f:
        for line in f:
            if line.startswith("ExecStart="):
                return line[len("ExecStart="):].strip()
    raise Failure("%s has no ExecStart" % path)


def uses():
    """[(where, binary, [flag names])] over deploy/."""
    out = []
    d = DEPLOY
    for name, binary in (("dagd", "dagd"), ("dagd-worker", "dagd-worker")):
        out.append(("docker/%s.Dockerfile CMD" % name, binary,
                    flag_names(dockerfile_cmd(os.path.join(d, "docker", name + ".Dockerfile")))))
        out.append(("systemd/%s.service ExecStart" % name, binary,
                    flag_names(systemd_exec_start(os.path.join(d, "systemd", name + ".service")))))
        with open(os.path.join(d, "ecs", name + "-task-definition.json")) as f:
            (k,) = json.load(f)["containerDefinitions"]
        out.append(("ecs/%s-task-definition.json" % name, binary, flag_names(k["command"])))
    with open(os.path.join(d, "docker", "compose.yaml")) as f:
        for svc, s in yaml.safe_load(f)["services"].items():
            if svc == "dagd" or svc.startswith("dagd-worker"):
                binary = "dagd" if svc == "dagd" else "dagd-worker"
                out.append(("docker/compose.yaml service %s" % svc, binary,
                            flag_names(s.get("command", []))))
    for manifest in ("dagd.yaml", "dagd-worker.yaml"):
        with open(os.path.join(d, "kubernetes", manifest)) as f:
            for doc in yaml.safe_load_all(f):
                if doc and doc["kind"] in ("StatefulSet", "Deployment"):
                    for k in doc["spec"]["template"]["spec"]["containers"]:
                        out.append(("kubernetes/%s container %s" % (manifest, k["name"]),
                                    k["name"], flag_names(k.get("args", []))))
    return out


def own_flags(binary):
    """The flags `binary`'s main.cc defines, from --helpfull's section of
    that file (the libraries' flags, absl's own, are in other sections)."""
    names, mine = set(), False
    for line in helpfull(binary).splitlines():
        header = re.match(r"^\s*Flags from (\S+):", line)
        if header:
            mine = header.group(1).endswith("main.cc")
        elif mine:
            names.update(re.findall(r"^\s+--([A-Za-z0-9_]+) \(", line))
    return names


def undocumented(binaries):
    """["binary --flag"] of own flags the README never names."""
    with open(os.path.join(REPO, "README.md")) as f:
        readme = f.read()
    missing = []
    for binary, path in binaries.items():
        flags = own_flags(path)
        if not flags:
            raise Failure("found no flags of %s's main.cc in --helpfull" % binary)
        missing += ["%s --%s" % (binary, n) for n in sorted(flags)
                    if "`--%s`" % n not in readme]
    return missing


def main(argv):
    a = parse(argv)
    known = {"dagd": flags_of(a.dagd), "dagd-worker": flags_of(a.worker)}
    for binary, flags in known.items():
        if not flags:
            raise Failure("could not read the flags of %s from --helpfull" % binary)
    problems, unknown = [], set()
    n = 0
    for where, binary, names in uses():
        if not names:
            problems.append("%s: passes no flag to %s" % (where, binary))
        for name in names:
            n += 1
            if name not in known[binary]:
                unknown.add((binary, name))
                problems.append("%s: %s has no flag --%s" % (where, binary, name))
    if problems:
        summary = ", ".join("%s --%s" % u for u in sorted(unknown))
        raise Failure("%d problem(s) (unknown: %s):\n  %s" % (
            len(problems), summary or "none", "\n  ".join(problems)))
    print("%d flag uses, all accepted" % n)
    missing = undocumented({"dagd": a.dagd, "dagd-worker": a.worker})
    if missing:
        raise Failure("flags the README does not document (as `--name`): %s"
                      % ", ".join(missing))
    print("every flag of dagd and dagd-worker is in the README")


if __name__ == "__main__":
    run_main(main)
