"""deploy.prometheus_e2e: a real Prometheus scrapes a real dagd and sees a job
finish. Everything listens on 127.0.0.1 only and is stopped at the end.

Starts dagd --local_workers=2 and Prometheus (scraping dagd's /metrics every
second, with deploy/prometheus/rules loaded), runs client/examples/tiny.json
(3 tasks) with `dagctl submit --wait`, then polls Prometheus's query API
until it reports the finished job and its tasks, and checks that the alert
rules loaded into the server.

Usage: prometheus_e2e_test.py --dagd=BIN --dagctl=BIN --examples=DIR
           [--prometheus=/usr/bin/prometheus]
"""

import argparse
import glob
import json
import os
import urllib.parse

import yaml

from deploy_lib import (DEPLOY, LOOPBACK, Failure, Processes, deadline,
                        exported_series_names, free_port, http_get, run_job,
                        run_main, start_dagd, try_http_get, wait_for)

TINY_TASKS = 3


def parse(argv):
    p = argparse.ArgumentParser()
    for name in ("dagd", "dagctl", "examples"):
        p.add_argument("--" + name, required=True)
    p.add_argument("--prometheus", default="/usr/bin/prometheus")
    return p.parse_args(argv)


def start_prometheus(procs, binary, metrics_target, rule_files):
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": rule_files,
        "scrape_configs": [{"job_name": "dagd",
                            "static_configs": [{"targets": [metrics_target]}]}],
    }
    config_path = procs.path("prometheus.yml")
    with open(config_path, "w") as f:
        yaml.safe_dump(config, f)
    port = free_port()
    p = procs.start("prometheus", [
        binary, "--config.file=" + config_path,
        "--storage.tsdb.path=" + procs.path("prometheus-data"),
        "--web.listen-address=%s:%d" % (LOOPBACK, port),
        "--log.level=warn"])
    base = "http://%s:%d" % (LOOPBACK, port)
    wait_for(lambda: procs.check_alive(p) or
             (try_http_get(base + "/-/ready") or (0,))[0] == 200,
             30, "Prometheus to be ready on " + base)
    return base


def query(base, expr):
    """The instant vector of `expr` as {frozenset(labels): float}."""
    status, body = http_get(base + "/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    if status != 200:
        raise Failure("query %r: HTTP %d: %s" % (expr, status, body[:300]))
    data = json.loads(body)["data"]
    return {frozenset(r["metric"].items()): float(r["value"][1]) for r in data["result"]}


def total(base, expr):
    v = query(base, expr)
    return sum(v.values()) if v else None


def main(argv):
    a = parse(argv)
    if not os.access(a.prometheus, os.X_OK):
        raise Failure("%s not found: install Debian's prometheus package "
                      "(deploy/install-deps.sh does)" % a.prometheus)
    rule_files = sorted(glob.glob(os.path.join(DEPLOY, "prometheus", "rules", "*.yml")))
    with deadline(90, "the test"), Processes() as procs:
        _, server, dagd_url = start_dagd(procs, a.dagd, local_workers=2)
        target = dagd_url.split("//", 1)[1].split("/", 1)[0]
        prom = start_prometheus(procs, a.prometheus, target, rule_files)
        wait_for(lambda: total(prom, 'up{job="dagd"}') == 1, 20,
                 "Prometheus to scrape dagd (up{job=\"dagd\"} == 1)")

        job = run_job(a.dagctl, server, os.path.join(a.examples, "tiny.json"))
        print("job %s finished" % job)

        wait_for(lambda: total(prom, 'dagd_jobs_finished_total{state="succeeded"}') == 1,
                 20, "Prometheus to report dagd_jobs_finished_total{state=\"succeeded\"} == 1")
        print("Prometheus: dagd_jobs_finished_total{state=\"succeeded\"} == 1")
        if "dagd_tasks_finished_total" in exported_series_names(http_get(dagd_url)[1]):
            wait_for(lambda: total(prom, 'dagd_tasks_finished_total{state="succeeded"}')
                     == TINY_TASKS, 20,
                     "dagd_tasks_finished_total{state=\"succeeded\"} == %d" % TINY_TASKS)
            print("Prometheus: dagd_tasks_finished_total{state=\"succeeded\"} == %d" % TINY_TASKS)
        else:
            # Without the counter, the job's tasks have left the dagd_tasks
            # gauge (which counts tasks of unfinished jobs): all states at 0.
            states = wait_for(lambda: query(prom, "dagd_tasks"), 20, "dagd_tasks in Prometheus")
            if any(states.values()):
                raise Failure("dagd_tasks is not 0 after the only job finished: %s" % states)
            print("Prometheus: dagd_tasks has %d states, all 0 (no dagd_tasks_finished_total yet)"
                  % len(states))
        if total(prom, "dagd_jobs_submitted_total") != 1:
            raise Failure("dagd_jobs_submitted_total is not 1")

        want = set()
        for path in rule_files:
            with open(path) as f:
                for g in yaml.safe_load(f)["groups"]:
                    want.update(r["alert"] for r in g["rules"] if "alert" in r)
        rules = json.loads(http_get(prom + "/api/v1/rules")[1])["data"]["groups"]
        loaded = {r["name"] for g in rules for r in g["rules"]}
        if want - loaded:
            raise Failure("alerts not loaded by Prometheus: %s" % sorted(want - loaded))
        print("Prometheus loaded the %d alerts of deploy/prometheus/rules" % len(want))


if __name__ == "__main__":
    run_main(main)
