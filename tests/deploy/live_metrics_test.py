"""deploy.metrics_dagd / deploy.metrics_worker / deploy.healthz: what the
deployments scrape and probe, on the real binaries (127.0.0.1 only).

  dagd     `promtool check metrics` on a live dagd's /metrics, after a job ran
  worker   the same on a live dagd-worker's /metrics (its --metrics_listen)
  healthz  dagd's and the worker's /healthz answer 200 "ok" while serving:
           the probe of compose, Kubernetes and ECS

Usage: live_metrics_test.py dagd|worker|healthz --dagd=BIN --worker=BIN
           --dagctl=BIN --examples=DIR
"""

import argparse

from deploy_lib import (Failure, Processes, deadline, http_get,
                        live_dagd_and_worker, promtool_check_metrics, run_main)


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
    with deadline(60, "the test"), Processes() as procs:
        dagd_metrics, worker_metrics = live_dagd_and_worker(procs, a)
        if a.what == "dagd":
            promtool_check_metrics(http_get(dagd_metrics)[1], "dagd's " + dagd_metrics)
            print("promtool check metrics: dagd's /metrics is clean")
        elif a.what == "worker":
            promtool_check_metrics(http_get(worker_metrics)[1],
                                   "dagd-worker's " + worker_metrics)
            print("promtool check metrics: dagd-worker's /metrics is clean")
        else:
            check_healthz(dagd_metrics, "dagd")
            check_healthz(worker_metrics, "dagd-worker")


if __name__ == "__main__":
    run_main(main)
