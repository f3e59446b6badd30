"""deploy.systemd: `systemd-analyze verify` accepts deploy/systemd/*.service
without a warning (unknown keys, keys in the wrong section, bad values).
ExecStart is pointed at the built binaries, since verify checks that the
executable exists. Skipped (exit 77) where systemd-analyze is not installed.

Usage: systemd_test.py --dagd=BIN --worker=BIN
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

from deploy_lib import DEPLOY, Failure, run_main

SKIP = 77


def main(argv):
    p = argparse.ArgumentParser()
    p.add_argument("--dagd", required=True)
    p.add_argument("--worker", required=True)
    a = p.parse_args(argv)
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        print("SKIP: systemd-analyze is not installed")
        sys.exit(SKIP)
    bins = {"dagd": a.dagd, "dagd-worker": a.worker}
    tmp = tempfile.mkdtemp(prefix="dagd-systemd-test.")
    try:
        units = []
        for name, binary in bins.items():
            with open(os.path.join(DEPLOY, "systemd", name + ".service")) as f:
                text = f.read()
            target = "/usr/local/bin/%s " % name
            if target not in text:
                raise Failure("%s.service does not run %s" % (name, target.strip()))
            unit = os.path.join(tmp, name + ".service")
            with open(unit, "w") as f:
                f.write(text.replace(target, os.path.abspath(binary) + " "))
            units.append(unit)
        r = subprocess.run([analyze, "verify", "--man=no"] + units, cwd=tmp,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        out = r.stdout.decode("utf-8", "replace").strip()
        if r.returncode != 0 or out:
            raise Failure("systemd-analyze verify (exit %d):\n%s" % (r.returncode, out))
        print("systemd-analyze verify: %s clean" % ", ".join(bins))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_main(main)
