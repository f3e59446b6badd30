"""deploy.promtool_config / deploy.promtool_rules: Prometheus's own checker
accepts deploy/prometheus/.

Usage: promtool_test.py config   promtool check config on every prometheus*.yml
       promtool_test.py rules    promtool check rules on rules/*.yml, and
                                 promtool test rules tests/deploy/alerts_test.yml
"""

import glob
import os
import subprocess

from deploy_lib import DEPLOY, Failure, run_main

HERE = os.path.dirname(os.path.abspath(__file__))


def promtool(*args):
    try:
        r = subprocess.run(["promtool"] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
    except FileNotFoundError:
        raise Failure("promtool not found: install Debian's prometheus package "
                      "(deploy/install-deps.sh does)")
    out = r.stdout.decode("utf-8", "replace")
    print("$ promtool %s\n%s" % (" ".join(args), out))
    if r.returncode != 0:
        raise Failure("promtool %s failed:\n%s" % (" ".join(args), out))


def main(argv):
    what = argv[0] if argv else ""
    prom = os.path.join(DEPLOY, "prometheus")
    if what == "config":
        configs = sorted(glob.glob(os.path.join(prom, "prometheus*.yml")))
        if not configs:
            raise Failure("no deploy/prometheus/prometheus*.yml")
        for path in configs:
            promtool("check", "config", path)
    elif what == "rules":
        rules = sorted(glob.glob(os.path.join(prom, "rules", "*.yml")))
        if not rules:
            raise Failure("no deploy/prometheus/rules/*.yml")
        promtool("check", "rules", *rules)
        promtool("test", "rules", os.path.join(HERE, "alerts_test.yml"))
    else:
        raise Failure("usage: promtool_test.py config|rules")


if __name__ == "__main__":
    run_main(main)
