"""deploy.metrics_dagd / deploy.metrics_worker / deploy.healthz: what the
deployments scrape and probe, on the real binaries (127.0.0.1 only).

  dagd     `promtool check metrics` on a live dagd's /metrics, after a job ran
  worker   the same on a live dagd-worker's /metrics (its --metrics_listen);
           fails with a clear message while the worker has no such flag
  healthz  dagd's /healthz (and the worker's, once it serves metrics) answers
           200 "ok" while serving: the probe of compose, Kubernetes and ECS

Usage: live_metrics_test.py dagd|worker|healthz --dagd=BIN --worker=BIN
           --dagctl=BIN --examples=DIR
"""

import argparse
import os

from deploy_lib import (WORKER_METRICS_MISSING, Failure, Processes, deadline,
                        http_get, promtool_check_metrics, run_job, run_main,
                        start_dagd, start_plain_worker, start_worker,
                        worker_has_metrics)


def parse(argv):
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["dagd", "worker", "healthz"])
    p.add_argument("--dagd", required=True)
    p.add_argument("--worker", required=True)
    p.add_argument("--dagctl", required=True)
    p.add_argument("--examples", required=True)
    return p.parse_args(argv)


def check_healthz(metrics_url, what):
    url = metrics_url.rsplit("/", 1)[0] + "/healthz"
    status, body = http_get(url)
    if status != 200 or body.strip() != "ok":
        raise Failure("%s: GET %s answered %d %r; deployments probe it and expect "
                      "200 \"ok\" while serving" % (what, url, status, body[:200]))
    print("%s: %s answers 200 ok" % (what, url))


def main(argv):
    a = parse(argv)
    tiny = os.path.join(a.examples, "tiny.json")
    has_worker_metrics = worker_has_metrics(a.worker)
    if a.what == "worker" and not has_worker_metrics:
        raise Failure(WORKER_METRICS_MISSING)
    with deadline(60, "the test"), Processes() as procs:
        _, server, dagd_metrics = start_dagd(procs, a.dagd)
        worker_metrics = None
        if has_worker_metrics:
            _, worker_metrics = start_worker(procs, a.worker, server)
        else:
            start_plain_worker(procs, a.worker, server)
        run_job(a.dagctl, server, tiny)
        if a.what == "dagd":
            promtool_check_metrics(http_get(dagd_metrics)[1], "dagd's " + dagd_metrics)
            print("promtool check metrics: dagd's /metrics is clean")
        elif a.what == "worker":
            promtool_check_metrics(http_get(worker_metrics)[1],
                                   "dagd-worker's " + worker_metrics)
            print("promtool check metrics: dagd-worker's /metrics is clean")
        else:
            check_healthz(dagd_metrics, "dagd")
            if worker_metrics:
                check_healthz(worker_metrics, "dagd-worker")
            else:
                print("dagd-worker: no --metrics_listen yet, its /healthz is not checked")


if __name__ == "__main__":
    run_main(main)
