"""deploy.kustomize: `kubectl kustomize deploy/kubernetes` renders, after
the make-certs.sh and make-token.sh commands kustomization.yaml documents
have made the secrets' files (in a copy of the folder), and in the result
every Secret a pod mounts exists under its generated name (kustomize
renames them with a hash of their content), with the keys the pod reads.
Skipped (exit 77) where kubectl is not installed.

Usage: kustomize_test.py
"""

import os
import shutil
import subprocess
import sys
import tempfile

import yaml

import deploy_targets
from deploy_lib import DEPLOY, REPO, Failure, run_main

SKIP = 77


def pod_secret_refs(pod):
    """(secret name, [keys] or None) of every secret volume of a pod spec."""
    out = []
    for v in pod.get("volumes", []):
        if "secret" in v:
            out.append((v["secret"]["secretName"],
                        [i["key"] for i in v["secret"].get("items", [])] or None))
        for s in v.get("projected", {}).get("sources", []):
            if "secret" in s:
                out.append((s["secret"]["name"],
                            [i["key"] for i in s["secret"].get("items", [])] or None))
    return out


def main(argv):
    kubectl = shutil.which("kubectl")
    if not kubectl:
        print("SKIP: kubectl is not installed")
        sys.exit(SKIP)
    t = deploy_targets.load("kubernetes")
    tmp = tempfile.mkdtemp(prefix="dagd-kustomize-test.")
    try:
        tree = os.path.join(tmp, "deploy", "kubernetes")
        shutil.copytree(os.path.join(DEPLOY, "kubernetes"), tree,
                        ignore=shutil.ignore_patterns("secrets"))
        for cmd in [t.make_certs] + t.make_tokens:
            args = list(cmd[1:])
            i = -1 if "make-certs" in cmd[0] else 0
            args[i] = os.path.join(tmp, args[i])
            subprocess.run([os.path.join(REPO, cmd[0])] + args, check=True,
                           stdout=subprocess.DEVNULL, timeout=60)
        r = subprocess.run([kubectl, "kustomize", tree], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        out = r.stdout.decode()
        if r.returncode != 0:
            raise Failure("kubectl kustomize failed:\n%s" % out)
        docs = [d for d in yaml.safe_load_all(out) if d]
        secrets = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Secret"}
        problems, n = [], 0
        for d in docs:
            if d["kind"] not in ("StatefulSet", "Deployment"):
                continue
            for name, keys in pod_secret_refs(d["spec"]["template"]["spec"]):
                n += 1
                s = secrets.get(name)
                if s is None:
                    problems.append("%s mounts Secret %s, which is not rendered"
                                    % (d["metadata"]["name"], name))
                    continue
                missing = set(keys or []) - set(s.get("data", {}))
                if missing:
                    problems.append("Secret %s lacks %s" % (name, sorted(missing)))
        if problems or not n:
            raise Failure("rendered manifests: %s" % ("; ".join(problems) or "no Secret mounted"))
        print("kubectl kustomize: %d Secrets rendered, %d mounts resolve"
              % (len(secrets), n))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_main(main)
